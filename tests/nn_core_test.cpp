// WASI-NN core: preload specs as WasmEdge users write them, errno mapping, handle tables.
#include <set>
#include <thread>

#include "nn/handle_table.h"
#include "nn/preload.h"
#include "nn/types.h"
#include "test_util.h"

namespace nnb::nn {
namespace {

TEST(Preload, ParsesWasmEdgeSpecs) {
  auto p = parse_preload("default:GGML:AUTO:llama-2-7b-chat-q5_k_m.gguf");
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.encoding, GraphEncoding::GGML);
  EXPECT_EQ(p.target, ExecutionTarget::AUTO);
  EXPECT_EQ(p.path, "llama-2-7b-chat-q5_k_m.gguf");
  p = parse_preload("m:ggml:cpu:/models/a:b.gguf");  // case-insensitive; the path keeps its colons
  EXPECT_EQ(p.target, ExecutionTarget::CPU);
  EXPECT_EQ(p.path, "/models/a:b.gguf");
}

TEST(Preload, RejectsMalformedSpecsWithReasons) {
  auto msg = [](const char* s) {
    try {
      parse_preload(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg("model.gguf").find("no ':'"), std::string::npos);
  EXPECT_NE(msg(":GGML:AUTO:x").find("empty NAME"), std::string::npos);
  EXPECT_NE(msg("a:GGML:AUTO:").find("empty PATH"), std::string::npos);
  EXPECT_NE(msg("a:GGUF:AUTO:x").find("unknown graph encoding 'GGUF'"), std::string::npos);
  EXPECT_NE(msg("a:GGML:NPU:x").find("unknown execution target 'NPU'"), std::string::npos);
  EXPECT_NE(msg("a:GGML").find("missing TARGET"), std::string::npos);
}

TEST(Errno, NumbersRoundTripAndUnknownsAreRuntimeErrors) {
  for (uint32_t n : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 100u, 101u, 102u, 103u})
    EXPECT_EQ(uint32_t(errno_from_number(n)), n);
  EXPECT_EQ(errno_from_number(9), Errno::RuntimeError);
  EXPECT_EQ(errno_from_number(4000000000u), Errno::RuntimeError);
  EXPECT_EQ(errno_name(Errno::ModelNotFound), "model not found");
}

TEST(HandleTable, HandlesAreUniqueNonZeroAndScoped) {
  HandleTable<int> a, b;
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t h = a.insert(std::make_shared<int>(i));
    EXPECT_NE(h, 0u);
    EXPECT_TRUE(seen.insert(h).second);
    EXPECT_EQ(b.get(h), nullptr);  // another scope does not see it
  }
  EXPECT_EQ(a.size(), 1000u);
  const uint32_t h = *seen.begin();
  ASSERT_NE(a.get(h), nullptr);
  EXPECT_NE(a.erase(h), nullptr);
  EXPECT_EQ(a.get(h), nullptr);
  EXPECT_EQ(a.erase(h), nullptr);
  a.clear();
  EXPECT_EQ(a.size(), 0u);
}

TEST(HandleTable, ConcurrentUseIsSafe) {
  HandleTable<int> t;
  std::vector<std::thread> th;
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const uint32_t h = t.insert(std::make_shared<int>(i));
        EXPECT_EQ(*t.get(h), i);
        EXPECT_NE(t.erase(h), nullptr);
      }
    });
  for (auto& x : th) x.join();
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace nnb::nn

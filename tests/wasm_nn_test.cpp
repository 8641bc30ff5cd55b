// The wasi_ephemeral_nn bindings called directly as the wasm engine calls them: a plain byte
// vector is the guest memory, arguments are i32 Values. A probe backend records exactly what
// the bindings decoded (tensor dims, type, data; names; builders) and answers with chosen
// outputs or errors, which pins the ABI layer down; the real GGML backend on stories260K then
// checks the errnos real failures produce. The same ABI through the real engine and the
// `nnbridge run` process is covered by wasm_apps_test.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backends/ggml/ggml_backend.h"
#include "nn/preload.h"
#include "test_util.h"
#include "wasm/wasi_nn.h"

namespace nnb::wasm {
namespace {

using nn::Errno;

class VecMemory : public GuestMemory {
 public:
  explicit VecMemory(size_t n) : bytes(n, 0) {}
  uint8_t* data() override { return bytes.data(); }
  uint64_t size() const override { return bytes.size(); }
  void put(uint32_t at, std::string_view s) { std::memcpy(bytes.data() + at, s.data(), s.size()); }
  void put_u32(uint32_t at, uint32_t v) { ASSERT_TRUE(write_u32(at, v)); }
  uint32_t u32(uint32_t at) {
    uint32_t v = 0;
    EXPECT_TRUE(read_u32(at, &v));
    return v;
  }
  std::string str(uint32_t at, uint32_t n) { return {reinterpret_cast<char*>(bytes.data() + at), n}; }
  std::vector<uint8_t> bytes;
};

// Records what reaches the backend; answers with `output` or throws `fail`.
struct Probe {
  std::vector<uint32_t> dims;
  uint32_t type = 0, index = 0;
  std::string data, name, config;
  std::vector<std::string> builders;
  uint32_t encoding = 0, target = 0;
  std::vector<uint8_t> output;
  int unloads = 0, computes = 0;
  std::function<void()> fail;  // called at the start of every context call when set
  std::function<bool()> abort_check;  // what the bindings set on the last context
};

class ProbeContext : public nn::ExecutionContext {
 public:
  explicit ProbeContext(Probe& p) : p_(p) {}
  void set_input(uint32_t index, const nn::TensorView& t) override {
    maybe_fail();
    p_.index = index;
    p_.dims.assign(t.dims.begin(), t.dims.end());
    p_.type = t.type;
    p_.data.assign(t.data.begin(), t.data.end());
  }
  void compute() override { maybe_fail(), ++p_.computes; }
  std::vector<uint8_t> get_output(uint32_t) override { return maybe_fail(), p_.output; }
  void compute_single() override { maybe_fail(); }
  std::vector<uint8_t> get_output_single(uint32_t) override { return maybe_fail(), p_.output; }
  void fini_single() override { maybe_fail(); }
  void set_abort_check(std::function<bool()> check) override { p_.abort_check = std::move(check); }

 private:
  void maybe_fail() {
    if (p_.fail) p_.fail();
  }
  Probe& p_;
};

class ProbeGraph : public nn::Graph {
 public:
  ProbeGraph(Probe& p, std::string name) : p_(p), name_(std::move(name)) {}
  std::unique_ptr<nn::ExecutionContext> init_execution_context() override { return std::make_unique<ProbeContext>(p_); }
  const std::string& name() const override { return name_; }

 private:
  Probe& p_;
  std::string name_;
};

class ProbeBackend : public nn::Backend {
 public:
  explicit ProbeBackend(Probe& p) : p_(p) {}
  std::shared_ptr<nn::Graph> load(std::span<const std::span<const uint8_t>> builders, nn::GraphEncoding e,
                                  nn::ExecutionTarget t) override {
    p_.builders.clear();
    for (auto b : builders) p_.builders.emplace_back(b.begin(), b.end());
    p_.encoding = uint32_t(e), p_.target = uint32_t(t);
    return std::make_shared<ProbeGraph>(p_, "<bytes>");
  }
  std::shared_ptr<nn::Graph> load_by_name(std::string_view name, std::string_view config) override {
    p_.name = name, p_.config = config;
    if (name == "missing") throw nn::Error(Errno::ModelNotFound, "no file");
    return std::make_shared<ProbeGraph>(p_, std::string(name));
  }
  void unload(const std::shared_ptr<nn::Graph>&) override { ++p_.unloads; }

 private:
  Probe& p_;
};

// The bindings plus a 64 KiB guest memory; call("name", args...) returns the errno.
struct Harness {
  explicit Harness(std::shared_ptr<nn::Backend> b) : host(std::move(b)), mem(65536) {
    host.log = [this](std::string_view l) { logs.emplace_back(l); };
    for (auto& f : wasi_nn_functions(host)) fns.emplace(f.name, f);
  }
  template <typename... A>
  uint32_t call(const std::string& name, A... args) {
    auto it = fns.find(name);
    EXPECT_NE(it, fns.end()) << name;
    std::vector<Value> in{Value::from_i32(uint32_t(args))...};
    EXPECT_EQ(in.size(), it->second.params.size()) << name;
    Value out[1];
    it->second.fn(mem, in, out);
    return out[0].i32;
  }
  // Writes a tensor struct at `at` pointing at dims at `at+64` and data at `at+128`.
  void tensor(uint32_t at, std::vector<uint32_t> dims, uint32_t type, std::string_view data) {
    for (size_t i = 0; i < dims.size(); ++i) mem.put_u32(at + 64 + 4 * uint32_t(i), dims[i]);
    mem.put(at + 128, data);
    mem.put_u32(at, at + 64);
    mem.put_u32(at + 4, uint32_t(dims.size()));
    mem.put_u32(at + 8, type);
    mem.put_u32(at + 12, at + 128);
    mem.put_u32(at + 16, uint32_t(data.size()));
  }
  uint32_t load_graph(std::string_view name) {
    mem.put(100, name);
    EXPECT_EQ(call("load_by_name", 100, name.size(), 200), 0u);
    return mem.u32(200);
  }
  uint32_t make_context(uint32_t graph) {
    EXPECT_EQ(call("init_execution_context", graph, 204), 0u);
    return mem.u32(204);
  }

  WasiNnHost host;
  VecMemory mem;
  std::map<std::string, HostFunction> fns;
  std::vector<std::string> logs;
};

constexpr uint32_t kEnd = 65536;

TEST(WasiNn, ProvidesAllElevenImportsWithI32Signatures) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const std::map<std::string, size_t> want = {
      {"load", 5}, {"load_by_name", 3}, {"load_by_name_with_config", 5}, {"init_execution_context", 2},
      {"set_input", 3}, {"compute", 1}, {"get_output", 5}, {"compute_single", 1},
      {"get_output_single", 5}, {"fini_single", 1}, {"unload", 1}};
  ASSERT_EQ(h.fns.size(), want.size());
  for (auto& [name, n] : want) {
    ASSERT_TRUE(h.fns.count(name)) << name;
    const auto& f = h.fns.at(name);
    EXPECT_EQ(f.module, "wasi_ephemeral_nn");
    EXPECT_EQ(f.params, std::vector<ValType>(n, ValType::I32)) << name;
    EXPECT_EQ(f.results, std::vector<ValType>{ValType::I32}) << name;
  }
}

TEST(WasiNn, NamesAndConfigsAreExactlyLenBytes) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  h.mem.put(100, "defaultXYZ");  // no NUL after the name: only len bytes count
  h.mem.put(300, "{\"a\":1}garbage");
  ASSERT_EQ(h.call("load_by_name_with_config", 100, 7, 300, 7, 200), 0u);
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.config, "{\"a\":1}");
  EXPECT_NE(h.mem.u32(200), 0u);  // a handle, never 0
  ASSERT_EQ(h.call("load_by_name", 100, 3, 200), 0u);
  EXPECT_EQ(p.name, "def");
  EXPECT_EQ(p.config, "");
}

TEST(WasiNn, LoadDecodesBuilderPairs) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  h.mem.put(1000, "first");
  h.mem.put(2000, "second!");
  h.mem.put_u32(100, 1000), h.mem.put_u32(104, 5), h.mem.put_u32(108, 2000), h.mem.put_u32(112, 7);
  ASSERT_EQ(h.call("load", 100, 2, 6, 3, 200), 0u);
  EXPECT_EQ(p.builders, (std::vector<std::string>{"first", "second!"}));
  EXPECT_EQ(p.encoding, 6u);
  EXPECT_EQ(p.target, 3u);
  EXPECT_EQ(h.call("load", 100, 0x20000001u, 6, 3, 200), 1u) << "count*8 wraps 32 bits";
  EXPECT_EQ(h.call("load", kEnd - 12, 2, 6, 3, 200), 1u) << "array past end";
  h.mem.put_u32(112, kEnd);  // second builder's bytes past the end
  EXPECT_EQ(h.call("load", 100, 2, 6, 3, 200), 1u);
  EXPECT_EQ(h.call("load", 100, 1, 6, 3, kEnd - 2), 1u) << "graph out-pointer past end";
}

TEST(WasiNn, TensorStructTypeLowByteDimsAndDataLen) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  h.tensor(4000, {1}, 0xDEADBE02u, "a prompt of many bytes");
  ASSERT_EQ(h.call("set_input", ctx, 7, 4000), 0u);
  EXPECT_EQ(p.index, 7u);
  EXPECT_EQ(p.type, 2u) << "only the low byte of the type is read";
  EXPECT_EQ(p.dims, std::vector<uint32_t>{1});
  EXPECT_EQ(p.data, "a prompt of many bytes") << "length from data_len, not dims";
  h.tensor(4000, {2, 3, 4}, 4, "xy");
  ASSERT_EQ(h.call("set_input", ctx, 0, 4000), 0u);
  EXPECT_EQ(p.type, 4u) << "type number passed through unchanged";
  EXPECT_EQ(p.dims, (std::vector<uint32_t>{2, 3, 4}));
  h.tensor(4000, {}, 1, "");
  ASSERT_EQ(h.call("set_input", ctx, 0, 4000), 0u) << "empty dims and data are the backend's business";
}

TEST(WasiNn, TensorPointersAreBoundsChecked) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  EXPECT_EQ(h.call("set_input", ctx, 0, kEnd - 19), 1u) << "struct crosses the end";
  EXPECT_EQ(h.call("set_input", ctx, 0, 0xFFFFFFF0u), 1u) << "struct wraps";
  h.tensor(4000, {1}, 3, "abc");
  EXPECT_EQ(h.call("set_input", ctx, 0, kEnd - 20), 0u) << "the last 20 bytes (zeros: empty dims and data) are valid";
  h.mem.put_u32(4012, kEnd - 2);  // data_ptr
  EXPECT_EQ(h.call("set_input", ctx, 0, 4000), 1u);
  h.tensor(4000, {1}, 3, "abc");
  h.mem.put_u32(4016, 0xFFFFFFFFu);  // data_len
  EXPECT_EQ(h.call("set_input", ctx, 0, 4000), 1u);
  h.tensor(4000, {1}, 3, "abc");
  h.mem.put_u32(4004, 0x40000001u);  // dims_len*4 wraps to 4
  EXPECT_EQ(h.call("set_input", ctx, 0, 4000), 1u);
  h.tensor(4000, {1}, 3, "abc");
  h.mem.put_u32(4000, kEnd - 3);  // dims_ptr
  EXPECT_EQ(h.call("set_input", ctx, 0, 4000), 1u);
  EXPECT_EQ(p.data, "") << "no refused call reached the backend";
}

TEST(WasiNn, OutputTooLargeWritesNothingAndReportsTheSize) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  p.output.assign(100, 'o');
  for (const char* fn : {"get_output", "get_output_single"}) {
    SCOPED_TRACE(fn);
    std::fill(h.mem.bytes.begin() + 5000, h.mem.bytes.begin() + 5200, uint8_t('x'));
    h.mem.put_u32(300, 0);
    EXPECT_EQ(h.call(fn, ctx, 0, 5000, 99, 300), 7u);
    EXPECT_EQ(h.mem.u32(300), 100u);
    EXPECT_EQ(h.mem.str(5000, 100), std::string(100, 'x'));
    EXPECT_EQ(h.call(fn, ctx, 0, 5000, 100, 300), 0u);
    EXPECT_EQ(h.mem.u32(300), 100u);
    EXPECT_EQ(h.mem.str(5000, 101), std::string(100, 'o') + "x");
    h.mem.put_u32(300, 55);
    EXPECT_EQ(h.call(fn, ctx, 0, kEnd - 50, 100, 300), 1u) << "buffer past end";
    EXPECT_EQ(h.call(fn, ctx, 0, 0xFFFFFF00u, 0x200, 300), 1u) << "buffer wraps";
    EXPECT_EQ(h.call(fn, ctx, 0, 5000, 200, kEnd - 3), 1u) << "bytes_written past end";
    EXPECT_EQ(h.mem.u32(300), 55u);
  }
}

TEST(WasiNn, ErrorsBecomeErrnosAndEachFailureIsExplained) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  h.mem.put(100, "missing");
  EXPECT_EQ(h.call("load_by_name", 100, 7, 200), 103u);
  ASSERT_EQ(h.logs.size(), 1u);
  EXPECT_EQ(h.logs[0], "nnbridge: wasi-nn load_by_name failed: errno=103 (model not found): no file");
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  p.fail = [] { throw nn::Error(Errno::EndOfSequence, "done"); };
  EXPECT_EQ(h.call("compute_single", ctx), 100u);
  EXPECT_EQ(h.logs.size(), 1u) << "the end of a stream is not a failure";
  p.fail = [] { throw nn::Error(Errno::ContextFull, "context full at 16 tokens"); };
  EXPECT_EQ(h.call("compute", ctx), 101u);
  ASSERT_EQ(h.logs.size(), 2u);
  EXPECT_EQ(h.logs[1], "nnbridge: wasi-nn compute failed: errno=101 (context full): context full at 16 tokens");
  p.fail = [] { throw std::runtime_error("disk on fire"); };
  EXPECT_EQ(h.call("compute", ctx), 5u);
  ASSERT_EQ(h.logs.size(), 3u);
  EXPECT_EQ(h.logs[2], "nnbridge: wasi-nn compute failed: errno=5 (runtime error): disk on fire");
  p.fail = [] { throw std::bad_alloc(); };
  EXPECT_EQ(h.call("fini_single", ctx), 5u);
  ASSERT_EQ(h.logs.size(), 4u);
  EXPECT_EQ(h.logs[3], "nnbridge: wasi-nn fini_single failed: errno=5 (runtime error): out of host memory");
  p.fail = [] { throw Trap("deliberate"); };
  EXPECT_THROW(h.call("compute", ctx), Trap) << "a Trap reaches the engine";
}

TEST(WasiNn, RepeatedFailuresAreRateLimited) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  p.fail = [] { throw nn::Error(Errno::RuntimeError, "server gone"); };
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(h.call("compute", ctx), 5u);
  // The 1st, 10th, 100th and 1000th time.
  ASSERT_EQ(h.logs.size(), 4u);
  const std::string line = "nnbridge: wasi-nn compute failed: errno=5 (runtime error): server gone";
  EXPECT_EQ(h.logs[0], line);
  EXPECT_EQ(h.logs[1], line + " [10 times]");
  EXPECT_EQ(h.logs[3], line + " [1000 times]");
  // A different failure is reported at once.
  EXPECT_EQ(h.call("compute_single", ctx), 5u);
  ASSERT_EQ(h.logs.size(), 5u);
  EXPECT_NE(h.logs[4].find("compute_single failed"), std::string::npos) << h.logs[4];
}

// With a deadline (--time-limit): every context the guest makes gets the abort check, and a
// failure once it has passed is left to the runtime's own message.
TEST(WasiNn, DeadlineReachesContextsAndSilencesItsOwnFailures) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  bool passed = false;
  h.host.abort_check = [&passed] { return passed; };
  const uint32_t ctx = h.make_context(h.load_graph("m"));
  ASSERT_TRUE(p.abort_check) << "the context got no abort check";
  // What the GGML backend does between tokens.
  p.fail = [&p] {
    if (p.abort_check()) throw nn::Error(Errno::RuntimeError, "cancelled");
  };
  EXPECT_EQ(h.call("compute", ctx), 0u);
  passed = true;
  EXPECT_EQ(h.call("compute", ctx), 5u) << "the context saw the deadline";
  EXPECT_TRUE(h.logs.empty()) << h.logs.front();
}

TEST(WasiNn, HandlesAreCheckedAndFreedOnUnload) {
  Probe p;
  Harness h(std::make_shared<ProbeBackend>(p));
  const uint32_t g = h.load_graph("m");
  const uint32_t ctx = h.make_context(g);
  EXPECT_EQ(h.call("init_execution_context", g + 1, 204), 1u);
  EXPECT_EQ(h.call("init_execution_context", g, kEnd - 1), 1u) << "ctx out-pointer past end";
  for (const char* fn : {"compute", "compute_single", "fini_single"}) EXPECT_EQ(h.call(fn, 0), 1u) << fn;
  EXPECT_EQ(h.call("compute", ctx ^ 0x80000000u), 1u);
  EXPECT_EQ(h.call("unload", g), 0u);
  EXPECT_EQ(p.unloads, 1);
  EXPECT_EQ(h.call("unload", g), 1u) << "handle freed";
  EXPECT_EQ(h.call("init_execution_context", g, 204), 1u);
  EXPECT_EQ(h.call("compute", ctx), 0u) << "a context outlives its graph handle";
  EXPECT_EQ(h.host.graphs.size(), 0u);
}

TEST(WasiNn, UnloadRefusedByTheBackendKeepsTheHandle) {
  struct NoUnload : ProbeBackend {
    using ProbeBackend::ProbeBackend;
    void unload(const std::shared_ptr<nn::Graph>&) override {
      throw nn::Error(Errno::UnsupportedOperation, "no unload over WasmEdge's RPC");
    }
  };
  Probe p;
  Harness h(std::make_shared<NoUnload>(p));
  const uint32_t g = h.load_graph("m");
  EXPECT_EQ(h.call("unload", g), 6u);
  EXPECT_EQ(h.call("init_execution_context", g, 204), 0u);
}

// The real GGML backend on stories260K: the errnos of real failures, through the bindings.
TEST(WasiNnGgml, RealBackendErrnos) {
  NNB_FIXTURE_OR_SKIP(model, "models/stories260K.gguf");
  std::vector<nn::PreloadSpec> pre = {nn::parse_preload("default:GGML:AUTO:" + model.string()),
                                      nn::parse_preload("gone:GGML:AUTO:/nonexistent/model.gguf")};
  Harness h(std::make_shared<ggml::GgmlBackend>(pre));
  h.mem.put(100, "gone");
  EXPECT_EQ(h.call("load_by_name", 100, 4, 200), 103u);
  h.mem.put(100, "nope");
  EXPECT_EQ(h.call("load_by_name", 100, 4, 200), 8u);
  h.mem.put(100, "default");
  h.mem.put(300, "{\"ctx-size\":");
  EXPECT_EQ(h.call("load_by_name_with_config", 100, 7, 300, 12, 200), 2u);
  const std::string cfg = "{\"n-predict\":6,\"temp\":0}";
  h.mem.put(300, cfg);
  ASSERT_EQ(h.call("load_by_name_with_config", 100, 7, 300, cfg.size(), 200), 0u);
  const uint32_t ctx = h.make_context(h.mem.u32(200));
  EXPECT_EQ(h.call("compute", ctx), 1u) << "compute without input";
  h.tensor(4000, {1}, 3, "Once upon a time");
  ASSERT_EQ(h.call("set_input", ctx, 0, 4000), 0u);
  ASSERT_EQ(h.call("compute", ctx), 0u);
  ASSERT_EQ(h.call("get_output", ctx, 0, 5000, 4096, 300), 0u);
  const uint32_t n = h.mem.u32(300);
  EXPECT_GT(n, 0u);
  EXPECT_EQ(h.call("get_output", ctx, 0, 5000, n - 1, 300), 7u);
  EXPECT_EQ(h.mem.u32(300), n);
  h.tensor(4000, {1}, 3, "{\"n-predict\":\"x\"}");
  EXPECT_EQ(h.call("set_input", ctx, 1, 4000), 1u);
  // Each failure above was explained: which model, which file, which key.
  std::string all;
  for (const auto& l : h.logs) all += l + "\n";
  EXPECT_NE(all.find("load_by_name failed: errno=103 (model not found): model file not found: /nonexistent/model.gguf"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("load_by_name failed: errno=8 (not found): no model named 'nope'"), std::string::npos) << all;
  EXPECT_NE(all.find("load_by_name_with_config failed: errno=2"), std::string::npos) << all;
  EXPECT_NE(all.find("set_input failed: errno=1"), std::string::npos) << all;
  EXPECT_EQ(all.find("get_output failed"), std::string::npos) << "too small a buffer is the ABI's size query\n" << all;
}

}  // namespace
}  // namespace nnb::wasm

// Writes a few small, valid GGUF files as a starting corpus for gguf_fuzz: every value type,
// nested arrays, several tensor types, a non-default alignment and split keys. Usage:
// gguf_fuzz_seed <dir>
#include <cstdio>
#include <vector>

#include "engine/gguf/gguf.h"

using namespace nnb;
using namespace nnb::gguf;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    {  // all value types
      Writer w;
      w.set_string("general.architecture", "llama");
      w.set("u8", Value::make_u64(ValueType::UINT8, 200));
      w.set("i8", Value::make_i64(ValueType::INT8, -5));
      w.set("u16", Value::make_u64(ValueType::UINT16, 999));
      w.set("i16", Value::make_i64(ValueType::INT16, -999));
      w.set_u32("u32", 7);
      w.set_i32("i32", -7);
      w.set("u64", Value::make_u64(ValueType::UINT64, 1ull << 40));
      w.set("i64", Value::make_i64(ValueType::INT64, -(1ll << 40)));
      w.set_f32("f32", 1e-5f);
      w.set("f64", Value::make_f64(ValueType::FLOAT64, 0.25));
      w.set_bool("b", true);
      w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
      w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1});
      w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1});
      w.set("nested", Value::make_array(ValueType::ARRAY, {Value::make_array(ValueType::STRING, {Value::make_string("x")}),
                                                           Value::make_array(ValueType::UINT8, {})}));
      w.write(dir / "seed-values.gguf");
    }
    {  // tensors of several types, alignment 64
      Writer w;
      w.set_alignment(64);
      std::vector<uint8_t> f32(4 * 8, 1), q8(34 * 2, 2), q4k(144, 3), f16(2 * 6, 4);
      w.add_tensor("a.f32", GgmlType::F32, {8}, f32.data(), f32.size());
      w.add_tensor("b.q8_0", GgmlType::Q8_0, {32, 2}, q8.data(), q8.size());
      w.add_tensor("c.q4_K", GgmlType::Q4_K, {256}, q4k.data(), q4k.size());
      w.add_tensor("d.f16", GgmlType::F16, {2, 1, 3}, f16.data(), f16.size());
      w.write(dir / "seed-tensors.gguf");
    }
    {  // one part of a split model
      Writer w;
      w.set("split.no", Value::make_u64(ValueType::UINT16, 0));
      w.set("split.count", Value::make_u64(ValueType::UINT16, 2));
      w.set_i32("split.tensors.count", 2);
      std::vector<uint8_t> d(4 * 4, 5);
      w.add_tensor("t", GgmlType::F32, {4}, d.data(), d.size());
      w.write(dir / "seed-split.gguf");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_fuzz_seed: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Malformed GGUF input, built byte by byte (plus the negative fixtures when present): each
// must be refused with a gguf::Error naming the problem, never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <random>

#include "engine/gguf/gguf.h"
#include "gguf_raw_builder.h"
#include "test_util.h"

namespace nnb::gguf {
namespace {

using test::RawGguf;

// The error message of parsing `b`, or "(parsed)" when it was accepted.
std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    File::parse(b.data(), b.size(), "buf");
  } catch (const Error& e) {
    return e.what();
  }
  return "(parsed)";
}

#define EXPECT_REFUSED(bytes, fragment)                                              \
  do {                                                                               \
    const std::string msg_ = parse_error(bytes);                                     \
    EXPECT_NE(msg_.find(fragment), std::string::npos) << "message: " << msg_;        \
  } while (0)

// A small valid file with metadata of several types and two tensors.
std::vector<uint8_t> small_valid_file() {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.f);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  w.set("nested", Value::make_array(ValueType::ARRAY, {Value::make_array(ValueType::INT8, {Value::make_i64(ValueType::INT8, -1)})}));
  std::vector<uint8_t> d1(4 * 8, 0x11), d2(34 * 2, 0x22);
  w.add_tensor("a", GgmlType::F32, {8}, d1.data(), d1.size());
  w.add_tensor("b", GgmlType::Q8_0, {32, 2}, d2.data(), d2.size());
  return w.to_bytes();
}

// A file with one tensor whose info is given by the caller.
std::vector<uint8_t> one_tensor(std::vector<int64_t> ne, uint32_t type, uint64_t offset = 0, size_t data = 64) {
  RawGguf r;
  r.header(1, 0).tensor("w", std::move(ne), type, offset).pad(32).zeros(data);
  return r.b;
}

TEST(GgufMalformed, SmallValidFileParses) {
  const auto b = small_valid_file();
  auto f = File::parse(b.data(), b.size());
  EXPECT_EQ(f->tensors().size(), 2u);
}

TEST(GgufMalformed, TruncatedAtEveryByte) {
  const auto full = small_valid_file();
  auto f = File::parse(full.data(), full.size());
  // Everything up to the end of the last tensor's data is needed; trailing padding is not.
  size_t end = 0;
  for (const auto& t : f->tensors()) end = std::max<size_t>(end, t.offset + t.nbytes);
  for (size_t n = 0; n < end; ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    EXPECT_THROW(File::parse(cut.data(), cut.size()), Error) << "prefix of " << n << " bytes";
  }
}

// Every byte overwritten with a few values: whatever happens, it is a clean Error or success.
TEST(GgufMalformed, CorruptedBytesNeverCrash) {
  const auto full = small_valid_file();
  const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  size_t refused = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t v : values) {
      auto b = full;
      b[i] = v;
      try {
        File::parse(b.data(), b.size());
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0u);
}

TEST(GgufMalformed, HugeStringLength) {
  RawGguf r;
  r.header(0, 1).u64(uint64_t(1) << 62).raw("key", 3).zeros(16);
  EXPECT_REFUSED(r.b, "string length 4611686018427387904 at offset 24 runs past the end of the file (size 51)");
  RawGguf v;
  v.header(0, 1).str("k").u32(8).u64(~uint64_t(0));
  EXPECT_REFUSED(v.b, "string length 18446744073709551615");
  EXPECT_REFUSED(v.b, "key 'k'");
}

TEST(GgufMalformed, HugeArrayCount) {
  RawGguf r;
  r.header(0, 1).str("arr").u32(9).u32(0).u64(uint64_t(1) << 60).zeros(16);
  EXPECT_REFUSED(r.b, "array of 1152921504606846976 u8 elements at offset");
  RawGguf s;  // 100 strings need at least 800 bytes
  s.header(0, 1).str("arr").u32(9).u32(8).u64(100).zeros(700);
  EXPECT_REFUSED(s.b, "array of 100 string elements");
}

// 20 M one-byte elements fit in the file but would need ~2 GB as Values: refused.
TEST(GgufMalformed, TooManyArrayElements) {
  RawGguf r;
  r.header(0, 1).str("arr").u32(9).u32(0).u64(20'000'000).zeros(20'000'000);
  EXPECT_REFUSED(r.b, "metadata arrays hold more than 16777216 elements in all");
}

TEST(GgufMalformed, HugeCounts) {
  RawGguf kv;
  kv.header(0, uint64_t(1) << 61);
  EXPECT_REFUSED(kv.b, "metadata count");
  RawGguf t;
  t.header(~uint64_t(0), 0);
  EXPECT_REFUSED(t.b, "tensor count");
}

TEST(GgufMalformed, NestingDepthCapped) {
  RawGguf r;
  r.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i) r.u32(9).u64(1);
  r.u32(0).u64(0);
  EXPECT_REFUSED(r.b, "nested deeper");
}

TEST(GgufMalformed, InvalidValueTypes) {
  RawGguf r;
  r.header(0, 1).str("k").u32(13).u32(0);
  EXPECT_REFUSED(r.b, "metadata key 'k' has invalid value type 13");
  RawGguf a;
  a.header(0, 1).str("k").u32(9).u32(77).u64(0);
  EXPECT_REFUSED(a.b, "invalid element type 77");
}

TEST(GgufMalformed, BadAlignment) {
  for (uint32_t al : {0u, 48u, 3u}) {
    RawGguf r;
    r.header(0, 1).kv_u32("general.alignment", al);
    EXPECT_REFUSED(r.b, "general.alignment " + std::to_string(al) + " is not a nonzero power of two");
  }
  RawGguf t;
  t.header(0, 1).kv_i32("general.alignment", 32);
  EXPECT_REFUSED(t.b, "general.alignment has type i32, expected u32");
}

TEST(GgufMalformed, TensorPastEndOfFile) {
  EXPECT_REFUSED(one_tensor({32}, 0, 0, 100), "tensor 'w': data (128 bytes at offset 64 + 0) is out of bounds");
  EXPECT_REFUSED(one_tensor({32}, 0, 1024, 128), "out of bounds");
  // An offset so large that offset + size wraps around 64 bits.
  EXPECT_REFUSED(one_tensor({32}, 0, ~uint64_t(31), 128), "tensor 'w'");
}

TEST(GgufMalformed, MisalignedTensorOffset) {
  EXPECT_REFUSED(one_tensor({8}, 0, 4, 64), "tensor 'w': data offset 4 is not a multiple of the alignment 32");
}

TEST(GgufMalformed, BadDimensions) {
  EXPECT_REFUSED(one_tensor({1, 1, 1, 1, 1}, 0), "tensor 'w': 5 dimensions (must be 1..4)");
  RawGguf z;
  z.header(1, 0).str("w").u32(0).zeros(32);
  EXPECT_REFUSED(z.b, "0 dimensions");
  EXPECT_REFUSED(one_tensor({4, 0}, 0), "tensor 'w': dimension 1 is 0 (must be >= 1)");
  EXPECT_REFUSED(one_tensor({-4}, 0), "dimension 0 is -4");
  EXPECT_REFUSED(one_tensor({int64_t(1) << 40, int64_t(1) << 40}, 0), "element count overflows");
  EXPECT_REFUSED(one_tensor({int64_t(1) << 62}, 0), "overflows 64 bits");  // nbytes of f32
}

TEST(GgufMalformed, UnknownAndUnsupportedTypes) {
  EXPECT_REFUSED(one_tensor({32}, 99), "tensor 'w' has unknown ggml type 99");
  EXPECT_REFUSED(one_tensor({32}, 4), "unknown ggml type 4");  // Q4_2, removed from ggml
  EXPECT_REFUSED(one_tensor({256}, uint32_t(GgmlType::IQ2_XXS)), "tensor 'w' has type iq2_xxs, which nnbridge cannot read");
}

TEST(GgufMalformed, RowNotMultipleOfBlock) {
  RawGguf r;
  r.header(1, 0).tensor("blk.0.ffn_down.weight", {172, 64}, uint32_t(GgmlType::Q8_0), 0).pad(32).zeros(8192);
  EXPECT_REFUSED(r.b, "tensor 'blk.0.ffn_down.weight': row length 172 is not a multiple of the q8_0 block size 32");
}

TEST(GgufMalformed, DuplicateKeyAndTensor) {
  RawGguf k;
  k.header(0, 2).kv_u32("a.b", 1).kv_str("a.b", "x");
  EXPECT_REFUSED(k.b, "duplicate metadata key 'a.b'");
  RawGguf t;
  t.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad(32).zeros(64);
  EXPECT_REFUSED(t.b, "duplicate tensor name 'w'");
}

TEST(GgufMalformed, LongTensorName) {
  RawGguf r;
  r.header(1, 0).tensor(std::string(64, 'x'), {8}, 0, 0).pad(32).zeros(32);
  EXPECT_REFUSED(r.b, "longer than ggml's limit of 63");
}

TEST(GgufMalformed, VersionsAndMagics) {
  RawGguf v1;
  v1.raw("GGUF", 4).u32(1).u32(0).u32(0);
  EXPECT_REFUSED(v1.b, "GGUF v1 is not supported");
  RawGguf be;
  be.raw("GGUF", 4).u32(0x03000000).u64(0).u64(0);
  EXPECT_REFUSED(be.b, "big-endian GGUF");
  EXPECT_REFUSED(be.b, "50331648");
  RawGguf v9;
  v9.raw("GGUF", 4).u32(9).u64(0).u64(0);
  EXPECT_REFUSED(v9.b, "unsupported GGUF version 9");
  RawGguf jt;
  jt.raw("tjgg", 4).u32(3).zeros(64);
  EXPECT_REFUSED(jt.b, "pre-GGUF 'ggjt' v3 file (old llama.cpp .bin format), not GGUF; convert it to GGUF");
  RawGguf mf;
  mf.raw("fmgg", 4).u32(1).zeros(64);
  EXPECT_REFUSED(mf.b, "pre-GGUF 'ggmf' v1");
  RawGguf ml;
  ml.raw("lmgg", 4).zeros(64);
  EXPECT_REFUSED(ml.b, "pre-GGUF 'ggml' (unversioned)");
  RawGguf png;
  png.raw("\x89PNG", 4).zeros(64);
  EXPECT_REFUSED(png.b, "not a GGUF file");
  EXPECT_REFUSED(std::vector<uint8_t>{}, "not a GGUF file");
  EXPECT_REFUSED(std::vector<uint8_t>({'G', 'G'}), "not a GGUF file");
}

// Reads the version-2 layout (the same as v3) too.
TEST(GgufMalformed, Version2Accepted) {
  RawGguf r;
  r.header(1, 1, 2).kv_str("general.name", "v2").tensor("w", {8}, 0, 0).pad(32).zeros(32);
  auto f = File::parse(r.b.data(), r.b.size());
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->get_string("general.name"), "v2");
  EXPECT_EQ(f->tensors().at(0).offset, 96u);  // 91 bytes of header, padded to 32
}

// The files in fixtures/models/negative/, each with its own message.
std::string open_error(const std::filesystem::path& p) {
  try {
    File::open(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(opened)";
}

TEST(GgufNegativeFixtures, Version1) {
  NNB_FIXTURE_OR_SKIP(p, "models/negative/tinyllamas-stories-260k-f32.gguf");
  EXPECT_NE(open_error(p).find("GGUF v1 is not supported"), std::string::npos) << open_error(p);
}

TEST(GgufNegativeFixtures, GgjtFormat) {
  NNB_FIXTURE_OR_SKIP(p, "models/negative/TinyLLama-v0.ggmlv3.q4_0.bin");
  EXPECT_NE(open_error(p).find("pre-GGUF 'ggjt' v3 file (old llama.cpp .bin format), not GGUF; convert it to GGUF"),
            std::string::npos) << open_error(p);
}

TEST(GgufNegativeFixtures, RowNotMultipleOfBlock) {
  NNB_FIXTURE_OR_SKIP(p, "models/negative/tinyllamas-stories-260k-q8_0.gguf");
  EXPECT_NE(open_error(p).find("tensor 'blk.0.ffn_down.weight': row length 172 is not a multiple of the q8_0 block size 32"),
            std::string::npos) << open_error(p);
}

// A string length of ~74 GB: refused by the bounds check before any allocation (an attempt to
// allocate it would throw bad_alloc, not gguf::Error, or exhaust memory).
TEST(GgufNegativeFixtures, CorruptedStringLength) {
  NNB_FIXTURE_OR_SKIP(p, "models/negative/ggml-vocab-llama-spm.CORRUPTED.gguf");
  const std::string e = open_error(p);
  EXPECT_NE(e.find("string length 73939795391 at offset 399 runs past the end of the file (size 853489)"),
            std::string::npos) << e;
}

}  // namespace
}  // namespace nnb::gguf

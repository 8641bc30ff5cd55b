// GGUF writer -> reader round trips, typed getters, Value rendering and split models.
// No fixtures needed: every file is generated here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "engine/gguf/gguf.h"
#include "test_util.h"

namespace nnb::gguf {
namespace {

using test::scratch_dir;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

// Tensor data of the right size for (type, ne), with f16/bf16 kept finite so it is valid data.
std::vector<uint8_t> tensor_bytes(GgmlType t, const std::vector<int64_t>& ne, uint32_t seed) {
  int64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  return random_bytes(row_size(t, ne[0]) * size_t(rows), seed);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GgufValue, ScalarConversions) {
  EXPECT_EQ(Value::make_u64(ValueType::UINT32, 7).as_i64(), 7);
  EXPECT_EQ(Value::make_i64(ValueType::INT8, -3).as_u64(), std::nullopt);
  EXPECT_EQ(Value::make_i64(ValueType::INT8, -3).as_f64(), -3.0);
  EXPECT_EQ(Value::make_u64(ValueType::UINT64, std::numeric_limits<uint64_t>::max()).as_i64(), std::nullopt);
  EXPECT_EQ(Value::make_bool(true).as_i64(), std::nullopt);  // a bool is not an integer
  EXPECT_EQ(Value::make_string("x").as_bool(), std::nullopt);
  EXPECT_EQ(Value::make_f64(ValueType::FLOAT32, 0.1).as_f64(), double(0.1f));  // stored as written
  EXPECT_TRUE(Value::make_u64(ValueType::UINT16, 1).is_integer());
  EXPECT_FALSE(Value::make_f64(ValueType::FLOAT64, 1).is_integer());
}

TEST(GgufValue, ConstructorsRefuseValuesThatWouldBeTruncated) {
  EXPECT_THROW(Value::make_u64(ValueType::UINT8, 256), Error);
  EXPECT_THROW(Value::make_i64(ValueType::INT16, 40000), Error);
  EXPECT_THROW(Value::make_u64(ValueType::INT32, 1), Error);  // not an unsigned type
  EXPECT_THROW(Value::make_f64(ValueType::UINT8, 1), Error);
  std::vector<Value> mixed{Value::make_string("a"), Value::make_u64(ValueType::UINT8, 1)};
  EXPECT_THROW(Value::make_array(ValueType::STRING, mixed), Error);
  EXPECT_THROW(Value::make_array(ValueType(13), {}), Error);
}

TEST(GgufValue, ToString) {
  EXPECT_EQ(Value::make_u64(ValueType::UINT32, 42).to_string(), "42");
  EXPECT_EQ(Value::make_i64(ValueType::INT64, -5).to_string(), "-5");
  EXPECT_EQ(Value::make_f64(ValueType::FLOAT32, 1e-5).to_string(), "1e-05");
  EXPECT_EQ(Value::make_bool(false).to_string(), "false");
  EXPECT_EQ(Value::make_string("a\"b\n\x01").to_string(), "\"a\\\"b\\n\\x01\"");
  std::vector<Value> e;
  for (int i = 0; i < 10; ++i) e.push_back(Value::make_i64(ValueType::INT32, i));
  EXPECT_EQ(Value::make_array(ValueType::INT32, e).to_string(3), "[0, 1, 2, ... 7 more] (10 x i32)");
  EXPECT_EQ(Value::make_array(ValueType::STRING, {}).to_string(), "[] (0 x string)");
  EXPECT_EQ(value_type_name(ValueType::FLOAT64), "f64");
}

// Every value type, extremes included, survives writing and reading.
TEST(GgufRoundTrip, EveryValueType) {
  using L = std::numeric_limits<int64_t>;
  Writer w;
  w.set("u8", Value::make_u64(ValueType::UINT8, 255));
  w.set("i8", Value::make_i64(ValueType::INT8, -128));
  w.set("u16", Value::make_u64(ValueType::UINT16, 65535));
  w.set("i16", Value::make_i64(ValueType::INT16, -32768));
  w.set_u32("u32", 0xffffffffu);
  w.set_i32("i32", std::numeric_limits<int32_t>::min());
  w.set("u64", Value::make_u64(ValueType::UINT64, std::numeric_limits<uint64_t>::max()));
  w.set("i64", Value::make_i64(ValueType::INT64, L::min()));
  w.set_f32("f32", -1.5e-7f);
  w.set("f64", Value::make_f64(ValueType::FLOAT64, 3.141592653589793));
  w.set_bool("t", true);
  w.set_bool("f", false);
  w.set_string("s", std::string("nul\0inside \xE2\x96\x81 utf8", 20));
  w.set_string("empty", "");
  w.set_string_array("sa", {"a", "", "ccc"});
  w.set_f32_array("fa", {0.f, -0.f, 1e30f, std::numeric_limits<float>::denorm_min()});
  w.set_i32_array("ia", {1, -2, 2147483647});
  w.set("ea", Value::make_array(ValueType::UINT64, {}));
  w.set("ba", Value::make_array(ValueType::BOOL, {Value::make_bool(true), Value::make_bool(false)}));
  // Nested: an array of arrays (of different element types), one of them itself nested.
  Value inner1 = Value::make_array(ValueType::STRING, {Value::make_string("x"), Value::make_string("y")});
  Value inner2 = Value::make_array(ValueType::INT16, {Value::make_i64(ValueType::INT16, -7)});
  Value deep = Value::make_array(ValueType::ARRAY, {inner1});
  w.set("nested", Value::make_array(ValueType::ARRAY, {inner1, inner2, deep, Value::make_array(ValueType::FLOAT64, {})}));
  w.set_u32("u32", 0xfffffffeu);  // replacing keeps the original position

  const auto bytes = w.to_bytes();
  auto f = File::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->n_splits(), 1);
  EXPECT_EQ(f->total_bytes(), bytes.size());
  ASSERT_EQ(f->metadata().size(), 20u);
  EXPECT_EQ(f->metadata()[4].first, "u32");
  EXPECT_EQ(f->metadata()[4].second.type(), ValueType::UINT32);

  EXPECT_EQ(f->find("u8")->as_u64(), 255u);
  EXPECT_EQ(f->find("u8")->type(), ValueType::UINT8);
  EXPECT_EQ(f->find("i8")->as_i64(), -128);
  EXPECT_EQ(f->find("u16")->as_u64(), 65535u);
  EXPECT_EQ(f->find("i16")->as_i64(), -32768);
  EXPECT_EQ(f->get_u32("u32"), 0xfffffffeu);
  EXPECT_EQ(f->get_int("i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f->find("u64")->as_u64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->get_int("i64"), L::min());
  EXPECT_EQ(f->get_float("f32"), double(-1.5e-7f));
  EXPECT_EQ(f->find("f32")->type(), ValueType::FLOAT32);
  EXPECT_EQ(f->get_float("f64"), 3.141592653589793);
  EXPECT_EQ(f->get_bool("t"), true);
  EXPECT_EQ(f->get_bool("f"), false);
  EXPECT_EQ(f->get_string("s"), std::string("nul\0inside \xE2\x96\x81 utf8", 20));
  EXPECT_EQ(f->get_string("empty"), "");
  EXPECT_EQ(f->get_string_array("sa"), (std::vector<std::string>{"a", "", "ccc"}));
  auto fa = f->get_f32_array("fa");
  ASSERT_TRUE(fa);
  ASSERT_EQ(fa->size(), 4u);
  EXPECT_TRUE(std::signbit((*fa)[1]));
  EXPECT_EQ((*fa)[2], 1e30f);
  EXPECT_EQ((*fa)[3], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(f->get_i32_array("ia"), (std::vector<int32_t>{1, -2, 2147483647}));
  EXPECT_EQ(f->find("ea")->elem_type(), ValueType::UINT64);
  EXPECT_EQ(f->find("ea")->size(), 0u);
  EXPECT_EQ(f->find("ba")->elems()[0].as_bool(), true);
  EXPECT_EQ(f->find("ba")->elems()[1].as_bool(), false);

  const Value& n = *f->find("nested");
  ASSERT_TRUE(n.is_array());
  EXPECT_EQ(n.elem_type(), ValueType::ARRAY);
  ASSERT_EQ(n.size(), 4u);
  EXPECT_EQ(n[0].elem_type(), ValueType::STRING);
  EXPECT_EQ(*n[0][1].as_string(), "y");
  EXPECT_EQ(n[1].elem_type(), ValueType::INT16);
  EXPECT_EQ(n[1][0].as_i64(), -7);
  EXPECT_EQ(n[2].elem_type(), ValueType::ARRAY);
  EXPECT_EQ(*n[2][0][0].as_string(), "x");
  EXPECT_EQ(n[3].elem_type(), ValueType::FLOAT64);
  EXPECT_EQ(n[3].size(), 0u);

  // Writing again what was read gives the same bytes.
  Writer w2;
  for (const auto& [k, v] : f->metadata()) w2.set(k, v);
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(GgufRoundTrip, TensorsOfSeveralTypesWithAlignment64) {
  struct T {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
  };
  const std::vector<T> specs = {
      {"f32.vec", GgmlType::F32, {7}},
      {"f16.mat", GgmlType::F16, {5, 3}},
      {"q8_0.mat", GgmlType::Q8_0, {64, 3}},
      {"q4_K.3d", GgmlType::Q4_K, {256, 2, 2}},
      {"bf16.4d", GgmlType::BF16, {3, 1, 2, 2}},
      {"q6_K.mat", GgmlType::Q6_K, {512, 1}},
      {"iq4_nl.mat", GgmlType::IQ4_NL, {32, 5}},
  };
  Writer w;
  w.set_alignment(64);
  w.set_string("general.architecture", "test");
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < specs.size(); ++i) {
    data.push_back(tensor_bytes(specs[i].type, specs[i].ne, uint32_t(i)));
    w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, data[i].data(), data[i].size());
  }
  const auto bytes = w.to_bytes();
  EXPECT_EQ(bytes.size() % 64, 0u);
  auto f = File::parse(bytes.data(), bytes.size(), "mem");
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->get_u32("general.alignment"), 64u);
  ASSERT_EQ(f->tensors().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo& t = f->tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.type, specs[i].type);
    EXPECT_EQ(t.n_dims, int(specs[i].ne.size()));
    for (int d = 0; d < 4; ++d) EXPECT_EQ(t.ne[d], d < t.n_dims ? specs[i].ne[d] : 1);
    EXPECT_EQ(t.nbytes, data[i].size());
    EXPECT_EQ(t.offset % 64, 0u);
    EXPECT_EQ(t.data, bytes.data() + t.offset);  // zero copy
    EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.nbytes), 0);
    EXPECT_EQ(t.split, 0);
    EXPECT_EQ(f->tensor(t.name), &t);
  }
  EXPECT_EQ(f->tensor("missing"), nullptr);
  EXPECT_EQ(f->tensors()[3].n_elements(), 1024);
  EXPECT_EQ(f->tensors()[3].n_rows(), 4);

  // write() streams the same bytes to disk; open() maps them.
  const auto path = scratch_dir("gguf_roundtrip") / "t.gguf";
  w.write(path);
  EXPECT_EQ(test::read_file(path), std::string(bytes.begin(), bytes.end()));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
  auto g = File::open(path);
  ASSERT_EQ(g->tensors().size(), specs.size());
  EXPECT_EQ(g->total_bytes(), bytes.size());
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_EQ(std::memcmp(g->tensors()[i].data, data[i].data(), data[i].size()), 0);
}

TEST(GgufWriter, RefusesInvalidTensorsAndAlignment) {
  Writer w;
  std::vector<uint8_t> d(34 * 2);
  EXPECT_THROW(w.set_alignment(0), Error);
  EXPECT_THROW(w.set_alignment(48), Error);
  EXPECT_THROW(w.set_i32("general.alignment", 32), Error);  // must be a u32
  EXPECT_THROW(w.add_tensor("a", GgmlType::Q8_0, {33, 2}, d.data(), d.size()), Error);  // not a whole block
  EXPECT_THROW(w.add_tensor("a", GgmlType::Q8_0, {32, 2}, d.data(), d.size() - 1), Error);  // wrong size
  EXPECT_THROW(w.add_tensor("a", GgmlType::Q8_0, {32, 0}, d.data(), 0), Error);
  EXPECT_THROW(w.add_tensor("a", GgmlType::Q8_0, {32, 1, 1, 1, 2}, d.data(), d.size()), Error);
  EXPECT_THROW(w.add_tensor("a", GgmlType(4), {32, 2}, d.data(), d.size()), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), GgmlType::Q8_0, {32, 2}, d.data(), d.size()), Error);
  w.add_tensor("a", GgmlType::Q8_0, {32, 2}, d.data(), d.size());
  EXPECT_THROW(w.add_tensor("a", GgmlType::Q8_0, {32, 2}, d.data(), d.size()), Error);
  EXPECT_NE(error_of([&] { w.write("/nonexistent-dir/x.gguf"); }).find("cannot create"), std::string::npos);
}

TEST(GgufGetters, AbsentMismatchedAndOutOfRange) {
  Writer w;
  w.set_string("s", "str");
  w.set_i32("neg", -1);
  w.set("big", Value::make_u64(ValueType::UINT64, 1ull << 40));
  w.set("huge", Value::make_u64(ValueType::UINT64, std::numeric_limits<uint64_t>::max()));
  w.set_f32("f", 0.5f);
  w.set_i32_array("ia", {1, 2});
  w.set("i64a", Value::make_array(ValueType::INT64, {Value::make_i64(ValueType::INT64, 1ll << 40)}));
  w.set_bool("b", true);
  const auto bytes = w.to_bytes();
  auto f = File::parse(bytes.data(), bytes.size());

  EXPECT_EQ(f->get_string("absent"), std::nullopt);
  EXPECT_EQ(f->get_int("absent"), std::nullopt);
  EXPECT_EQ(f->get_u32("absent"), std::nullopt);
  EXPECT_EQ(f->get_float("absent"), std::nullopt);
  EXPECT_EQ(f->get_bool("absent"), std::nullopt);
  EXPECT_EQ(f->get_string_array("absent"), std::nullopt);
  EXPECT_EQ(f->get_f32_array("absent"), std::nullopt);
  EXPECT_EQ(f->get_i32_array("absent"), std::nullopt);

  // Errors name the key.
  EXPECT_NE(error_of([&] { f->get_int("s"); }).find("'s'"), std::string::npos);
  EXPECT_NE(error_of([&] { f->get_string("neg"); }).find("'neg' has type i32, expected string"), std::string::npos);
  EXPECT_NE(error_of([&] { f->get_u32("neg"); }).find("out of range for u32"), std::string::npos);
  EXPECT_NE(error_of([&] { f->get_u32("big"); }).find("'big'"), std::string::npos);
  EXPECT_EQ(f->get_int("big"), int64_t(1) << 40);
  EXPECT_THROW(f->get_int("huge"), Error);
  EXPECT_THROW(f->get_bool("neg"), Error);
  EXPECT_THROW(f->get_float("s"), Error);
  EXPECT_EQ(f->get_float("neg"), -1.0);  // integers are accepted as floats
  EXPECT_THROW(f->get_string_array("ia"), Error);
  EXPECT_THROW(f->get_string_array("s"), Error);
  EXPECT_EQ(f->get_f32_array("ia"), (std::vector<float>{1.f, 2.f}));
  EXPECT_NE(error_of([&] { f->get_i32_array("i64a"); }).find("out of range"), std::string::npos);
  EXPECT_THROW(f->get_i32_array("f"), Error);
  EXPECT_EQ(f->get_bool("b"), true);
}

// A model split into 3 files with gguf-split's keys, opened as one.
class GgufSplit : public ::testing::Test {
 protected:
  std::filesystem::path dir;
  std::vector<std::vector<uint8_t>> data;

  void SetUp() override { dir = scratch_dir(std::string("gguf_split_") + ::testing::UnitTest::GetInstance()->current_test_info()->name()); }

  std::filesystem::path part(int i) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05d-of-00003.gguf", i);
    return dir / buf;
  }

  // Part i (0-based) holds tensors "t<i>.a" and "t<i>.b"; part 0 also the model metadata.
  void write_parts(int32_t tensors_count = 6, int skip_part = -1, int bad_no_part = -1) {
    for (int i = 0; i < 3; ++i) {
      Writer w;
      if (i == 0) w.set_string("general.architecture", "llama");
      w.set("split.no", Value::make_u64(ValueType::UINT16, i == bad_no_part ? 7 : i));
      w.set("split.count", Value::make_u64(ValueType::UINT16, 3));
      w.set_i32("split.tensors.count", tensors_count);
      w.set_string("part.name", std::string("part") += std::to_string(i));
      for (const char* s : {"a", "b"}) {
        data.push_back(tensor_bytes(GgmlType::F32, {4, 2}, uint32_t(data.size())));
        // Appended piecewise: GCC 12 warns falsely (-Wrestrict) about "t" + std::to_string(i).
        std::string name = std::string("t") += std::to_string(i);
        name += '.';
        name += s;
        w.add_tensor(name, GgmlType::F32, {4, 2}, data.back().data(), data.back().size());
      }
      if (i != skip_part) w.write(part(i + 1));
    }
  }
};

TEST_F(GgufSplit, ThreePartsReadAsOne) {
  write_parts();
  auto f = File::open(part(1));
  EXPECT_EQ(f->n_splits(), 3);
  uint64_t total = 0;
  for (int i = 1; i <= 3; ++i) total += std::filesystem::file_size(part(i));
  EXPECT_EQ(f->total_bytes(), total);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_string("part.name"), "part0");  // metadata comes from part 1
  ASSERT_EQ(f->tensors().size(), 6u);
  for (size_t k = 0; k < 6; ++k) {
    const TensorInfo& t = f->tensors()[k];
    EXPECT_EQ(t.split, int(k / 2));
    const char* expected[] = {"t0.a", "t0.b", "t1.a", "t1.b", "t2.a", "t2.b"};
    EXPECT_EQ(t.name, expected[k]);
    EXPECT_EQ(std::memcmp(t.data, data[k].data(), t.nbytes), 0);
    EXPECT_EQ(f->tensor(t.name), &t);
  }
}

TEST_F(GgufSplit, MissingPartNamed) {
  write_parts(6, /*skip_part=*/2);
  const std::string e = error_of([&] { File::open(part(1)); });
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  EXPECT_NE(e.find(part(3).filename().string()), std::string::npos) << e;
}

TEST_F(GgufSplit, TensorCountMismatch) {
  write_parts(7);
  const std::string e = error_of([&] { File::open(part(1)); });
  EXPECT_NE(e.find("split.tensors.count is 7"), std::string::npos) << e;
}

TEST_F(GgufSplit, WrongSplitNumber) {
  write_parts(6, -1, /*bad_no_part=*/1);
  const std::string e = error_of([&] { File::open(part(1)); });
  EXPECT_NE(e.find("split.no is 7, expected 1"), std::string::npos) << e;
}

TEST_F(GgufSplit, OpeningALaterPartPointsToTheFirst) {
  write_parts();
  const std::string e = error_of([&] { File::open(part(2)); });
  EXPECT_NE(e.find("part 2 of a split model"), std::string::npos) << e;
}

TEST_F(GgufSplit, SplitCountWithoutSplitFileName) {
  write_parts();
  const auto renamed = dir / "renamed.gguf";
  std::filesystem::copy_file(part(1), renamed);
  const std::string e = error_of([&] { File::open(renamed); });
  EXPECT_NE(e.find("split.count is 3"), std::string::npos) << e;
}

TEST(GgufOpen, MissingAndEmptyFiles) {
  const auto dir = scratch_dir("gguf_open");
  EXPECT_NE(error_of([&] { File::open(dir / "nope.gguf"); }).find("cannot open"), std::string::npos);
  std::ofstream(dir / "empty.gguf").close();
  EXPECT_NE(error_of([&] { File::open(dir / "empty.gguf"); }).find("not a GGUF file"), std::string::npos);
  EXPECT_NE(error_of([&] { File::open(dir); }).find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace nnb::gguf

// Every fixture model opens, and every tensor's name, type, shape, offset, size and raw bytes
// equal llama.cpp's (golden/dequant-<model>.json). Vocabulary-only files open too.
#include <gtest/gtest.h>

#include "engine/gguf/gguf.h"
#include "test_util.h"

namespace nnb::gguf {
namespace {

class GgufFixtureModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFixtureModel, TensorsMatchGolden) {
  const std::string model = GetParam();
  NNB_FIXTURE_OR_SKIP(path, "models/" + model + ".gguf");
  NNB_FIXTURE_OR_SKIP(golden_path, "golden/dequant-" + model + ".json");
  const auto golden = test::load_json(golden_path);
  auto f = File::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), golden["alignment"].get<uint64_t>());
  EXPECT_EQ(f->n_splits(), 1);
  EXPECT_EQ(f->total_bytes(), std::filesystem::file_size(path));
  ASSERT_EQ(f->tensors().size(), golden["tensors"].size());
  uint64_t first = ~uint64_t(0);
  for (const auto& g : golden["tensors"]) {
    const std::string name = g["name"];
    SCOPED_TRACE(name);
    const TensorInfo* t = f->tensor(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(type_name(t->type), g["type"].get<std::string>());
    for (int d = 0; d < 4; ++d) EXPECT_EQ(t->ne[d], g["ne"][d].get<int64_t>());
    EXPECT_EQ(t->offset, g["file_offset"].get<uint64_t>());
    EXPECT_EQ(t->nbytes, g["nbytes"].get<uint64_t>());
    EXPECT_EQ(test::sha256_hex(t->data, t->nbytes), g["raw_sha256"].get<std::string>());
    first = std::min(first, t->offset);
  }
  EXPECT_EQ(first, golden["data_offset"].get<uint64_t>());
}

INSTANTIATE_TEST_SUITE_P(All, GgufFixtureModel,
                         ::testing::Values("stories260K", "llama-2-tiny-random", "synth-4M-F32", "synth-4M-F16",
                                           "synth-4M-BF16", "synth-4M-Q8_0", "synth-4M-Q4_0", "synth-4M-Q4_1",
                                           "synth-4M-Q5_0", "synth-4M-Q5_1", "synth-4M-Q2_K", "synth-4M-Q3_K_M",
                                           "synth-4M-Q4_K_M", "synth-4M-Q5_K_M", "synth-4M-Q6_K", "synth-4M-IQ4_NL",
                                           "synth-4M-IQ4_XS"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(GgufFixtures, Stories260KMetadata) {
  NNB_FIXTURE_OR_SKIP(path, "models/stories260K.gguf");
  auto f = File::open(path);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(f->get_u32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f->get_u32("llama.block_count"), 5u);
  EXPECT_EQ(f->get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_FLOAT_EQ(float(*f->get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  // The invalid ids are stored as u32 0xFFFFFFFF; judging them is the tokenizer's job.
  EXPECT_EQ(f->get_u32("tokenizer.ggml.padding_token_id"), 0xFFFFFFFFu);
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ(f->get_f32_array("tokenizer.ggml.scores")->size(), 512u);
  EXPECT_EQ(f->get_i32_array("tokenizer.ggml.token_type")->at(0), 2);
}

TEST(GgufFixtures, VocabFilesOpen) {
  for (const char* name : {"ggml-vocab-llama-spm", "ggml-vocab-phi-3", "ggml-vocab-gpt-2", "ggml-vocab-deepseek-llm",
                           "ggml-vocab-starcoder"}) {
    SCOPED_TRACE(name);
    NNB_FIXTURE_OR_SKIP(path, std::string("vocab/") + name + ".gguf");
    auto f = File::open(path);
    EXPECT_TRUE(f->tensors().empty());
    const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens);
    EXPECT_GT(tokens->size(), 30000u);
    EXPECT_TRUE(f->get_string("tokenizer.ggml.model"));
    if (f->get_string("tokenizer.ggml.model") == "gpt2") {
      EXPECT_TRUE(f->get_string_array("tokenizer.ggml.merges"));
    }
  }
}

}  // namespace
}  // namespace nnb::gguf

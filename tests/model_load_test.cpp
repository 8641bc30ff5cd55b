// Model loading refuses what it cannot run with a message naming the problem (run under
// ASan/UBSan by scripts/test.sh): the fixtures' malformed files, and generated files with an
// unsupported architecture, a missing tensor or a wrong shape.
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/model/model_gen.h"
#include "test_util.h"

namespace nnb {
namespace {

std::string load_error(const std::filesystem::path& p) {
  try {
    Model::load(p);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ModelLoad, FixtureNegativesAreRefusedWithSpecificMessages) {
  NNB_FIXTURE_OR_SKIP(dir, "models/negative");
  const std::string v1 = load_error(dir / "tinyllamas-stories-260k-f32.gguf");
  EXPECT_NE(v1.find("GGUF v1 is not supported"), std::string::npos) << v1;
  const std::string ggjt = load_error(dir / "TinyLLama-v0.ggmlv3.q4_0.bin");
  EXPECT_NE(ggjt.find("ggjt"), std::string::npos) << ggjt;
  const std::string block = load_error(dir / "tinyllamas-stories-260k-q8_0.gguf");
  EXPECT_NE(block.find("blk.0.ffn_down.weight"), std::string::npos) << block;
  EXPECT_NE(block.find("172"), std::string::npos) << block;
  const std::string corrupt = load_error(dir / "ggml-vocab-llama-spm.CORRUPTED.gguf");
  EXPECT_NE(corrupt.find("past the end"), std::string::npos) << corrupt;
}

TEST(ModelLoad, MissingFileNamesThePath) {
  const std::string e = load_error("/nonexistent/dir/model.gguf");
  EXPECT_NE(e.find("/nonexistent/dir/model.gguf"), std::string::npos) << e;
}

// Rewrites a generated model's metadata / tensors through the reader and writer.
std::filesystem::path rewrite(const std::filesystem::path& src, const std::string& out_name,
                              const std::function<void(gguf::Writer&, const gguf::File&)>& edit) {
  auto f = gguf::File::open(src);
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  edit(w, *f);
  const auto out = src.parent_path() / out_name;
  w.write(out);
  return out;
}

void copy_tensors(gguf::Writer& w, const gguf::File& f, const std::string& skip = "",
                  const std::string& reshape = "") {
  for (const auto& t : f.tensors()) {
    if (t.name == skip) continue;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    if (t.name == reshape) std::swap(ne[0], ne[1]);
    w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
  }
}

TEST(ModelLoad, GeneratedModelRefusals) {
  const auto dir = test::scratch_dir("model_load");
  ModelSpec spec;
  spec.n_embd = 64;
  spec.n_ff = 128;
  spec.n_head = 4;
  spec.n_head_kv = 4;  // square q/k/v so that a transposed tensor keeps its size
  const auto good = dir / "good.gguf";
  write_model(spec, good);
  EXPECT_NO_THROW(Model::load(good));

  auto arch = rewrite(good, "arch.gguf", [](gguf::Writer& w, const gguf::File& f) {
    w.set_string("general.architecture", "gptneox");
    copy_tensors(w, f);
  });
  EXPECT_NE(load_error(arch).find("unsupported model architecture 'gptneox'"), std::string::npos) << load_error(arch);

  auto missing = rewrite(good, "missing.gguf", [](gguf::Writer& w, const gguf::File& f) {
    copy_tensors(w, f, "blk.1.ffn_up.weight");
  });
  EXPECT_NE(load_error(missing).find("'blk.1.ffn_up.weight' is missing"), std::string::npos) << load_error(missing);

  auto shape = rewrite(good, "shape.gguf", [](gguf::Writer& w, const gguf::File& f) {
    copy_tensors(w, f, "", "blk.0.ffn_gate.weight");
  });
  EXPECT_NE(load_error(shape).find("'blk.0.ffn_gate.weight' has shape [128, 64], expected [64, 128]"),
            std::string::npos)
      << load_error(shape);

  // Head count x head size that would wrap a 32-bit product (and shrink every buffer sized
  // from it) is refused before anything is sized.
  auto wide = rewrite(good, "wide.gguf", [](gguf::Writer& w, const gguf::File& f) {
    w.set_u32("llama.attention.head_count", 65536);
    w.set_u32("llama.attention.head_count_kv", 1);
    w.set_u32("llama.attention.key_length", 65538);
    w.set_u32("llama.rope.dimension_count", 2);
    copy_tensors(w, f);
  });
  EXPECT_NE(load_error(wide).find("head_count * key_length = 4295098368 exceeds"), std::string::npos)
      << load_error(wide);

  auto nokey = rewrite(good, "nokey.gguf", [](gguf::Writer& w, const gguf::File& f) {
    w.set_string("llama.block_count", "two");
    copy_tensors(w, f);
  });
  EXPECT_NE(load_error(nokey).find("llama.block_count"), std::string::npos) << load_error(nokey);
}

}  // namespace
}  // namespace nnb

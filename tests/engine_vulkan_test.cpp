// The Vulkan device against the CPU device and llama.cpp's golden outputs, on whatever Vulkan
// device the machine has (in CI: Mesa's lavapipe, which runs the same SPIR-V on the CPU).
//   * generated models (llama and qwen2 rows; all 15 weight types: F32, F16, BF16, Q8_0, Q4_0,
//     Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS; head dims 16 to 256; GQA;
//     odd widths for the float types): logits of a batch and of single tokens against the CPU
//     device's on an F32 copy of the model holding the dequantized weights (the shaders multiply
//     dequantized weights with f32 activations; the CPU device rounds activations to Q8_0 / f16
//     for quantized / f16 weights, as ggml does, so only the F32 copy makes the two comparable to
//     f32 rounding — which is what catches a wrong block layout or scale);
//   * several sequences in one batch, a fork from a shared prefix (copy-on-write in device
//     memory) and a dropped sequence, against the CPU device doing the same;
//   * two contexts sharing one model's uploaded weights give what each gives alone;
//   * the fixtures' models of every type against their f64 reference (llama.cpp's golden logits
//     printed beside) and stories260K's 64-token greedy story, identical;
//   * each matrix shader (matvec with subgroup sums and with shared-memory sums, matmat, and the
//     choice by batch size) for every type, against f64 dot products of the dequantized
//     weights, at sizes that are no multiple of the tiles (rows split across chunks; batches of
//     1, 3, 8, 33, 70 rows; activations staged in shared memory and too long for it);
//   * bad device names are refused (every type the engine loads now has a shader, so the
//     refusal of a type without one cannot be reached from a model file).
// Without a usable Vulkan device the tests skip, unless NNB_REQUIRE_VULKAN=1 (.ci/run sets it:
// CI installs lavapipe) makes that a failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/gguf/gguf.h"
#include "engine/model/model_gen.h"
#include "engine/quant/quants.h"
#include "engine/runtime/context.h"
#include "engine/runtime/devices.h"
#include "engine/runtime/generation.h"
#include "engine/vulkan/vulkan_device.h"
#include "test_util.h"
#include "vulkan_available.h"

namespace nnb {
namespace {


const std::filesystem::path& dir() {
  static const std::filesystem::path d = test::scratch_dir("engine_vulkan");
  return d;
}

struct Diff {
  double max = 0, rms = 0, scale = 0;  // max |a-b|, rms(a-b), max |b|
};
Diff diff(const float* a, const float* b, size_t n) {
  Diff d;
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = std::fabs(double(a[i]) - double(b[i]));
    d.max = std::max(d.max, e);
    d.scale = std::max(d.scale, std::fabs(double(b[i])));
    ss += e * e;
  }
  d.rms = std::sqrt(ss / double(n));
  return d;
}

// Relative bound (max |Δ| / max |logit|) against the CPU on the dequantized F32 copy: 4x the
// worst measured on lavapipe (f32 sums in another order).
constexpr double kBound = 4 * 1.1e-5;
// gemma's GELU rounds its input and output to f16 (ggml's table, on both devices): f32 sums in
// another order flip single f16 roundings, measured up to 6.2e-5; 4x that.
constexpr double kGeluBound = 4 * 6.2e-5;
// starcoder2's ungated GELU MLP passes such flips on undamped: measured up to 9.7e-5.
constexpr double kGeluMlpBound = 4 * 9.7e-5;

// The same model with every tensor dequantized to F32 (metadata copied).
std::filesystem::path dequantized_copy(const std::filesystem::path& src) {
  const auto dst = src.parent_path() / (src.stem().string() + ".as-f32.gguf");
  if (std::filesystem::exists(dst)) return dst;
  auto f = gguf::File::open(src);
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata())
    if (k != "general.alignment") w.set(k, v);
  std::vector<float> buf;
  for (const gguf::TensorInfo& t : f->tensors()) {
    buf.resize(size_t(t.n_elements()));
    const size_t rb = row_size(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); ++r) dequantize_row(t.type, t.data + size_t(r) * rb, buf.data() + size_t(r * t.ne[0]), t.ne[0]);
    w.add_tensor(t.name, GgmlType::F32, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), buf.data(),
                 buf.size() * sizeof(float));
  }
  w.write(dst);
  return dst;
}

struct Shape {
  const char* name;
  const char* arch;
  int32_t n_embd, n_head, n_head_kv, n_ff;
  bool float_only;  // widths that are not whole quantization blocks
};
const Shape kShapes[] = {
    {"llama_hd16_gqa", "llama", 64, 4, 2, 192, false},
    {"qwen2_hd16_gqa", "qwen2", 64, 4, 2, 192, false},
    {"llama_hd80", "llama", 160, 2, 1, 224, false},
    {"llama_hd128", "llama", 256, 2, 2, 256, false},
    {"qwen2_hd256", "qwen2", 256, 1, 1, 320, false},
    {"llama_odd_ff", "llama", 64, 4, 4, 200, true},
    {"llama_kquant_hd64", "llama", 256, 4, 2, 512, false},
    {"gemma_hd64", "gemma", 256, 4, 2, 512, false},  // embedding scale, GELU-gated FFN, tied output
    {"phi3_window", "phi3", 256, 8, 4, 512, false},  // fused QKV and gate/up, sliding window of 5
    {"gemma2_capped", "gemma2", 256, 4, 2, 512, false},  // post norms, soft-capping, window on even layers
    {"starcoder2_ln", "starcoder2", 256, 8, 4, 512, false},  // LayerNorms, biases everywhere, GELU MLP
    {"command_r_parallel", "command-r", 256, 4, 2, 512, false},  // weight-only LayerNorm, parallel FFN, logit scale
};

struct Case {
  Shape shape;
  GgmlType type;
};
std::vector<Case> cases() {
  std::vector<Case> v;
  for (const Shape& s : kShapes)
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                       GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                       GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS}) {
      const bool is_float = t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
      const int64_t block = traits(t).block_size;  // 1, 32, or 256 (k-quant / IQ4_XS superblocks)
      if (s.float_only && !is_float) continue;
      if (s.n_embd % block || s.n_ff % block) continue;
      // Every type on the shape that takes them all; the other shapes (head dims, GQA, qwen2)
      // with one type per shader family, which is where shapes matter (the suite's time on
      // lavapipe: every case is two contexts and a model written twice).
      const bool family = t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::Q4_0 ||
                          t == GgmlType::Q4_K || t == GgmlType::Q6_K;
      if (std::string(s.name) != "llama_kquant_hd64" && !family) continue;
      v.push_back({s, t});
    }
  return v;
}

std::filesystem::path model_for(const Case& c) {
  ModelSpec sp;
  sp.arch = c.shape.arch;
  sp.n_embd = c.shape.n_embd;
  sp.n_head = c.shape.n_head;
  sp.n_head_kv = c.shape.n_head_kv;
  sp.n_ff = c.shape.n_ff;
  sp.type = c.type;
  sp.output_type = c.type;
  sp.weight_std = 0.15f;
  sp.seed = 5;
  sp.sliding_window = 5;  // read by the rows that have a window (phi3)
  const auto p = dir() / (std::string(c.shape.name) + "_" + std::string(type_name(c.type)) + ".gguf");
  if (!std::filesystem::exists(p)) write_model(sp, p);
  return p;
}

ContextParams params(const std::string& device) {
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 2;
  cp.device = device;
  return cp;
}

class VulkanVsCpu : public ::testing::TestWithParam<Case> {};

TEST_P(VulkanVsCpu, BatchAndSingleTokensAgree) {
  NNB_VULKAN_OR_SKIP();
  const Case& c = GetParam();
  const auto path = model_for(c);
  auto model = Model::load(path);
  auto f32 = Model::load(dequantized_copy(path));
  const int32_t V = model->hparams().n_vocab;
  Context cpu(*f32, params("cpu")), gpu(*model, params("vulkan"));
  std::vector<Token> prompt;
  for (int i = 0; i < 21; ++i) prompt.push_back(Token(3 + (i * 37) % (V - 3)));
  cpu.decode(prompt, true);
  gpu.decode(prompt, true);
  Diff worst;
  for (int32_t i = 0; i < int32_t(prompt.size()); ++i) {
    const Diff d = diff(gpu.logits_at(i), cpu.logits_at(i), size_t(V));
    worst.max = std::max(worst.max, d.max / d.scale);
    worst.rms = std::max(worst.rms, d.rms / d.scale);
  }
  {
    // The last position's logits only: the last layer runs on that row alone, gathered to the
    // front of the buffers (with a parallel FFN, its norm too).
    Context gpu_last(*model, params("vulkan"));
    gpu_last.decode(prompt, false);
    const Diff d = diff(gpu_last.logits(), cpu.logits_at(int32_t(prompt.size()) - 1), size_t(V));
    worst.max = std::max(worst.max, d.max / d.scale);
    worst.rms = std::max(worst.rms, d.rms / d.scale);
  }
  for (int step = 0; step < 6; ++step) {
    const Token t = Token(7 + step * 11);
    cpu.decode(std::span<const Token>(&t, 1));
    gpu.decode(std::span<const Token>(&t, 1));
    const Diff d = diff(gpu.logits(), cpu.logits(), size_t(V));
    worst.max = std::max(worst.max, d.max / d.scale);
    worst.rms = std::max(worst.rms, d.rms / d.scale);
  }
  const std::string arch = c.shape.arch;
  const double bound = arch == "starcoder2" ? kGeluMlpBound : arch.starts_with("gemma") ? kGeluBound : kBound;
  std::printf("[ measured ] %s %s: vulkan vs cpu on the f32 copy, relative max %.2g rms %.2g (bound %.2g)\n",
              c.shape.name, type_name(c.type).data(), worst.max, worst.rms, bound);
  EXPECT_LE(worst.max, bound);
}

INSTANTIATE_TEST_SUITE_P(Shapes, VulkanVsCpu, ::testing::ValuesIn(cases()), [](const auto& info) {
  return std::string(info.param.shape.name) + "_" + std::string(type_name(info.param.type));
});

// The matrix shaders one by one: y = W x for every type and shader against f64 sums of the
// dequantized weights, relative to sum |w x| (f32 sums in another order). K: a few blocks (fewer
// halves of blocks than a subgroup has lanes; the float types' rows end inside a block) and 2304
// values (4 batch rows of it do not fit the shared-memory stage, 3 do); 131 rows in chunks of
// 100 (a partial tile in each chunk, the second chunk's rows offset); every batch size leaves a
// partial tile of some shader.
constexpr GgmlType kAllTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,   GgmlType::Q4_0,
                                  GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL, GgmlType::Q2_K,
                                  GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,   GgmlType::IQ4_XS};
// f32 sums of up to 2304 products in another order: measured up to 2.6e-7 of sum |w x| on
// lavapipe (matmat, one running sum per output); 4x that.
constexpr double kProductBound = 4 * 2.6e-7;

class VulkanKernels : public ::testing::TestWithParam<GgmlType> {};

TEST_P(VulkanKernels, ProductsMatchTheDequantizedWeights) {
  NNB_VULKAN_OR_SKIP();
  const GgmlType type = GetParam();
  ASSERT_TRUE(can_quantize(type)) << type_name(type);
  const int64_t block = traits(type).block_size;
  const bool is_float = block == 1;
  const int64_t M = 131;
  struct Kernel {
    const char* name;
    vk::MatKernel kernel;
    bool subgroups;
    double worst = 0;
  };
  Kernel kernels[] = {{"matvec (subgroup sums)", vk::MatKernel::Vec, true},
                      {"matvec (shared-memory sums)", vk::MatKernel::Vec, false},
                      {"matmat", vk::MatKernel::Mat, true},
                      {"chosen by batch size", vk::MatKernel::Auto, true}};
  uint32_t seed = 12345;
  auto rnd = [&] {  // uniform in [-1, 1)
    seed = seed * 1664525u + 1013904223u;
    return float(seed >> 8) / float(1 << 23) - 1.0f;
  };
  for (const int64_t K : {is_float ? int64_t(77) : std::max<int64_t>(block, 96), int64_t(is_float ? 2301 : 2304)}) {
    const size_t rb = row_size(type, K);
    std::vector<uint8_t> w(rb * size_t(M));
    std::vector<float> row(static_cast<size_t>(K)), deq(static_cast<size_t>(K * M));
    for (int64_t r = 0; r < M; ++r) {
      for (auto& v : row) v = rnd() * (1.0f + float(r % 7));
      quantize_row(type, row.data(), w.data() + size_t(r) * rb, K);
      dequantize_row(type, w.data() + size_t(r) * rb, deq.data() + size_t(r * K), K);
    }
    for (const int32_t n : {1, 3, 8, 33, 70}) {
      std::vector<float> x(size_t(n) * size_t(K));
      for (auto& v : x) v = rnd();
      std::vector<double> ref(size_t(n) * size_t(M)), mag(ref.size());
      for (int32_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < M; ++r)
          for (int64_t k = 0; k < K; ++k) {
            const double p = double(deq[size_t(r * K + k)]) * double(x[size_t(t) * size_t(K) + size_t(k)]);
            ref[size_t(t) * size_t(M) + size_t(r)] += p;
            mag[size_t(t) * size_t(M) + size_t(r)] += std::fabs(p);
          }
      for (Kernel& kn : kernels) {
        const auto y = vk::test_product(0, type, w.data(), K, M, x.data(), n, kn.kernel, kn.subgroups, 100);
        ASSERT_EQ(y.size(), ref.size());
        for (size_t i = 0; i < y.size(); ++i) {
          const double e = std::fabs(double(y[i]) - ref[i]) / mag[i];
          kn.worst = std::max(kn.worst, e);
          ASSERT_LE(e, kProductBound) << kn.name << ", K " << K << ", n " << n << ", batch row " << i / size_t(M)
                                      << ", weight row " << i % size_t(M);
        }
      }
    }
  }
  for (const Kernel& kn : kernels)
    std::printf("[ measured ] %s %s: relative max %.2g of sum |w x| (bound %.2g)\n", type_name(type).data(), kn.name,
                kn.worst, kProductBound);
}

INSTANTIATE_TEST_SUITE_P(Types, VulkanKernels, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(type_name(info.param)); });

// Two sequences interleaved in one batch, then sequence 2 forked from sequence 0's first 9
// positions (sharing a partly filled block: the first write copies it in device memory), then
// sequence 1 dropped and reused — the same on both devices.
TEST(VulkanDevice, SequencesForkAndDropLikeTheCpu) {
  NNB_VULKAN_OR_SKIP();
  const Case c{kShapes[0], GgmlType::F32};
  auto model = Model::load(model_for(c));
  const int32_t V = model->hparams().n_vocab;
  Context cpu(*model, params("cpu")), gpu(*model, params("vulkan"));
  double worst = 0;
  auto both = [&](const std::vector<BatchToken>& b) {
    cpu.decode(std::span<const BatchToken>(b));
    gpu.decode(std::span<const BatchToken>(b));
    for (int32_t i = 0; i < int32_t(b.size()); ++i)
      if (b[size_t(i)].logits) {
        const Diff d = diff(gpu.logits_ith(i), cpu.logits_ith(i), size_t(V));
        worst = std::max(worst, d.max / d.scale);
      }
  };
  std::vector<BatchToken> b;
  for (int32_t p = 0; p < 12; ++p) {
    b.push_back({Token(10 + p), p, 0, true});
    b.push_back({Token(40 + p), p, 1, true});
  }
  both(b);
  cpu.fork_sequence(0, 2, 9);
  gpu.fork_sequence(0, 2, 9);
  both({{Token(99), 9, 2, true}, {Token(77), 12, 0, true}, {Token(55), 12, 1, true}});
  cpu.drop_sequence(1);
  gpu.drop_sequence(1);
  both({{Token(5), 0, 1, true}, {Token(6), 1, 1, true}, {Token(100), 10, 2, true}, {Token(78), 13, 0, true}});
  std::printf("[ measured ] sequences: vulkan vs cpu relative max %.2g\n", worst);
  EXPECT_LE(worst, kBound);
}

// Attention over many keys: the online softmax takes 64 keys per round and the block table 16
// positions per entry, so 300 positions run 5 rounds over 19 blocks, against the CPU on the
// F32 copy; both batch (prompt) and single-token rows.
TEST(VulkanDevice, LongContextAttention) {
  NNB_VULKAN_OR_SKIP();
  const Case c{kShapes[3], GgmlType::Q4_0};  // llama head dim 128
  const auto path = model_for(c);
  auto model = Model::load(path);
  auto f32 = Model::load(dequantized_copy(path));
  const int32_t V = model->hparams().n_vocab;
  ContextParams cp = params("vulkan");
  cp.n_ctx = 512;
  cp.n_batch = 128;  // the prompt in three passes, the later ones attending to the earlier
  Context gpu(*model, cp);
  cp.device = "cpu";
  Context cpu(*f32, cp);
  std::vector<Token> prompt;
  for (int i = 0; i < 290; ++i) prompt.push_back(Token(3 + (i * 131) % (V - 3)));
  gpu.decode(prompt);
  cpu.decode(prompt);
  double worst = 0;
  auto check = [&] {
    const Diff d = diff(gpu.logits(), cpu.logits(), size_t(V));
    worst = std::max(worst, d.max / d.scale);
  };
  check();
  for (int k = 0; k < 10; ++k) {
    const Token t = Token(11 + k * 7);
    gpu.decode(std::span<const Token>(&t, 1));
    cpu.decode(std::span<const Token>(&t, 1));
    check();
  }
  std::printf("[ measured ] 300 positions: vulkan vs cpu on the f32 copy, relative max %.2g\n", worst);
  EXPECT_LE(worst, kBound);
}

// Two contexts on one model share its uploaded weights; interleaved, each gives what it gives
// alone.
TEST(VulkanDevice, ContextsShareOneModel) {
  NNB_VULKAN_OR_SKIP();
  const Case c{kShapes[1], GgmlType::Q4_0};
  auto model = Model::load(model_for(c));
  const int32_t V = model->hparams().n_vocab;
  auto run_alone = [&](Token first) {
    Context ctx(*model, params("vulkan"));
    std::vector<float> out;
    for (int i = 0; i < 5; ++i) {
      const Token t = Token(first + i);
      ctx.decode(std::span<const Token>(&t, 1));
      out.insert(out.end(), ctx.logits(), ctx.logits() + V);
    }
    return out;
  };
  const auto a = run_alone(20), b = run_alone(300);
  Context ca(*model, params("vulkan")), cb(*model, params("vulkan"));
  for (int i = 0; i < 5; ++i) {
    const Token ta = Token(20 + i), tb = Token(300 + i);
    ca.decode(std::span<const Token>(&ta, 1));
    cb.decode(std::span<const Token>(&tb, 1));
    EXPECT_EQ(0, std::memcmp(ca.logits(), a.data() + size_t(i) * size_t(V), size_t(V) * sizeof(float))) << i;
    EXPECT_EQ(0, std::memcmp(cb.logits(), b.data() + size_t(i) * size_t(V), size_t(V) * sizeof(float))) << i;
  }
}

// Bad device names. (The refusal of a weight type without a shader is no longer reachable:
// every type Model::load accepts has one.)
// --n-gpu-layers: the first N layers on the GPU, the rest and the output on the CPU, the
// residual stream crossing once per pass; the logits agree with all layers on either device.
TEST(VulkanDevice, SplitLayersAgreeWithEitherDevice) {
  NNB_VULKAN_OR_SKIP();
  ModelSpec sp;
  sp.n_layer = 4;
  sp.weight_std = 0.15f;
  sp.seed = 9;
  const auto p = dir() / "four_layers.gguf";
  write_model(sp, p);
  auto model = Model::load(p);
  const int32_t V = model->hparams().n_vocab;
  std::vector<Token> prompt;
  for (int i = 0; i < 13; ++i) prompt.push_back(Token(5 + i * 17));
  auto run = [&](const std::string& device, int32_t n_gpu_layers, int32_t* on_device) {
    ContextParams cp = params(device);
    cp.n_gpu_layers = n_gpu_layers;
    Context ctx(*model, cp);
    *on_device = ctx.n_device_layers();
    std::vector<float> out;
    ctx.decode(prompt, true);
    for (int32_t i = 0; i < int32_t(prompt.size()); ++i) out.insert(out.end(), ctx.logits_at(i), ctx.logits_at(i) + V);
    for (int k = 0; k < 3; ++k) {
      const Token t = Token(40 + k);
      ctx.decode(std::span<const Token>(&t, 1));
      out.insert(out.end(), ctx.logits(), ctx.logits() + V);
    }
    return out;
  };
  int32_t layers = 0;
  const auto cpu = run("cpu", -1, &layers);
  const auto gpu = run("vulkan", -1, &layers);
  EXPECT_EQ(layers, 4);
  for (int32_t split : {0, 1, 2, 3}) {
    const auto part = run("vulkan", split, &layers);
    EXPECT_EQ(layers, split == 0 ? 4 : split) << "layers on the first device";
    const Diff a = diff(part.data(), gpu.data(), part.size()), b = diff(part.data(), cpu.data(), part.size());
    std::printf("[ measured ] %d of 4 layers on the GPU: vs all on the GPU %.2g, vs the CPU %.2g (relative max)\n", split,
                a.max / a.scale, b.max / b.scale);
    EXPECT_LE(a.max / a.scale, kBound);
    EXPECT_LE(b.max / b.scale, kBound);
  }
}

TEST(VulkanDevice, RefusesWhatItCannotRun) {
  NNB_VULKAN_OR_SKIP();
  const Case c{kShapes[0], GgmlType::F32};
  auto model = Model::load(model_for(c));
  EXPECT_THROW(Context(*model, params("vulkan:99")), std::runtime_error);
  EXPECT_THROW(Context(*model, params("gpu")), std::invalid_argument);
  EXPECT_THROW(check_device_spec("vulkan:x"), std::invalid_argument);
}

// The 5 golden positions (last prompt token, then 4 greedy steps, teacher-forced) of the
// fixture models whose types the device computes, against the fixtures' f64 reference (exact
// math on the dequantized weights: what the shaders compute, up to f32 rounding), and printed
// against llama.cpp's CPU logits, which differ by its activation rounding (up to ~1 for the
// quantized files, as the fixtures' README says).
TEST(VulkanDevice, GoldenLogitsOfTheFixtureModels) {
  NNB_VULKAN_OR_SKIP();
  struct G {
    const char* model;
    double f64_bound;  // max |Δ| vs the f64 reference: 4x measured on lavapipe
  };
  const G kGolden[] = {{"stories260K", 4 * 1e-5},     {"synth-4M-F32", 4 * 6e-5},     {"synth-4M-F16", 4 * 6e-5},
                       {"synth-4M-BF16", 4 * 6e-5},   {"synth-4M-Q8_0", 4 * 6e-5},    {"synth-4M-Q4_0", 4 * 6e-5},
                       {"synth-4M-Q4_1", 4 * 6e-5},   {"synth-4M-Q5_0", 4 * 6e-5},    {"synth-4M-Q5_1", 4 * 6e-5},
                       {"synth-4M-IQ4_NL", 4 * 6e-5}, {"synth-4M-Q2_K", 4 * 6e-5},    {"synth-4M-Q3_K_M", 4 * 6e-5},
                       {"synth-4M-Q4_K_M", 4 * 6e-5}, {"synth-4M-Q5_K_M", 4 * 6e-5},  {"synth-4M-Q6_K", 4 * 6e-5},
                       {"synth-4M-IQ4_XS", 4 * 6e-5}, {"llama-2-tiny-random", 4 * 1e-6}};
  for (const G& gm : kGolden) {
    const std::string name = gm.model;
    NNB_FIXTURE_OR_SKIP(path, "models/" + name + ".gguf");
    NNB_FIXTURE_OR_SKIP(gpath, "golden/" + name + ".json");
    NNB_FIXTURE_OR_SKIP(rpath, "golden/ref-f64/" + name + ".json");
    const auto g = test::load_json(gpath), ref = test::load_json(rpath);
    auto model = Model::load(path);
    const int V = model->hparams().n_vocab;
    auto seq = g["prompt_token_ids"].get<std::vector<Token>>();
    const int32_t n_prompt = int32_t(seq.size());
    for (Token t : g["greedy_token_ids"].get<std::vector<Token>>()) seq.push_back(t);
    Context ctx(*model, params("vulkan"));
    ctx.decode(seq, true);
    auto steps = [](const nlohmann::json& j) {
      std::vector<std::vector<float>> v{j["logits_last_prompt"].get<std::vector<float>>()};
      for (const auto& s : j["logits_steps"]) v.push_back(s.get<std::vector<float>>());
      return v;
    };
    const auto want_cpp = steps(g), want_f64 = steps(ref);
    Diff cpp, f64;
    for (size_t k = 0; k < want_f64.size(); ++k) {
      ASSERT_EQ(want_f64[k].size(), size_t(V));
      const float* got = ctx.logits_at(n_prompt - 1 + int32_t(k));
      const Diff a = diff(got, want_cpp[k].data(), size_t(V)), b = diff(got, want_f64[k].data(), size_t(V));
      cpp.max = std::max(cpp.max, a.max);
      cpp.rms = std::max(cpp.rms, a.rms);
      f64.max = std::max(f64.max, b.max);
      f64.rms = std::max(f64.rms, b.rms);
    }
    std::printf("[ measured ] %-20s vulkan vs f64 reference: max %.2g rms %.2g (bound %.2g); vs llama.cpp: max %.2g rms %.2g\n",
                gm.model, f64.max, f64.rms, gm.f64_bound, cpp.max, cpp.rms);
    EXPECT_LE(f64.max, gm.f64_bound) << name;
  }
}

// llama-cli's 64-token greedy story, on the GPU.
TEST(VulkanDevice, Stories260KStory64Tokens) {
  NNB_VULKAN_OR_SKIP();
  NNB_FIXTURE_OR_SKIP(path, "models/stories260K.gguf");
  NNB_FIXTURE_OR_SKIP(gpath, "golden/stories260K.llama-cpp.json");
  const auto g = test::load_json(gpath);
  auto model = Model::load(path);
  ContextParams cp = params("vulkan");
  cp.n_ctx = 2048;
  Context ctx(*model, cp);
  SamplerParams sp;
  sp.temp = 0;
  Sampler sampler(sp, model->hparams().n_vocab);
  GenerationParams gp;
  gp.n_predict = g["n_predict"].get<int>();
  Generation gen(ctx, sampler, gp);
  gen.start(model->vocab().tokenize(g["prompt"].get<std::string>(), true, true));
  while (gen.next()) {
  }
  EXPECT_EQ(gen.tokens(), g["generated_token_ids"].get<std::vector<Token>>());
  EXPECT_EQ(gen.text(), g["generated_text"].get<std::string>());
}

}  // namespace
}  // namespace nnb

// Every architecture the engine accepts (arch.h's table), on generated models (no fixtures):
// the file loads and reports its architecture, greedy generation is deterministic, and the
// engine's logits agree with a straightforward double-precision forward pass written here from
// the GGUF tensors (naive loops, no engine code). The reference knows each architecture by its
// own table below, so a row added to arch.h without a reference case here fails. Also: qwen2's
// biases matter (zeroing them changes the logits), llama's optional biases are applied when a
// file has them, the reference notices a wrong RoPE layout, and unknown architectures or
// features are refused by name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "engine/model/arch.h"
#include "engine/runtime/context.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model_gen.h"
#include "engine/quant/ggml_types.h"
#include "engine/cpu/vec_dot.h"
#include "test_util.h"

namespace nnb {
namespace {

// What the reference computes for each architecture, written independently of arch.h.
struct RefArch {
  bool neox;  // RoPE on split halves (else adjacent pairs)
  bool bias;  // Q/K/V biases added
  bool gemma = false;  // embedding x sqrt(n_embd), GELU-gated FFN, output tied to the embedding
  bool phi3 = false;   // Q/K/V in one matrix, gate/up in one matrix, sliding window
  bool gemma2 = false;  // gemma + post norms, soft-capped scores (8) and logits (12), window on even layers
  bool starcoder2 = false;  // LayerNorms with biases, biases on every projection, GELU MLP without gate
  // command-r: LayerNorms without bias, the FFN in parallel with attention (x + attn(n) +
  // ffn(n), one norm n), logits times logit_scale (0: none).
  bool ln_no_bias = false;
  bool parallel = false;
  double logit_scale = 0;
};
// The logit scale the command-r models are written with (command-r.logit_scale).
constexpr double kLogitScale = 0.5;
const std::map<std::string, RefArch, std::less<>> kRefArchs = {
    {"llama", {false, false}},
    {"qwen2", {true, true}},
    {"gemma", {true, false, true}},
    {"phi3", {true, false, false, true}},
    {"gemma2", {true, false, true, false, true}},
    {"starcoder2", {true, true, false, false, false, true}},
    {"command-r", {.neox = false, .bias = false, .ln_no_bias = true, .parallel = true, .logit_scale = kLogitScale}},
};
// The window the phi3 models are written with (keys a query sees, itself included): small,
// so that it changes the logits of the test's 24 positions.
constexpr int32_t kWindow = 5;

// GELU as ggml's CPU backend evaluates it (its f16 lookup table: input rounded to f16, the tanh
// form in f32, the result rounded to f16), which llama.cpp's gemma graph uses.
double gelu_ggml(double xd) {
  const float x = float(xd);
  if (x <= -10.0f) return 0.0;
  if (x >= 10.0f) return x;
  const float h = fp16_to_fp32(fp32_to_fp16(x));
  const float y = 0.5f * h * (1.0f + std::tanh(0.79788456080286535587989211986876f * h * (1.0f + 0.044715f * h * h)));
  return fp16_to_fp32(fp32_to_fp16(y));
}

ModelSpec small_spec(const std::string& arch) {
  ModelSpec s;  // n_embd 64, 2 layers, 4 heads / 2 KV heads (GQA), n_ff 192, 512 tokens, F32
  s.arch = arch;
  s.seed = 11;
  // Larger than the default 0.02 so that attention is far from uniform and RoPE (which
  // acts only through the Q·K scores) moves the logits measurably.
  s.weight_std = 0.15f;
  s.sliding_window = kWindow;  // read by the rows that have a window (phi3)
  return s;
}

// This process's scratch directory (made fresh on first use).
const std::filesystem::path& dir() {
  static const std::filesystem::path d = test::scratch_dir("engine_arch_generated");
  return d;
}

std::filesystem::path write(const ModelSpec& s, const std::string& name) {
  const auto p = dir() / (name + ".gguf");
  write_model(s, p);
  return p;
}

// Logits of every position of `toks`, computed in double from the file's F32 tensors.
// With `hidden`, also the final hidden states (after the output norm) of every position.
std::vector<std::vector<double>> reference_logits(const std::filesystem::path& path, const ModelSpec& sp,
                                                  const RefArch& ra, const std::vector<Token>& toks,
                                                  std::vector<std::vector<double>>* hidden = nullptr) {
  auto f = gguf::File::open(path);
  auto w = [&](const std::string& name) -> const float* {
    const gguf::TensorInfo* t = f->tensor(name);
    if (!t) throw std::runtime_error("reference: no tensor " + name);
    if (t->type != GgmlType::F32) throw std::runtime_error("reference: " + name + " is not F32");
    return reinterpret_cast<const float*>(t->data);
  };
  const int E = sp.n_embd, H = sp.n_head, HKV = sp.n_head_kv, hd = E / H, KV = HKV * hd, F = sp.n_ff;
  const int V = sp.n_vocab, T = int(toks.size());
  const double eps = 1e-5, base = 10000.0;
  using Vec = std::vector<double>;
  // y = W x, W stored as ggml [ne0 = in][ne1 = out]: row r is output r.
  auto matvec = [](const float* W, const Vec& x, int out) {
    Vec y(size_t(out), 0.0);
    const size_t in = x.size();
    for (int r = 0; r < out; ++r)
      for (size_t c = 0; c < in; ++c) y[size_t(r)] += double(W[size_t(r) * in + c]) * x[c];
    return y;
  };
  auto rmsnorm = [&](const Vec& x, const float* g) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * double(g[i]);
    return y;
  };
  // LayerNorm with bias (starcoder2) or without (command-r), else RMS norm; `name` without
  // ".weight".
  auto norm = [&](const Vec& xv, const std::string& name) {
    if (!ra.starcoder2 && !ra.ln_no_bias) return rmsnorm(xv, w(name + ".weight"));
    double mean = 0;
    for (double v : xv) mean += v / double(xv.size());
    double var = 0;
    for (double v : xv) var += (v - mean) * (v - mean) / double(xv.size());
    const double s = 1.0 / std::sqrt(var + eps);
    const float* g = w(name + ".weight");
    const float* b = ra.ln_no_bias ? nullptr : w(name + ".bias");
    Vec y(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) y[i] = (xv[i] - mean) * s * double(g[i]) + (b ? double(b[i]) : 0.0);
    return y;
  };
  auto add_bias = [&](Vec& y, const std::string& name) {
    const float* b = w(name);
    for (size_t i = 0; i < y.size(); ++i) y[i] += double(b[i]);
  };
  auto rope = [&](Vec& v, int n_heads, int pos) {
    const int half = hd / 2;
    for (int h = 0; h < n_heads; ++h)
      for (int p = 0; p < half; ++p) {
        const double th = pos * std::pow(base, -2.0 * p / hd), c = std::cos(th), s = std::sin(th);
        const size_t i0 = size_t(h * hd) + size_t(ra.neox ? p : 2 * p);
        const size_t i1 = ra.neox ? i0 + size_t(half) : i0 + 1;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * c - x1 * s;
        v[i1] = x0 * s + x1 * c;
      }
  };

  std::vector<Vec> x(toks.size());
  const float* emb = w("token_embd.weight");
  for (int t = 0; t < T; ++t) {
    x[size_t(t)].assign(emb + size_t(toks[size_t(t)]) * E, emb + size_t(toks[size_t(t)] + 1) * E);
    if (ra.gemma)
      for (double& e : x[size_t(t)]) e *= double(std::sqrt(float(E)));  // ggml scales by the f32 sqrtf
  }
  for (int l = 0; l < sp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    std::vector<Vec> q(toks.size()), k(toks.size()), v(toks.size()), xns(toks.size());
    for (int t = 0; t < T; ++t) {
      const Vec xn = xns[size_t(t)] = norm(x[size_t(t)], p + "attn_norm");
      if (ra.phi3) {
        const Vec qkv = matvec(w(p + "attn_qkv.weight"), xn, E + 2 * KV);
        q[size_t(t)].assign(qkv.begin(), qkv.begin() + E);
        k[size_t(t)].assign(qkv.begin() + E, qkv.begin() + E + KV);
        v[size_t(t)].assign(qkv.begin() + E + KV, qkv.end());
      } else {
        q[size_t(t)] = matvec(w(p + "attn_q.weight"), xn, E);
        k[size_t(t)] = matvec(w(p + "attn_k.weight"), xn, KV);
        v[size_t(t)] = matvec(w(p + "attn_v.weight"), xn, KV);
      }
      if (ra.bias) {
        for (int i = 0; i < E; ++i) q[size_t(t)][size_t(i)] += w(p + "attn_q.bias")[i];
        for (int i = 0; i < KV; ++i) k[size_t(t)][size_t(i)] += w(p + "attn_k.bias")[i];
        for (int i = 0; i < KV; ++i) v[size_t(t)][size_t(i)] += w(p + "attn_v.bias")[i];
      }
      rope(q[size_t(t)], H, t);
      rope(k[size_t(t)], HKV, t);
    }
    for (int t = 0; t < T; ++t) {
      Vec att(size_t(E), 0.0);
      for (int h = 0; h < H; ++h) {
        const int kh = h / (H / HKV);
        Vec sc(size_t(t + 1));
        double mx = -1e300;
        const bool window = ra.phi3 || (ra.gemma2 && l % 2 == 0);
        const int j0 = window ? std::max(0, t + 1 - kWindow) : 0;
        for (int j = 0; j <= t; ++j) {
          if (j < j0) {
            sc[size_t(j)] = -1e300;  // outside the window: weight exactly 0 after exp
            continue;
          }
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[size_t(t)][size_t(h * hd + i)] * k[size_t(j)][size_t(kh * hd + i)];
          sc[size_t(j)] = d / std::sqrt(double(hd));
          if (ra.gemma2) sc[size_t(j)] = 8.0 * std::tanh(sc[size_t(j)] / 8.0);
          mx = std::max(mx, sc[size_t(j)]);
        }
        double sum = 0;
        for (double& s : sc) sum += (s = std::exp(s - mx));
        for (int j = 0; j <= t; ++j)
          for (int i = 0; i < hd; ++i)
            att[size_t(h * hd + i)] += sc[size_t(j)] / sum * v[size_t(j)][size_t(kh * hd + i)];
      }
      Vec o = matvec(w(p + "attn_output.weight"), att, E);
      if (ra.starcoder2) add_bias(o, p + "attn_output.bias");
      if (ra.gemma2) o = rmsnorm(o, w(p + "post_attention_norm.weight"));
      // command-r: x + attn(n) + ffn(n), both from the attention's norm n of the layer input.
      const Vec xn = ra.parallel ? xns[size_t(t)] : [&] {
        for (int i = 0; i < E; ++i) x[size_t(t)][size_t(i)] += o[size_t(i)];
        return norm(x[size_t(t)], p + "ffn_norm");
      }();
      if (ra.parallel)
        for (int i = 0; i < E; ++i) x[size_t(t)][size_t(i)] += o[size_t(i)];
      Vec g, u;
      if (ra.starcoder2) {  // no gate: the GELU of up, times 1
        g = matvec(w(p + "ffn_up.weight"), xn, F);
        add_bias(g, p + "ffn_up.bias");
        u.assign(size_t(F), 1.0);
      } else if (ra.phi3) {
        const Vec gu = matvec(w(p + "ffn_up.weight"), xn, 2 * F);
        g.assign(gu.begin(), gu.begin() + F);
        u.assign(gu.begin() + F, gu.end());
      } else {
        g = matvec(w(p + "ffn_gate.weight"), xn, F);
        u = matvec(w(p + "ffn_up.weight"), xn, F);
      }
      for (int i = 0; i < F; ++i)
        g[size_t(i)] = (ra.gemma || ra.starcoder2 ? gelu_ggml(g[size_t(i)]) : g[size_t(i)] / (1.0 + std::exp(-g[size_t(i)]))) *
                       u[size_t(i)];
      Vec d = matvec(w(p + "ffn_down.weight"), g, E);
      if (ra.starcoder2) add_bias(d, p + "ffn_down.bias");
      if (ra.gemma2) d = rmsnorm(d, w(p + "post_ffw_norm.weight"));
      for (int i = 0; i < E; ++i) x[size_t(t)][size_t(i)] += d[size_t(i)];
    }
  }
  const float* out = f->tensor("output.weight") ? w("output.weight") : emb;
  std::vector<Vec> logits;
  for (int t = 0; t < T; ++t) {
    const Vec h = norm(x[size_t(t)], "output_norm");
    logits.push_back(matvec(out, h, V));
    if (ra.gemma2)
      for (double& z : logits.back()) z = 12.0 * std::tanh(z / 12.0);
    if (ra.logit_scale != 0)
      for (double& z : logits.back()) z *= ra.logit_scale;
    if (hidden) hidden->push_back(h);
  }
  return logits;
}

double max_abs_diff(const float* got, const std::vector<double>& want) {
  double m = 0;
  for (size_t i = 0; i < want.size(); ++i) m = std::max(m, std::abs(double(got[i]) - want[i]));
  return m;
}

int argmax(const float* v, int n) { return int(std::max_element(v, v + n) - v); }

// Logit σ on these models is ≈ 8 (printed). Engine (f32, llama.cpp's operation order) against
// the f64 reference, measured max |Δ| over 24 positions (AVX-512 / AVX2 / scalar): llama
// 1.8e-5 / 1.2e-5 / 1.1e-5, qwen2 1.6e-5 / 1.3e-5 / 1.1e-5; over the 8 prompt positions,
// llama with biases 1.9e-5 / 1.1e-5 / 7.6e-6 and zero-bias qwen2 2.0e-5 / 1.1e-5 / 9.0e-6.
// Bound 5x the worst, 1e-4. A wrong operation moves the logits by units: the other RoPE
// layout by 29 (llama) / 37 (qwen2), zeroed qwen2 biases by 20 (both checked below).
constexpr double kTolerance = 1e-4;
// gemma and gemma2 round their GELU's input and output to f16 (ggml's table, emulated by the
// reference too): f32-level differences flip single f16 roundings, measured up to 9.25e-5
// (gemma2, AVX2 and AVX-512); 4x that.
constexpr double kGeluTolerance = 4 * 9.25e-5;
// starcoder2's GELU MLP has no gate to damp a flipped rounding and its biases shift the GELU
// inputs off zero: on the SIMD paths (other f32 summation order than the reference's) measured
// 5.74e-3 (σ 9.5), the scalar path 1.4e-4; 4x the worst.
constexpr double kGeluMlpTolerance = 4 * 5.74e-3;

struct EngineRun {
  std::vector<std::vector<float>> logits;  // per position: prompt rows, then one per step
  std::vector<Token> generated;
};

// The prompt in one batch (logits of every position), then `steps` greedy tokens one by one.
EngineRun run_engine(const Model& m, const std::vector<Token>& prompt, int steps) {
  const int V = m.hparams().n_vocab;
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 2;
  Context ctx(m, cp);
  ctx.decode(prompt, true);
  EngineRun r;
  for (size_t i = 0; i < prompt.size(); ++i) r.logits.emplace_back(ctx.logits_at(int32_t(i)), ctx.logits_at(int32_t(i)) + V);
  for (int s = 0; s < steps; ++s) {
    const Token t = Token(argmax(ctx.logits(), V));
    r.generated.push_back(t);
    ctx.decode(std::span<const Token>(&t, 1));
    r.logits.emplace_back(ctx.logits(), ctx.logits() + V);
  }
  return r;
}

std::vector<Token> the_prompt(const Model& m) {
  return m.vocab().tokenize("once upon a time there was a", true, false);
}

class ArchGenerated : public ::testing::TestWithParam<std::string> {};

TEST_P(ArchGenerated, LoadsGeneratesAndMatchesReference) {
  NNB_FORCED_ISA_OR_SKIP();
  const std::string arch = GetParam();
  const auto ref_it = kRefArchs.find(arch);
  ASSERT_NE(ref_it, kRefArchs.end()) << "architecture '" << arch
                                     << "' is accepted by the engine but has no reference case in this test";
  const RefArch& ra = ref_it->second;
  const double tolerance = ra.starcoder2 ? kGeluMlpTolerance : ra.gemma ? kGeluTolerance : kTolerance;
  const ModelSpec sp = small_spec(arch);
  const auto path = write(sp, arch);
  auto model = Model::load(path);
  EXPECT_EQ(model->hparams().arch, arch);
  EXPECT_EQ(model->arch().name, arch);
  EXPECT_EQ(model->hparams().rope_type, ra.neox ? RopeType::Neox : RopeType::Normal);
  EXPECT_EQ(model->hparams().qkv_bias, ra.bias);
  EXPECT_EQ(model->layers()[0].bq.empty(), !ra.bias);

  const auto prompt = the_prompt(*model);
  ASSERT_EQ(prompt.size(), 8u);
  constexpr int kSteps = 16;
  const EngineRun a = run_engine(*model, prompt, kSteps);
  const EngineRun b = run_engine(*model, prompt, kSteps);
  EXPECT_EQ(a.generated, b.generated) << "greedy generation is not deterministic";
  EXPECT_EQ(a.logits, b.logits) << "logits differ between two identical runs";
  std::string ids;
  for (Token t : a.generated) ids += " " + std::to_string(t);
  std::printf("[ %s ] greedy ids:%s\n", arch.c_str(), ids.c_str());

  std::vector<Token> all = prompt;
  all.insert(all.end(), a.generated.begin(), a.generated.end());
  ASSERT_EQ(all.size(), a.logits.size());
  const auto ref = reference_logits(path, sp, ra, all);
  double worst = 0, sum2 = 0;
  int argmax_same = 0;
  const int V = model->hparams().n_vocab;
  for (size_t t = 0; t < all.size(); ++t) {
    worst = std::max(worst, max_abs_diff(a.logits[t].data(), ref[t]));
    for (double v : ref[t]) sum2 += v * v;
    argmax_same += argmax(a.logits[t].data(), V) ==
                   int(std::max_element(ref[t].begin(), ref[t].end()) - ref[t].begin());
  }
  const double sd = std::sqrt(sum2 / double(all.size() * size_t(V)));
  // The same comparison with the other RoPE layout: the test tells the two apart.
  RefArch other = ra;
  other.neox = !ra.neox;
  const auto wrong = reference_logits(path, sp, other, all);
  double wrong_d = 0;
  for (size_t t = 0; t < all.size(); ++t) wrong_d = std::max(wrong_d, max_abs_diff(a.logits[t].data(), wrong[t]));
  std::printf("[ %s %s ] engine vs f64 reference, %zu positions: max |Δ logit| %.3g (tolerance %.3g, logit σ %.3g); "
              "argmax agrees at %d/%zu; vs the other RoPE layout %.3g\n",
              arch.c_str(), isa_name(active_isa()), all.size(), worst, tolerance, sd, argmax_same, all.size(), wrong_d);
  EXPECT_LE(worst, tolerance);
  EXPECT_EQ(argmax_same, int(all.size()));
  EXPECT_GT(wrong_d, 100 * tolerance) << "the reference cannot tell the RoPE layouts apart";
}

// Embeddings (Context::embed, mean pooling: what generated models declare) against the
// reference's final hidden states averaged over the tokens and L2-normalized.
TEST_P(ArchGenerated, EmbeddingIsTheMeanHiddenStateNormalized) {
  NNB_FORCED_ISA_OR_SKIP();
  const std::string arch = GetParam();
  const auto ref_it = kRefArchs.find(arch);
  ASSERT_NE(ref_it, kRefArchs.end());
  const ModelSpec sp = small_spec(arch);
  const auto path = write(sp, arch + "_embed");
  auto model = Model::load(path);
  ASSERT_EQ(model->hparams().pooling, Pooling::Mean);
  const auto prompt = the_prompt(*model);
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_batch = 3;  // the text over several passes
  Context ctx(*model, cp);
  const auto e = ctx.embed(prompt);
  EXPECT_EQ(ctx.n_past(), 0) << "embed leaves the cache empty";
  std::vector<std::vector<double>> hidden;
  reference_logits(path, sp, ref_it->second, prompt, &hidden);
  std::vector<double> want(size_t(model->hparams().n_embd), 0.0);
  for (const auto& h : hidden)
    for (size_t d = 0; d < want.size(); ++d) want[d] += h[d] / double(hidden.size());
  double norm = 0;
  for (double v : want) norm += v * v;
  double worst = 0;
  ASSERT_EQ(e.size(), want.size());
  for (size_t d = 0; d < want.size(); ++d) worst = std::max(worst, std::fabs(double(e[d]) - want[d] / std::sqrt(norm)));
  std::printf("[ %s %s ] embedding vs f64 reference: max |Δ| %.3g\n", arch.c_str(), isa_name(active_isa()), worst);
  // Measured 7.1e-8 (AVX-512); starcoder2 1.47e-6 (its GELU's f16 flips, above).
  EXPECT_LE(worst, ref_it->second.starcoder2 ? 4 * 1.47e-6 : 4 * 1e-7);
  // The same tokens give the same embedding after a generation used the context.
  ctx.decode(prompt);
  EXPECT_EQ(ctx.embed(prompt), e);
}

INSTANTIATE_TEST_SUITE_P(EveryAccepted, ArchGenerated, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const ArchInfo& a : architectures()) names.emplace_back(a.name);
                           return names;
                         }()),
                         [](const auto& info) {  // test names allow no '-' (command-r)
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// qwen2 with its biases zeroed (same seed: every other tensor byte-identical) gives other
// logits, and the reference follows the engine there too.
TEST(ArchGeneratedQwen2, BiasesMatter) {
  NNB_FORCED_ISA_OR_SKIP();
  ModelSpec sp = small_spec("qwen2");
  const auto with = write(sp, "qwen2_bias");
  sp.bias_std = 0;
  const auto without = write(sp, "qwen2_zero_bias");
  auto fa = gguf::File::open(with), fb = gguf::File::open(without);
  ASSERT_EQ(fa->tensors().size(), fb->tensors().size());
  int n_bias = 0;
  for (const gguf::TensorInfo& t : fa->tensors()) {
    const gguf::TensorInfo* u = fb->tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    ASSERT_EQ(t.nbytes, u->nbytes) << t.name;
    const bool same = std::memcmp(t.data, u->data, t.nbytes) == 0;
    if (t.name.ends_with(".bias")) {
      ++n_bias;
      EXPECT_FALSE(same) << t.name;
      const float* z = reinterpret_cast<const float*>(u->data);
      EXPECT_TRUE(std::all_of(z, z + u->n_elements(), [](float v) { return v == 0.0f; })) << t.name;
    } else {
      EXPECT_TRUE(same) << t.name << " differs: the zeroed file must differ in its biases only";
    }
  }
  EXPECT_EQ(n_bias, 3 * sp.n_layer);

  auto ma = Model::load(with), mb = Model::load(without);
  const auto prompt = the_prompt(*ma);
  const EngineRun ra = run_engine(*ma, prompt, 0), rb = run_engine(*mb, prompt, 0);
  const auto ref_b = reference_logits(without, sp, kRefArchs.at("qwen2"), prompt);
  double change = 0, ref_d = 0;
  for (size_t t = 0; t < prompt.size(); ++t) {
    for (size_t i = 0; i < ra.logits[t].size(); ++i)
      change = std::max(change, double(std::abs(ra.logits[t][i] - rb.logits[t][i])));
    ref_d = std::max(ref_d, max_abs_diff(rb.logits[t].data(), ref_b[t]));
  }
  std::printf("[ qwen2 ] zeroing the Q/K/V biases changes the logits by up to %.3g; zero-bias engine vs reference %.3g\n",
              change, ref_d);
  EXPECT_GT(change, 1.0);
  EXPECT_LE(ref_d, kTolerance);
}

// A copy of `src` as architecture `arch` (its "<old>." keys renamed), keeping the tensors
// `keep` accepts.
void rewrite(const std::filesystem::path& src, const std::filesystem::path& dst, const std::string& arch,
             const std::function<bool(const std::string&)>& keep = {}) {
  auto f = gguf::File::open(src);
  const std::string old = *f->get_string("general.architecture") + ".";
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata()) {
    if (k == "general.alignment") continue;
    if (k == "general.architecture") w.set_string(k, arch);
    else if (k.starts_with(old)) w.set(arch + "." + k.substr(old.size()), v);
    else w.set(k, v);
  }
  for (const gguf::TensorInfo& t : f->tensors())
    if (!keep || keep(t.name))
      w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.data, t.nbytes);
  w.write(dst);
}

// llama's biases are optional (llama.cpp adds them when present): a llama file with them uses
// them with llama's RoPE; a partial set, or a qwen2 file without them, is refused naming the tensor.
TEST(ArchGeneratedLlama, OptionalBiasesAreAppliedWhenPresent) {
  ModelSpec sp = small_spec("qwen2");
  const auto q = write(sp, "qwen2_src");
  rewrite(q, dir() / "llama_bias.gguf", "llama");
  sp.arch = "llama";
  auto m = Model::load(dir() / "llama_bias.gguf");
  EXPECT_TRUE(m->hparams().qkv_bias);
  EXPECT_EQ(m->hparams().rope_type, RopeType::Normal);
  const auto prompt = the_prompt(*m);
  const EngineRun r = run_engine(*m, prompt, 0);
  const auto ref = reference_logits(dir() / "llama_bias.gguf", sp, RefArch{false, true}, prompt);
  double d = 0;
  for (size_t t = 0; t < prompt.size(); ++t) d = std::max(d, max_abs_diff(r.logits[t].data(), ref[t]));
  std::printf("[ llama + biases ] engine vs reference max |Δ logit| %.3g (tolerance %.3g)\n", d, kTolerance);
  EXPECT_LE(d, kTolerance);

  auto expect_refused = [](const std::filesystem::path& p, const std::string& needle) {
    try {
      Model::load(p);
      ADD_FAILURE() << p << " loaded";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  rewrite(q, dir() / "llama_partial.gguf", "llama", [](const std::string& n) { return n != "blk.1.attn_k.bias"; });
  expect_refused(dir() / "llama_partial.gguf", "blk.1.attn_k.bias");
  rewrite(q, dir() / "qwen2_nobias.gguf", "qwen2", [](const std::string& n) { return !n.ends_with(".bias"); });
  expect_refused(dir() / "qwen2_nobias.gguf", "blk.0.attn_q.bias");
}

// A copy of the GGUF at `src` with `extra` tensors added (all F32) and the metadata keys `drop`
// left out.
void copy_with(const std::filesystem::path& src, const std::filesystem::path& dst,
               const std::vector<std::pair<std::string, std::vector<int64_t>>>& extra, const std::string& drop = "") {
  auto f = gguf::File::open(src);
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata())
    if (k != "general.alignment" && k != drop) w.set(k, v);
  for (const gguf::TensorInfo& t : f->tensors())
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.data, t.nbytes);
  for (const auto& [name, ne] : extra) {
    // A copy of blk.N.attn_norm.weight where the shapes agree, else ones.
    const std::string norm = name.substr(0, name.find('.', 4) + 1) + "attn_norm.weight";
    const gguf::TensorInfo* t = f->tensor(norm);
    if (ne.size() == 1 && t) {
      w.add_tensor(name, t->type, ne, t->data, t->nbytes);
      continue;
    }
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    const std::vector<float> ones(size_t(n), 1.0f);
    w.add_tensor(name, GgmlType::F32, ne, ones.data(), ones.size() * sizeof(float));
  }
  w.write(dst);
}

// command-r: each feature of the row moves the logits far beyond the tolerance, so the
// reference comparison above checks them: without the logit scale, or with a sequential block
// (x + attn, then the FFN on its own norm, here the same weights), the reference is far off.
// A batch wanting the last logits only takes the path where the last layer's rows are gathered.
// Files with per-head Q/K norms (Command R+) or without logit_scale are refused naming them.
TEST(ArchGeneratedCommandR, ParallelBlockLogitScaleAndRefusals) {
  NNB_FORCED_ISA_OR_SKIP();
  const ModelSpec sp = small_spec("command-r");
  const auto path = write(sp, "command_r");
  auto m = Model::load(path);
  EXPECT_TRUE(m->output_tied());
  EXPECT_EQ(m->hparams().rope_type, RopeType::Normal);
  EXPECT_FLOAT_EQ(m->hparams().logit_scale, float(kLogitScale));
  EXPECT_TRUE(m->layers()[0].ffn_norm.empty());
  const auto prompt = the_prompt(*m);
  const EngineRun r = run_engine(*m, prompt, 0);
  const RefArch ra = kRefArchs.at("command-r");
  RefArch unscaled = ra, sequential = ra;
  unscaled.logit_scale = 0;
  sequential.parallel = false;
  std::vector<std::pair<std::string, std::vector<int64_t>>> ffn_norms;
  for (int l = 0; l < sp.n_layer; ++l) ffn_norms.push_back({"blk." + std::to_string(l) + ".ffn_norm.weight", {sp.n_embd}});
  copy_with(path, dir() / "command_r_ffn_norm.gguf", ffn_norms);
  const auto ref = reference_logits(path, sp, ra, prompt);
  const auto ref_unscaled = reference_logits(path, sp, unscaled, prompt);
  const auto ref_sequential = reference_logits(dir() / "command_r_ffn_norm.gguf", sp, sequential, prompt);
  double d = 0, d_unscaled = 0, d_sequential = 0;
  for (size_t t = 0; t < prompt.size(); ++t) {
    d = std::max(d, max_abs_diff(r.logits[t].data(), ref[t]));
    d_unscaled = std::max(d_unscaled, max_abs_diff(r.logits[t].data(), ref_unscaled[t]));
    d_sequential = std::max(d_sequential, max_abs_diff(r.logits[t].data(), ref_sequential[t]));
  }
  std::printf("[ command-r ] engine vs reference %.3g; vs no logit scale %.3g; vs a sequential block %.3g\n", d,
              d_unscaled, d_sequential);
  EXPECT_LE(d, kTolerance);
  EXPECT_GT(d_unscaled, 100 * kTolerance);
  EXPECT_GT(d_sequential, 100 * kTolerance);
  // Only the last position's logits: the last layer runs on that row alone, compacted to the
  // front, and its FFN must read that row's norm too.
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 2;
  Context last(*m, cp);
  last.decode(prompt, false);
  EXPECT_LE(max_abs_diff(last.logits(), ref.back()), kTolerance);

  auto expect_refused = [](const std::filesystem::path& p, const std::string& needle) {
    try {
      Model::load(p);
      ADD_FAILURE() << p << " loaded";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const int64_t hd = sp.n_embd / sp.n_head;
  copy_with(path, dir() / "command_r_plus.gguf",
            {{"blk.0.attn_q_norm.weight", {hd, sp.n_head}}, {"blk.0.attn_k_norm.weight", {hd, sp.n_head_kv}},
             {"blk.1.attn_q_norm.weight", {hd, sp.n_head}}, {"blk.1.attn_k_norm.weight", {hd, sp.n_head_kv}}});
  expect_refused(dir() / "command_r_plus.gguf", "'blk.0.attn_q_norm.weight': per-head Q/K norms");
  copy_with(path, dir() / "command_r_no_scale.gguf", {}, "command-r.logit_scale");
  expect_refused(dir() / "command_r_no_scale.gguf", "command-r.logit_scale must be a positive number");
}

// Unknown architectures are refused naming them and the supported list, by the loader and by
// the generator; a row feature the forward pass lacks is named by unsupported_feature().
TEST(ArchTable, UnknownArchitecturesAndFeaturesAreRefused) {
  EXPECT_EQ(architecture_names(), "llama, qwen2, gemma, phi3, gemma2, starcoder2, command-r");
  rewrite(write(small_spec("llama"), "llama_src"), dir() / "mamba.gguf", "mamba");
  try {
    Model::load(dir() / "mamba.gguf");
    ADD_FAILURE() << "mamba loaded";
  } catch (const ModelError& e) {
    EXPECT_STREQ(e.what(), "unsupported model architecture 'mamba' (supported: llama, qwen2, gemma, phi3, gemma2, starcoder2, command-r)");
  }
  ModelSpec sp = small_spec("falcon");
  try {
    write_model(sp, dir() / "falcon.gguf");
    ADD_FAILURE() << "falcon written";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "unsupported model architecture 'falcon' (supported: llama, qwen2, gemma, phi3, gemma2, starcoder2, command-r)");
  }

  for (const ArchInfo& a : architectures()) EXPECT_EQ(unsupported_feature(a), "") << a.name;
  // Every feature of the row is computed now (unsupported_feature() names none); a feature added
  // to ArchInfo without code must be listed there, and gets its case here.
}

}  // namespace
}  // namespace nnb

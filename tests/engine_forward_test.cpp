// The forward pass against llama.cpp's golden outputs and the float64 references
// (../shared/fixtures/golden and golden/ref-f64), on the kernel path this process runs: ctest
// runs this suite once per ISA (default, NNB_ISA=avx2, NNB_ISA=scalar), and every model is
// evaluated twice, teacher-forced in one batch (GEMM kernels where the CPU has them) and token
// by token (per-row dot kernels).
//
// Every bound below is 4x the worst error measured on that model over all paths, with the
// measured value written beside it; each run prints what it saw. How the bounds were measured:
// the Intel Xeon dev machine (AVX-512), 2 threads, the 5 golden positions (steps 0-4), modes
// batch / token, NNB_ISA = avx512 / avx2 / scalar.
//
// Two regimes (the fixtures' README, "What this means when comparing an engine" §3):
//  * reproducing llama.cpp's rounding: the engine quantizes activations exactly as ggml-cpu
//    does, so it matches llama.cpp to f32 rounding (~1e-5, logit sd 16.6). A wrong kernel, even
//    by 1e-3 in one dot product, moves the logits by ~1 and fails these bounds.
//  * after a "flip": an f32 rounding difference of ~1e-7 (order of additions) moved one
//    activation across a Q8 rounding boundary, and from that position on the logits differ by
//    up to ~1 from llama.cpp's. That is llama.cpp's rounding, not our bug, but it happens at
//    fixed places for a given build and path. The table records, per path, the first golden
//    step where it happens; earlier steps keep the tight bound, later ones the flip bound, and
//    the float64 reference (no activation rounding at all) separates the two: after a flip our
//    distance from exact math must stay that of llama.cpp's own (their rms ratio, measured
//    <= 1.15, bounded per model). A flip that moves to an earlier step fails with both comparisons
//    printed: if our f64 ratio is ~1, it is rounding; re-measure and update the onset.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/runtime/context.h"
#include "engine/runtime/generation.h"
#include "engine/cpu/vec_dot.h"
#include "test_util.h"

namespace nnb {
namespace {

struct Diff {
  double max_abs = 0, rms = 0;
};

Diff compare(const float* got, const nlohmann::json& want) {
  Diff d;
  double sq = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::abs(double(got[i]) - want[i].get<double>());
    d.max_abs = std::max(d.max_abs, e);
    sq += e * e;
  }
  d.rms = std::sqrt(sq / double(want.size()));
  return d;
}

Diff compare(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<float> v;
  for (const auto& x : a) v.push_back(x.get<float>());
  return compare(v.data(), b);
}

int argmax(const float* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

constexpr int kNoFlip = 5;  // onset: no flip at any of the 5 golden steps
// Worst flip measured over all models and paths (Q4_K_M, avx512 token by token: 1.05): what a
// flip at a step without golden logits (5..31) can do to a logit, for the argmax checks.
constexpr double kAnyFlipMax = 4 * 1.05;

struct Bounds {
  const char* model;
  double exact_max, exact_rms;  // worst measured |Δ| vs llama.cpp before any flip: max, rms
  double flip_max, flip_rms;    // worst measured after a flip (0 when none was seen)
  int onset[2][3];              // [batch, token][scalar, avx2, avx512]: first flipped step
  double f64_max;    // F32 / F16-weight models: worst measured max |Δ| vs the f64 reference
  double f64_ratio;  // flipped steps: worst measured rms(ours - f64) / rms(llama.cpp - f64)
};

// Onsets {batch: scalar, avx2, avx512}, {token: scalar, avx2, avx512}.
#define NONE {kNoFlip, kNoFlip, kNoFlip}
#define ALL {0, 0, 0}
const Bounds kBounds[] = {
    // F32 weights, no activation rounding: llama.cpp, the f64 reference and we agree to f32
    // rounding; the 5.2e-5 is the AVX-512 F32 GEMM (longer f32 sums per output).
    {"synth-4M-F32", 5.2e-5, 1.6e-5, 0, 0, {NONE, NONE}, 5.7e-5, 0},
    {"stories260K", 9.5e-6, 4.7e-6, 0, 0, {NONE, NONE}, 8.2e-6, 0},
    // F16 weights, n_embd 8, logits ~0.06: we equal llama.cpp to 3e-8; it is 8.4e-5 from f64.
    {"llama-2-tiny-random", 3e-8, 3e-9, 0, 0, {NONE, NONE}, 8.4e-5, 0},
    // F16: activations rounded to f16 as llama.cpp does, but f32 differences of 1e-7 flip single
    // f16 roundings (2^-11 relative) everywhere, so there is no exact regime: only the spread.
    {"synth-4M-F16", 0, 0, 0.030, 0.0096, {ALL, ALL}, 0, 1.154},
    // BF16: the same with 2^-8 steps; token by token matches llama.cpp until step 3-4.
    {"synth-4M-BF16", 7.7e-6, 1.3e-6, 0.24, 0.066, {{4, 0, 0}, {4, 3, 4}}, 0, 1.071},
    {"synth-4M-Q8_0", 7.7e-6, 1.7e-6, 0, 0, {NONE, NONE}, 0, 0},
    {"synth-4M-Q4_0", 1.5e-5, 4.3e-6, 0, 0, {NONE, NONE}, 0, 0},
    // Q4_1 / Q5_1 (Q8_1 activations): every path of ours flips against llama.cpp before step 0,
    // as did the fixtures' own f64 emulation of ggml's rounding (0.735 / 0.798): only the flip
    // bound and the f64 ratio apply, and a 1e-3 kernel error is below what they resolve here
    // (vec_dot_test checks these kernels to 1e-5 of sum |x*y| on every ISA).
    {"synth-4M-Q4_1", 0, 0, 0.83, 0.23, {ALL, ALL}, 0, 1.065},
    {"synth-4M-Q5_0", 1.5e-5, 3.9e-6, 0, 0, {NONE, NONE}, 0, 0},
    {"synth-4M-Q5_1", 0, 0, 1.0, 0.27, {ALL, ALL}, 0, 1.118},
    {"synth-4M-Q2_K", 2.3e-5, 5.4e-6, 0.68, 0.2, {{0, kNoFlip, kNoFlip}, {0, kNoFlip, kNoFlip}}, 0, 1.029},
    // Q3_K_M: its Q4_K / Q5_K tensors take AVX-512's panel kernels token by token,
    // whose other order of float additions flips a rounding at step 3 (0.86 / 0.26, 1.057 of
    // llama.cpp's distance to f64).
    {"synth-4M-Q3_K_M", 2.7e-5, 7.6e-6, 0.86, 0.26, {NONE, {kNoFlip, kNoFlip, 3}}, 0, 1.057},
    // Q4_K_M: the 16-row panels (token by token, and batches below the GEMM's threshold: on both
    // paths of AVX2 and AVX-512, whose panel kernels agree bit for bit) flip one rounding at
    // step 4 (1.05 / 0.27, and closer to f64 than llama.cpp is). (The AVX2 GEMM flipped it too
    // while it applied the sub-block scales in float.)
    {"synth-4M-Q4_K_M", 2.3e-5, 7.2e-6, 1.05, 0.27, {{kNoFlip, 4, 4}, {kNoFlip, 4, 4}}, 0, 1.0},
    // Q5_K_M: token by token, AVX-512's packed kernels (per row at first, then 16-row panels:
    // other orders of the final additions) flipped one rounding at step 4 (0.92 / 0.27), as did
    // AVX2's one-row kernels before it took the panels too (no flip since).
    {"synth-4M-Q5_K_M", 2.3e-5, 5.9e-6, 0.92, 0.27, {NONE, {kNoFlip, kNoFlip, 4}}, 0, 1.033},
    // Q6_K: AVX-512's 16-row panels (their own order of float additions) flip one rounding at
    // step 4 on the batch path (0.75 / 0.21, as close to f64 as llama.cpp: 1.000).
    {"synth-4M-Q6_K", 2.7e-5, 7.5e-6, 0.76, 0.22, {{kNoFlip, kNoFlip, 4}, NONE}, 0, 1.0},
    {"synth-4M-IQ4_NL", 1.5e-5, 2.9e-6, 0, 0, {NONE, NONE}, 0, 0},
    {"synth-4M-IQ4_XS", 2.3e-5, 5.6e-6, 0, 0, {NONE, NONE}, 0, 0},
};
#undef NONE
#undef ALL

// Bound on rms(ours - f64) / rms(llama.cpp - f64) after a flip: 1 + 4x the measured excess,
// at least 1 + 4 x 0.03 (the smallest excess measured, Q2_K).
double f64_ratio_bound(const Bounds& b) { return 1 + 4 * std::max(b.f64_ratio - 1, 0.03); }

// Teacher-forced on prompt + llama.cpp's 32 greedy ids; logits at the 5 golden positions
// against llama.cpp (and the f64 reference), argmax at all 32 steps where the golden margin
// exceeds twice what a flip can do.
void check_teacher_forced(const Bounds& b, bool token_by_token) {
  const std::string name = b.model;
  const char* mode = token_by_token ? "token" : "batch";
  NNB_FIXTURE_OR_SKIP(path, "models/" + name + ".gguf");
  NNB_FIXTURE_OR_SKIP(gpath, "golden/" + name + ".json");
  NNB_FIXTURE_OR_SKIP(rpath, "golden/ref-f64/" + name + ".json");
  const auto g = test::load_json(gpath);
  const auto ref = test::load_json(rpath);
  auto model = Model::load(path);
  const int n_vocab = model->hparams().n_vocab;
  ASSERT_EQ(n_vocab, g["n_vocab"].get<int>());

  auto seq = g["prompt_token_ids"].get<std::vector<Token>>();
  const int32_t n_prompt = int32_t(seq.size());
  const auto ids = g["greedy_token_ids"].get<std::vector<Token>>();
  for (Token t : ids) seq.push_back(t);
  ContextParams cp;
  cp.n_ctx = 256;
  cp.n_threads = 2;
  Context ctx(*model, cp);
  std::vector<float> logits;  // every position
  if (token_by_token) {
    for (Token t : seq) {
      ctx.decode(std::span<const Token>(&t, 1));
      logits.insert(logits.end(), ctx.logits(), ctx.logits() + n_vocab);
    }
  } else {
    ctx.decode(seq, /*all_logits=*/true);
    for (int32_t p = 0; p < int32_t(seq.size()); ++p)
      logits.insert(logits.end(), ctx.logits_at(p), ctx.logits_at(p) + n_vocab);
  }
  auto at = [&](int32_t pos) { return logits.data() + size_t(pos) * size_t(n_vocab); };

  const Isa isa = active_isa();
  const int onset = b.onset[token_by_token][int(isa)];
  std::string seen;
  double worst_flip = 0, f64_max = 0, f64_ratio = 0;
  for (int step = 0; step <= 4; ++step) {
    const float* got = at(n_prompt - 1 + step);
    const auto& want = step == 0 ? g["logits_last_prompt"] : g["logits_steps"][size_t(step - 1)];
    const auto& exact = step == 0 ? ref["logits_last_prompt"] : ref["logits_steps"][size_t(step - 1)];
    const Diff d = compare(got, want), e = compare(got, exact), le = compare(want, exact);
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.2g/%.2g", d.max_abs, d.rms);
    seen += buf;
    f64_max = std::max(f64_max, e.max_abs);
    f64_ratio = std::max(f64_ratio, e.rms / le.rms);
    const bool flipped = step >= onset;
    const double max_tol = 4 * (flipped ? b.flip_max : b.exact_max), rms_tol = 4 * (flipped ? b.flip_rms : b.exact_rms);
    const std::string ctx_msg = name + " " + isa_name(isa) + "/" + mode + " step " + std::to_string(step) +
                                ": vs llama.cpp max " + std::to_string(d.max_abs) + " rms " + std::to_string(d.rms) +
                                "; vs f64 rms " + std::to_string(e.rms) + " (llama.cpp's own: " +
                                std::to_string(le.rms) + ")";
    EXPECT_LE(d.max_abs, max_tol) << ctx_msg << (flipped ? " [flip bound]" : " [exact bound]");
    EXPECT_LE(d.rms, rms_tol) << ctx_msg;
    if (flipped) {
      worst_flip = std::max(worst_flip, d.max_abs);
      // Our bug or llama.cpp's rounding: after a flip we must be as close to exact math as it is.
      EXPECT_LE(e.rms, f64_ratio_bound(b) * le.rms) << ctx_msg << " [f64 ratio bound " << f64_ratio_bound(b) << "]";
    }
    if (b.f64_max > 0) {
      EXPECT_LE(e.max_abs, 4 * b.f64_max) << ctx_msg << " (f64 max " << e.max_abs << ")";
    }
  }
  // Greedy choices agree wherever llama.cpp's top-1 margin is clearly above what a flip (or,
  // with no flip, our bound) can do, at all 32 steps.
  const auto gaps = g["top1_minus_top2"].get<std::vector<double>>();
  const double margin = 2 * std::max({kAnyFlipMax, 4 * b.exact_max, 4 * b.flip_max});
  int checked = 0;
  for (size_t step = 0; step < ids.size(); ++step) {
    if (gaps[step] <= margin) continue;
    ++checked;
    EXPECT_EQ(argmax(at(n_prompt - 1 + int32_t(step)), n_vocab), ids[step]) << name << " step " << step;
  }
  std::printf("[ %-20s %s/%s ] vs llama.cpp max/rms per step:%s (bounds %.2g exact, %.2g after a flip from step %d); "
              "vs f64 max %.2g, rms / llama.cpp's %.3f; argmax at %d steps\n",
              name.c_str(), isa_name(isa), mode, seen.c_str(), 4 * b.exact_max, 4 * b.flip_max,
              onset, f64_max, f64_ratio, checked);
  if (onset <= 4 && worst_flip < 4 * b.exact_max)
    std::printf("  note: no flip seen where one was measured (step %d on): the onset table can move later\n", onset);
}

void PrintTo(const Bounds& b, std::ostream* os) { *os << b.model; }

class Forward : public ::testing::TestWithParam<Bounds> {};

TEST_P(Forward, TeacherForcedBatch) {
  NNB_FORCED_ISA_OR_SKIP();
  check_teacher_forced(GetParam(), false);
}
TEST_P(Forward, TeacherForcedTokenByToken) {
  NNB_FORCED_ISA_OR_SKIP();
  check_teacher_forced(GetParam(), true);
}

std::string model_param_name(const ::testing::TestParamInfo<Bounds>& i) {
  std::string s = i.param.model;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}
INSTANTIATE_TEST_SUITE_P(Golden, Forward, ::testing::ValuesIn(kBounds), model_param_name);

// Free-running greedy generation on the F32 models: all 32 ids exactly llama.cpp's (their
// margins are >= 0.009 while our logits are within 2.1e-4 of llama.cpp's, see kBounds).
void check_f32_greedy(const std::string& name) {
  NNB_FORCED_ISA_OR_SKIP();
  NNB_FIXTURE_OR_SKIP(path, "models/" + name + ".gguf");
  NNB_FIXTURE_OR_SKIP(gpath, "golden/" + name + ".json");
  const auto g = test::load_json(gpath);
  auto model = Model::load(path);
  const int n_vocab = model->hparams().n_vocab;
  const auto prompt = model->vocab().tokenize(g["prompt"].get<std::string>(), true, true);
  ASSERT_EQ(prompt, g["prompt_token_ids"].get<std::vector<Token>>());
  ContextParams cp;
  cp.n_ctx = 256;
  cp.n_threads = 2;
  Context ctx(*model, cp);
  ctx.decode(prompt);
  const auto want_ids = g["greedy_token_ids"].get<std::vector<Token>>();
  std::vector<Token> got_ids;
  for (size_t step = 0; step < want_ids.size(); ++step) {
    const Token t = argmax(ctx.logits(), n_vocab);
    got_ids.push_back(t);
    ctx.decode(std::span<const Token>(&t, 1));
  }
  EXPECT_EQ(got_ids, want_ids);
}

TEST(EngineForward, SynthF32GreedyMatchesLlamaCpp) { check_f32_greedy("synth-4M-F32"); }
TEST(EngineForward, Stories260KGreedyMatchesLlamaCpp) { check_f32_greedy("stories260K"); }

// The f64 reference is what llama.cpp is compared with above; check it is the file we think
// (same teacher-forced ids) so a regenerated fixture cannot silently change the meaning.
TEST(EngineForward, ReferencesDescribeTheSameRun) {
  for (const auto& b : kBounds) {
    NNB_FIXTURE_OR_SKIP(gpath, std::string("golden/") + b.model + ".json");
    NNB_FIXTURE_OR_SKIP(rpath, std::string("golden/ref-f64/") + b.model + ".json");
    const auto g = test::load_json(gpath), r = test::load_json(rpath);
    EXPECT_EQ(r["prompt_token_ids"], g["prompt_token_ids"]) << b.model;
    EXPECT_EQ(r["teacher_forced_token_ids"], g["greedy_token_ids"]) << b.model;
    EXPECT_EQ(r["logits_steps"].size(), g["logits_steps"].size()) << b.model;
  }
}

// llama-cli's 64-token greedy story (F16 KV cache there; its ids match the F32-cache run).
TEST(EngineForward, Stories260KStory64Tokens) {
  NNB_FORCED_ISA_OR_SKIP();
  NNB_FIXTURE_OR_SKIP(path, "models/stories260K.gguf");
  NNB_FIXTURE_OR_SKIP(gpath, "golden/stories260K.llama-cpp.json");
  const auto g = test::load_json(gpath);
  const auto want = g["generated_token_ids"].get<std::vector<Token>>();
  auto model = Model::load(path);
  ContextParams cp;
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
  EXPECT_EQ(gen.tokens(), want);
  EXPECT_EQ(gen.text(), g["generated_text"].get<std::string>());
}

}  // namespace
}  // namespace nnb

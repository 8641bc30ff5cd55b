// Batches of several sequences (issue 9) on generated models: tokens of different sequences
// interleaved in one batch get the logits each sequence gets decoded alone, also after a
// sequence is dropped and another forked from a shared prefix (copy-on-write of the shared
// partial block), and the shared cache refuses what does not fit, leaving itself unchanged.
#include <cmath>
#include <cstdio>

#include "engine/runtime/context.h"
#include "engine/model/model_gen.h"
#include "engine/cpu/vec_dot.h"
#include "test_util.h"

namespace nnb {
namespace {

// Batched and alone differ only in the order of f32 sums: a batch of several tokens goes
// through the GEMM kernels (AVX-512) where one token alone goes through the per-row dot
// kernels, and queries of one sequence that are not adjacent in a batch run through the
// attention kernel one by one (its partial sums are split differently for 1, 2 and 4 queries).
// The cache itself adds nothing: the kernels read the same values through the block table, in
// the same order. Bounds are 4x the worst measured max |Δ| over every logit of every compared
// row, on the three kernel paths (logit sd ~16, printed):
//   F32 weights: 4.6e-5 AVX-512, 7.6e-6 AVX2, 3.8e-6 scalar -> 2e-4;
//   Q4_0 weights (activations quantized to Q8_0 per product; the integer block sums are exact,
//   only the f32 sums of block products differ): 7.6e-6 AVX-512, 0 AVX2 and scalar -> 3.2e-5.
//   An f32 difference that moves an activation across a Q8_0 rounding boundary would change
//   logits by ~1e-2 and fail this: such a flip is to be traced, not absorbed by the bound.
constexpr double kBoundF32 = 2e-4;
constexpr double kBoundQ4_0 = 3.2e-5;

std::filesystem::path make_model(GgmlType type) {
  const std::string name(type_name(type));
  const auto dir = test::scratch_dir("engine_batch_" + name);
  ModelSpec spec;
  spec.n_embd = 256;
  spec.n_ff = 512;
  spec.n_head = 4;  // head_dim 64, as the bench model
  spec.n_head_kv = 2;
  spec.n_layer = 2;
  spec.type = type;
  spec.output_type = type;
  spec.seed = 13;
  const auto p = dir / (name + ".gguf");
  write_model(spec, p);
  return p;
}

std::vector<Token> some_tokens(const Model& m, int n, int salt) {
  std::vector<Token> t;
  for (int i = 0; i < n; ++i) t.push_back(Token(1 + (i * 37 + salt * 101) % (m.hparams().n_vocab - 1)));
  return t;
}

std::vector<Token> cat(std::vector<Token> a, const std::vector<Token>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Logits of every position of `toks` decoded alone through the single-sequence API: the first
// n_prompt tokens in one decode, then one token per decode (as a sequence of a batch is fed).
std::vector<std::vector<float>> alone(const Model& m, const std::vector<Token>& toks, size_t n_prompt,
                                      const ContextParams& cp) {
  Context ctx(m, cp);
  const int V = m.hparams().n_vocab;
  std::vector<std::vector<float>> out;
  ctx.decode(std::span<const Token>(toks.data(), n_prompt), true);
  for (size_t i = 0; i < n_prompt; ++i) out.emplace_back(ctx.logits_at(int32_t(i)), ctx.logits_at(int32_t(i)) + V);
  for (size_t i = n_prompt; i < toks.size(); ++i) {
    ctx.decode(std::span<const Token>(&toks[i], 1));
    out.emplace_back(ctx.logits(), ctx.logits() + V);
  }
  return out;
}

struct Checker {
  int V;
  double bound;
  const char* pair = "batched vs alone";  // what is compared, for the printout
  double worst = 0, sum_sq = 0;
  int compared = 0;
  void operator()(const float* got, const std::vector<float>& want, const std::string& what) {
    double d = 0;
    for (int i = 0; i < V; ++i) {
      d = std::max(d, double(std::abs(got[i] - want[size_t(i)])));
      sum_sq += double(want[size_t(i)]) * want[size_t(i)];
    }
    worst = std::max(worst, d);
    ++compared;
    EXPECT_LE(d, bound) << what;
  }
  void print(const char* test, GgmlType type) const {
    std::printf("[ %s %-4s ] %s: %s max |d| %.3g over %d logit rows (bound %.3g), logit sd %.1f\n",
                isa_name(active_isa()), std::string(type_name(type)).c_str(), test, pair, worst, compared, bound,
                std::sqrt(sum_sq / (double(V) * std::max(compared, 1))));
  }
};

const GgmlType kTypes[] = {GgmlType::F32, GgmlType::Q4_0};
double bound_for(GgmlType t) { return t == GgmlType::F32 ? kBoundF32 : kBoundQ4_0; }

// Two sequences of different lengths, entries alternating in one batch (some without logits),
// then one token of each per batch; with one forward pass per batch and with n_batch 7 (a
// batch split across passes mid-sequence).
TEST(EngineBatch, TwoSequencesInterleavedMatchAlone) {
  NNB_FORCED_ISA_OR_SKIP();
  for (GgmlType type : kTypes) {
    auto model = Model::load(make_model(type));
    const int V = model->hparams().n_vocab;
    Checker check{V, bound_for(type)};
    for (int32_t n_batch : {512, 7}) {
      SCOPED_TRACE(std::string(type_name(type)) + " n_batch " + std::to_string(n_batch));
      ContextParams cp;
      cp.n_ctx = 128;
      cp.n_batch = n_batch;
      cp.n_threads = 2;
      const int n_a = 23, n_b = 37, steps = 4;
      const auto a = some_tokens(*model, n_a + steps, 1), b = some_tokens(*model, n_b + steps, 2);
      const auto ra = alone(*model, a, n_a, cp), rb = alone(*model, b, n_b, cp);

      Context ctx(*model, cp);
      std::vector<BatchToken> batch;
      for (int i = 0; i < std::max(n_a, n_b); ++i) {
        if (i < n_a) batch.push_back({a[size_t(i)], i, 0, i % 5 != 2 || i == n_a - 1});
        if (i < n_b) batch.push_back({b[size_t(i)], i, 1, i % 5 != 2 || i == n_b - 1});
      }
      ctx.decode(batch);
      EXPECT_EQ(ctx.n_past(0), n_a);
      EXPECT_EQ(ctx.n_past(1), n_b);
      for (size_t e = 0; e < batch.size(); ++e) {
        const BatchToken& t = batch[e];
        if (!t.logits) {
          EXPECT_THROW(ctx.logits_ith(int32_t(e)), std::out_of_range);
          continue;
        }
        check(ctx.logits_ith(int32_t(e)), (t.seq == 0 ? ra : rb)[size_t(t.pos)],
              "prompt, sequence " + std::to_string(t.seq) + " position " + std::to_string(t.pos));
      }
      for (int s = 0; s < steps; ++s) {
        const BatchToken ta{a[size_t(n_a + s)], n_a + s, 0, true}, tb{b[size_t(n_b + s)], n_b + s, 1, true};
        const BatchToken step[2] = {s % 2 ? tb : ta, s % 2 ? ta : tb};
        ctx.decode(step);
        for (int e = 0; e < 2; ++e)
          check(ctx.logits_ith(e), (step[e].seq == 0 ? ra : rb)[size_t(step[e].pos)],
                "step " + std::to_string(s) + ", sequence " + std::to_string(step[e].seq));
      }
    }
    check.print("interleaved", type);
  }
}

// Sequence 1 dropped (its blocks freed, its id used again), sequence 2 forked from sequence 0's
// first 20 positions (block 0 shared, block 1 shared and partial: whichever writes first copies
// it) and continued with other tokens, sequence 3 forked at 16 (a block boundary): each equals
// its full token list decoded alone; sequence 0 is unaffected by the fork.
// With an f16 and a q8_0 cache too (copy-on-write copies their blocks: 2-byte elements, resp.
// 1-byte ones and their scales).
TEST(EngineBatch, DropAndForkFromASharedPrefixMatchAlone) {
  NNB_FORCED_ISA_OR_SKIP();
  for (KvType kv_type : {KvType::F32, KvType::F16, KvType::Q8_0})
  for (GgmlType type : kTypes) {
    auto model = Model::load(make_model(type));
    const int V = model->hparams().n_vocab;
    Checker check{V, bound_for(type)};
    ContextParams cp;
    cp.n_ctx = 128;
    cp.n_threads = 2;
    cp.kv_type = kv_type;
    Context ctx(*model, cp);
    const KvCache& kv = ctx.kv_cache();
    const int32_t n_blocks = kv.n_blocks();

    const auto p0 = some_tokens(*model, 34, 3), p1 = some_tokens(*model, 25, 4);
    std::vector<BatchToken> batch;  // grouped by sequence this time (4-query attention blocks)
    for (int i = 0; i < 30; ++i) batch.push_back({p0[size_t(i)], i, 0, false});
    for (int i = 0; i < 25; ++i) batch.push_back({p1[size_t(i)], i, 1, false});
    ctx.decode(batch);
    EXPECT_EQ(kv.n_free_blocks(), n_blocks - 4);
    ctx.drop_sequence(1);
    EXPECT_EQ(ctx.n_past(1), 0);
    EXPECT_EQ(kv.n_free_blocks(), n_blocks - 2);

    ctx.fork_sequence(0, 2, 20);
    EXPECT_EQ(ctx.n_past(2), 20);
    EXPECT_EQ(kv.n_free_blocks(), n_blocks - 2);  // shared, not copied
    const int32_t shared_partial = kv.block_table(0)[1];
    EXPECT_EQ(kv.block_table(2)[0], kv.block_table(0)[0]);
    EXPECT_EQ(kv.block_table(2)[1], shared_partial);
    EXPECT_EQ(kv.block_refs(shared_partial), 2);

    // Sequence 0 writes position 30 into the shared block first (so it copies it), then
    // sequence 2 writes positions 20..26 into the original, now its own.
    const auto x = some_tokens(*model, 7 + 3, 5);
    batch.clear();
    batch.push_back({p0[30], 30, 0, true});
    for (int i = 0; i < 7; ++i) batch.push_back({x[size_t(i)], 20 + i, 2, true});
    ctx.decode(batch);
    EXPECT_NE(kv.block_table(0)[1], shared_partial);
    EXPECT_EQ(kv.block_table(2)[1], shared_partial);
    EXPECT_EQ(kv.block_refs(shared_partial), 1);
    EXPECT_EQ(kv.block_refs(kv.block_table(0)[0]), 2);
    EXPECT_EQ(kv.n_free_blocks(), n_blocks - 3);

    const auto want0 = alone(*model, p0, 30, cp);  // positions 0..33
    const auto seq2 = cat(std::vector<Token>(p0.begin(), p0.begin() + 20), x);
    const auto want2 = alone(*model, seq2, 27, cp);
    check(ctx.logits_ith(0), want0[30], "sequence 0 at 30, after the fork");
    for (int i = 0; i < 7; ++i) check(ctx.logits_ith(1 + i), want2[size_t(20 + i)], "forked sequence 2 at " + std::to_string(20 + i));

    // Sequence 3 forked at a block boundary; sequence 1's id reused for a new prompt.
    ctx.fork_sequence(0, 3, 16);
    const auto y = some_tokens(*model, 3, 6), q1 = some_tokens(*model, 5, 7);
    const auto seq3 = cat(std::vector<Token>(p0.begin(), p0.begin() + 16), y);
    const auto want3 = alone(*model, seq3, 16, cp), want1 = alone(*model, q1, 5, cp);
    for (int s = 0; s < 3; ++s) {
      batch.clear();
      batch.push_back({y[size_t(s)], 16 + s, 3, true});
      batch.push_back({x[size_t(7 + s)], 27 + s, 2, true});
      batch.push_back({p0[size_t(31 + s)], 31 + s, 0, true});
      if (s == 0)
        for (int i = 0; i < 5; ++i) batch.push_back({q1[size_t(i)], i, 1, true});
      ctx.decode(batch);
      const std::string st = "step " + std::to_string(s);
      check(ctx.logits_ith(0), want3[size_t(16 + s)], st + ", sequence 3");
      check(ctx.logits_ith(1), want2[size_t(27 + s)], st + ", sequence 2");
      check(ctx.logits_ith(2), want0[size_t(31 + s)], st + ", sequence 0");
      if (s == 0)
        for (int i = 0; i < 5; ++i) check(ctx.logits_ith(3 + i), want1[size_t(i)], "new sequence 1 at " + std::to_string(i));
    }
    EXPECT_EQ(ctx.n_past(0), 34);
    EXPECT_EQ(ctx.n_past(2), 30);
    EXPECT_EQ(ctx.n_past(3), 19);

    // Dropping everything returns every block.
    for (int s = 0; s < 4; ++s) ctx.drop_sequence(s);
    EXPECT_EQ(kv.n_free_blocks(), n_blocks);
    for (int32_t b = 0; b < n_blocks; ++b) EXPECT_EQ(kv.block_refs(b), 0);
    check.print(kv_type == KvType::F16    ? "drop and fork, f16 cache"
                : kv_type == KvType::Q8_0 ? "drop and fork, q8_0 cache"
                                          : "drop and fork",
                type);
  }
}

// An f16 cache against the f32 one: the same tokens decoded one at a time (60 positions), the
// logits differ only by the rounding of K and V to f16 — and, with quantized weights, by what
// that rounding does to the activations' Q8_0 rounding downstream. Measured on every path
// (generated model, logits of sd 16): F32 weights max |d| 1.43e-3; Q4_0 0.188 (from position 0
// on, where attention returns V itself: its f16 rounding moves activations across Q8_0 steps).
// Bounds 4x those; a wrong load or conversion would be off by the logits' own scale.
// Block placement (kv_cache.h): sequences growing side by side keep their blocks in runs, so
// attention streams each sequence's cache in order instead of hopping between sequences' blocks
// one by one; a sequence alone still gets blocks 0, 1, 2, ...
TEST(EngineBatch, SequencesGrowingTogetherKeepTheirBlocksContiguous) {
  KvCache kv(1, 64 * KvCache::kBlock, 1, 4);
  const std::vector<float> row(4, 0.5f);
  auto grow = [&](int32_t seq, int32_t n) {  // positions n_pos .. n_pos + n - 1, one at a time
    for (int32_t i = 0; i < n; ++i) {
      const int32_t pos = kv.n_pos(seq);
      kv.store_cell(0, kv.reserve_cell(seq, pos), row.data(), row.data());
      kv.set_n_pos(seq, pos + 1);
    }
  };
  auto contiguous = [&](int32_t seq) {
    const int32_t* bt = kv.block_table(seq);
    const int32_t nb = (kv.n_pos(seq) + KvCache::kBlock - 1) / KvCache::kBlock;
    for (int32_t i = 1; i < nb; ++i)
      if (bt[i] != bt[i - 1] + 1) return false;
    return true;
  };
  // Three sequences taking turns, 8 positions at a time: 10 blocks each.
  for (int round = 0; round < 20; ++round)
    for (int32_t seq = 0; seq < 3; ++seq) grow(seq, 8);
  for (int32_t seq = 0; seq < 3; ++seq) {
    EXPECT_TRUE(contiguous(seq)) << "sequence " << seq;
    EXPECT_EQ(kv.n_pos(seq), 160);
  }
  EXPECT_EQ(kv.block_table(0)[0], 0);  // the first run starts at block 0
  EXPECT_EQ(kv.block_table(1)[0], 32);  // the middle of blocks 1 .. 63
  EXPECT_EQ(kv.block_table(2)[0], 16);  // the middle of 1 .. 31 (the lower of two equal runs)
  // A sequence that runs into another's blocks continues elsewhere and keeps every position.
  grow(0, 6 * KvCache::kBlock + 3);
  EXPECT_EQ(kv.n_pos(0), 160 + 99);
  EXPECT_EQ(kv.n_free_blocks(), 64 - 30 - 7);
  for (int32_t seq = 0; seq < 3; ++seq) kv.drop_sequence(seq);
  EXPECT_EQ(kv.n_free_blocks(), 64);
  grow(5, 40);
  EXPECT_EQ(kv.block_table(5)[0], 0);
  EXPECT_TRUE(contiguous(5));
}

// The 16- and 8-bit caches move the logits only by the rounding of K and V (bounds: 4 times the
// largest differences measured on the F32 and the Q4_0 model), and the greedy tokens stay.
void reduced_cache_stays_close_to_f32(KvType kv_type, double measured_f32, double measured_q4_0) {
  for (GgmlType type : kTypes) {
    const double bound = 4 * (type == GgmlType::F32 ? measured_f32 : measured_q4_0);
    auto model = Model::load(make_model(type));
    const int V = model->hparams().n_vocab;
    const auto toks = some_tokens(*model, 60, 8);
    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    const auto want = alone(*model, toks, 1, cp);
    cp.kv_type = kv_type;
    const auto got = alone(*model, toks, 1, cp);
    const std::string pair = std::string(kv_type_name(kv_type)) + " vs f32 cache";
    Checker check{V, bound, pair.c_str()};
    for (size_t i = 0; i < toks.size(); ++i) check(got[i].data(), want[i], "position " + std::to_string(i));
    int same_argmax = 0;
    for (size_t i = 0; i < toks.size(); ++i)
      same_argmax += std::max_element(got[i].begin(), got[i].end()) - got[i].begin() ==
                     std::max_element(want[i].begin(), want[i].end()) - want[i].begin();
    std::printf("  greedy token equal at %d of %zu positions\n", same_argmax, toks.size());
    EXPECT_EQ(same_argmax, int(toks.size()));
    check.print("one token at a time", type);
  }
}

TEST(EngineBatch, F16CacheStaysCloseToF32) {
  NNB_FORCED_ISA_OR_SKIP();
  reduced_cache_stays_close_to_f32(KvType::F16, 1.43e-3, 0.188);
}

TEST(EngineBatch, Q8CacheStaysCloseToF32) {
  NNB_FORCED_ISA_OR_SKIP();
  reduced_cache_stays_close_to_f32(KvType::Q8_0, 0.0541, 0.274);
}

// n_ctx 64 = 4 blocks of 16 cells shared by the sequences: what does not fit is refused before
// anything is evaluated (the cache unchanged), and bad entries are errors.
TEST(EngineBatch, CapacityIsSharedAndRefusalsLeaveTheCacheUnchanged) {
  auto model = Model::load(make_model(GgmlType::F32));
  const int V = model->hparams().n_vocab;
  Checker check{V, kBoundF32};
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 2;
  Context ctx(*model, cp);
  const KvCache& kv = ctx.kv_cache();
  ASSERT_EQ(kv.n_blocks(), 4);
  const auto p0 = some_tokens(*model, 42, 8), p1 = some_tokens(*model, 20, 9);
  ctx.decode(std::span<const Token>(p0.data(), 40));  // sequence 0 through the simple API
  EXPECT_EQ(kv.n_free_blocks(), 1);

  auto seq_batch = [](const std::vector<Token>& t, int n, int32_t seq, int32_t pos0) {
    std::vector<BatchToken> b;
    for (int i = 0; i < n; ++i) b.push_back({t[size_t(pos0 + i)], pos0 + i, seq, i == n - 1});
    return b;
  };
  // 20 positions need 2 blocks, 1 is free; also as part of a batch with sequence 0.
  EXPECT_THROW(ctx.decode(seq_batch(p1, 20, 1, 0)), ContextFullError);
  auto mixed = seq_batch(p0, 1, 0, 40);
  for (const BatchToken& t : seq_batch(p1, 20, 1, 0)) mixed.push_back(t);
  EXPECT_THROW(ctx.decode(mixed), ContextFullError);
  EXPECT_EQ(ctx.n_past(0), 40);
  EXPECT_EQ(ctx.n_past(1), 0);
  EXPECT_EQ(kv.n_free_blocks(), 1);

  ctx.decode(seq_batch(p1, 16, 1, 0));  // exactly the last block
  EXPECT_EQ(kv.n_free_blocks(), 0);
  ctx.decode(std::span<const Token>(&p0[40], 1));  // sequence 0 still has room in its block
  EXPECT_EQ(ctx.n_past(), 41);
  EXPECT_THROW(ctx.decode(seq_batch(p1, 1, 1, 16)), ContextFullError);  // needs a new block
  EXPECT_EQ(ctx.n_past(1), 16);
  // One sequence never holds more than n_ctx positions (the simple API's limit).
  const std::vector<Token> many(24, p0[0]);
  EXPECT_THROW(ctx.decode(many), ContextFullError);
  EXPECT_EQ(ctx.n_past(), 41);

  // A fork takes no block; writing into the shared partial block needs one (copy-on-write).
  ctx.fork_sequence(0, 2, 41);
  EXPECT_EQ(kv.n_free_blocks(), 0);
  const Token t2 = p1[19];
  const BatchToken w2[] = {{t2, 41, 2, true}};
  EXPECT_THROW(ctx.decode(w2), ContextFullError);
  EXPECT_EQ(ctx.n_past(2), 41);
  ctx.drop_sequence(1);
  EXPECT_EQ(kv.n_free_blocks(), 1);
  ctx.decode(w2);
  EXPECT_EQ(kv.n_free_blocks(), 0);
  auto s2 = std::vector<Token>(p0.begin(), p0.begin() + 41);
  s2.push_back(t2);
  check(ctx.logits_ith(0), alone(*model, s2, 41, cp)[41], "sequence 2 after copy-on-write");
  check(ctx.logits(), alone(*model, s2, 41, cp)[41], "logits() of the last entry");

  // Bad entries: nothing evaluated.
  const BatchToken gap[] = {{p0[41], 42, 0, true}};
  EXPECT_THROW(ctx.decode(gap), std::invalid_argument);
  const BatchToken repeat[] = {{p0[41], 41, 0, false}, {p0[41], 41, 0, true}};
  EXPECT_THROW(ctx.decode(repeat), std::invalid_argument);
  const BatchToken neg_seq[] = {{p0[41], 0, -1, true}};
  EXPECT_THROW(ctx.decode(neg_seq), std::invalid_argument);
  const BatchToken big_seq[] = {{p0[41], 0, KvCache::kMaxSeq, true}};
  EXPECT_THROW(ctx.decode(big_seq), std::invalid_argument);
  const BatchToken bad_tok[] = {{Token(V), 41, 0, true}};
  EXPECT_THROW(ctx.decode(bad_tok), std::invalid_argument);
  EXPECT_THROW(ctx.decode(std::span<const BatchToken>()), std::invalid_argument);
  EXPECT_THROW(ctx.fork_sequence(0, 5, 42), std::invalid_argument);
  EXPECT_THROW(ctx.fork_sequence(0, -1, 1), std::invalid_argument);
  EXPECT_EQ(ctx.n_past(0), 41);
  EXPECT_EQ(ctx.n_past(2), 42);

  // clear() and truncate() are sequence 0's; sequence 2 keeps its (shared) blocks.
  ctx.clear();
  EXPECT_EQ(ctx.n_past(), 0);
  EXPECT_EQ(ctx.n_past(2), 42);
  EXPECT_EQ(kv.n_free_blocks(), 1);
  check.print("capacity", GgmlType::F32);
}

}  // namespace
}  // namespace nnb

// The forward pass, step by step as llama.cpp's graph computes it (so that results agree to
// f32 rounding): RMSNorm (sum of squares in double) * weight, Q/K/V projections (+ biases
// where the architecture has them), RoPE, causal softmax attention with grouped KV heads,
// output projection and residual, then RMSNorm * weight and the SwiGLU feed-forward with its
// residual. Where architectures differ, the forward pass reads the model's architecture row
// (arch.h: RoPE layout, QKV biases), never its name; loading refuses rows that need a feature
// not computed here.
// Activations are quantized once per matrix product to the weight type's dot-product format
// (Q8_0 / Q8_1 / Q8_K / F16 / BF16), exactly as ggml's CPU backend does.
//
// Batches: the tokens of a batch may belong to several sequences (BatchToken). Everything but
// attention is row-wise, so it runs over the whole batch whatever the sequences (each weight is
// read once per batch); attention runs per run of adjacent entries of one sequence, through
// that sequence's block table (kv_cache.h). The single-sequence decode() is a batch of
// sequence 0 and takes exactly the path it took before sequences existed.
//
// Speed: a batch of several tokens goes through the GEMM kernels (vec_dot_gemm.h: each weight
// panel is unpacked once and used for every token); a single token (generation) through the
// per-row dot kernels, rows split dynamically over the pool. Matrices that share an input
// (Q/K/V, gate/up) run in one parallel region. Nothing is allocated per token: every buffer is
// sized at construction (or grown once, the first time a larger batch needs it).
#include "engine/context.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/ops.h"
#include "engine/quants.h"
#include "engine/vec_dot.h"
#include "engine/vec_dot_gemm.h"

namespace nnb {
namespace {

// Batches of at least GemmKernel::min_n tokens use the GEMM kernels; NNB_GEMM_MIN=N sets
// one threshold for every type (tuning, tests).
int32_t gemm_min_tokens(const GemmKernel& g) {
  static const int32_t v = [] {
    const char* e = std::getenv("NNB_GEMM_MIN");
    return e && *e ? std::max(1, std::atoi(e)) : 0;
  }();
  return v > 0 ? v : g.min_n;
}

// Grow-only, 64-byte aligned, lazily zeroed (calloc: untouched pages cost no memory).
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(raw_); }
  void reserve(size_t bytes) {
    if (bytes <= size_) return;
    std::free(raw_);
    raw_ = std::calloc(bytes + 64, 1);
    if (!raw_) throw std::bad_alloc();
    data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw_) + 63) & ~uintptr_t(63));
    size_ = bytes;
  }
  uint8_t* data() { return data_; }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }

 private:
  void* raw_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

// Attention of up to 4 consecutive queries of one sequence: q rows q_row.., output rows
// out_row.., positions pos0.., keys through the sequence's block table.
struct Context::AttnJob {
  int32_t q_row;
  int32_t out_row;
  int32_t n_q;
  int32_t pos0;
  const int32_t* blocks;
};

struct Context::Scratch {
  // Activations of the batch ([n_batch][width]); calloc'd, so a large n_batch costs memory
  // only once a batch that large is decoded.
  Buffer x, xn, q, k, v, attn, gate, up, tmp;
  Buffer rope_cos, rope_sin;  // [n][n_rot/2] for the batch's positions
  Buffer act[6];              // prepared activations, one per format in use
  std::vector<Buffer> thread;  // per thread: attention scores, GEMM panel
  size_t attn_floats = 0;      // offset of the panel in a thread buffer
  size_t panel_bytes = 0;
  // Per batch (grown, never shrunk): KV cells of the entries, the entries whose logits are
  // wanted, attention jobs over all entries / over those, and (sequence, next position,
  // entries) for each sequence of a decode() call.
  std::vector<int32_t> cells, out_rows;
  std::vector<AttnJob> jobs_all, jobs_out;
  struct SeqUse {
    int32_t seq, next, count;
  };
  std::vector<SeqUse> seqs;
};

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      pool_(params.n_threads),
      kv_(model.hparams().n_layer, params.n_ctx > 0 ? params.n_ctx : model.hparams().n_ctx_train,
          model.hparams().n_head_kv, model.hparams().head_dim),
      s_(std::make_unique<Scratch>()) {
  const Hparams& hp = model.hparams();
  if (params_.n_batch <= 0) params_.n_batch = 512;
  params_.n_batch = std::min(params_.n_batch, kv_.capacity());
  const size_t B = size_t(params_.n_batch), f = sizeof(float);
  s_->x.reserve(B * hp.n_embd * f);
  s_->xn.reserve(B * std::max(hp.n_embd, hp.n_embd_q()) * f);
  s_->q.reserve(B * hp.n_embd_q() * f);
  s_->k.reserve(B * hp.n_embd_kv() * f);
  s_->v.reserve(B * hp.n_embd_kv() * f);
  s_->attn.reserve(B * hp.n_embd_q() * f);
  s_->gate.reserve(B * hp.n_ff * f);
  s_->up.reserve(B * hp.n_ff * f);
  s_->tmp.reserve(B * hp.n_embd * f);
  s_->rope_cos.reserve(B * size_t(hp.n_rot / 2) * f + f);
  s_->rope_sin.reserve(B * size_t(hp.n_rot / 2) * f + f);

  // Per-thread scratch: attention scores of a block of 4 queries over the whole context, and
  // the largest GEMM panel of any matrix of the model.
  s_->attn_floats = size_t(attn_scratch_floats(4, kv_.capacity16()) + 16) / 16 * 16;
  size_t panel = 0;
  auto consider = [&](const Matrix& m) {
    if (const GemmKernel* g = gemm_kernel(m.type)) panel = std::max(panel, g->panel_bytes(m.ne0));
  };
  for (const Layer& L : model.layers())
    for (const Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) consider(*m);
  consider(model.output());
  s_->panel_bytes = panel;
  s_->thread = std::vector<Buffer>(size_t(pool_.size()));
  for (Buffer& b : s_->thread) b.reserve(s_->attn_floats * sizeof(float) + panel);
  // The activation buffer every product needs (one token in the widest format: f32).
  const int64_t widest = std::max<int64_t>({hp.n_embd, hp.n_embd_q(), hp.n_ff});
  s_->act[0].reserve(size_t(widest) * 4 + 1024);
}

Context::~Context() = default;

void Context::decode(std::span<const Token> tokens, bool all_logits) {
  const int32_t n = int32_t(tokens.size());
  if (n == 0) throw std::invalid_argument("decode: no tokens");
  const int32_t pos0 = kv_.n_used();
  batch_.resize(size_t(n));
  for (int32_t i = 0; i < n; ++i) batch_[size_t(i)] = BatchToken{tokens[size_t(i)], pos0 + i, 0, all_logits || i == n - 1};
  decode(std::span<const BatchToken>(batch_.data(), size_t(n)));
}

void Context::decode(std::span<const BatchToken> batch) {
  const int32_t n = int32_t(batch.size());
  if (n == 0) throw std::invalid_argument("decode: no tokens");
  const int32_t n_vocab = model_.hparams().n_vocab;
  // Everything is checked before anything is evaluated: a refused batch leaves the cache as it
  // was. Sequences are few per batch; a linear search over them is cheaper than a map.
  auto& seqs = s_->seqs;
  seqs.clear();
  int32_t n_want = 0;
  for (const BatchToken& b : batch) {
    if (b.token < 0 || b.token >= n_vocab)
      throw std::invalid_argument("token id " + std::to_string(b.token) + " is outside the vocabulary (0.." +
                                  std::to_string(n_vocab - 1) + ")");
    if (!KvCache::valid_seq(b.seq))
      throw std::invalid_argument("sequence id " + std::to_string(b.seq) + " is outside 0.." +
                                  std::to_string(KvCache::kMaxSeq - 1));
    auto it = std::find_if(seqs.begin(), seqs.end(), [&](const Scratch::SeqUse& u) { return u.seq == b.seq; });
    if (it == seqs.end()) it = seqs.insert(seqs.end(), Scratch::SeqUse{b.seq, kv_.n_pos(b.seq), 0});
    if (b.pos != it->next)
      throw std::invalid_argument("decode: sequence " + std::to_string(b.seq) + " at position " + std::to_string(b.pos) +
                                  ", expected " + std::to_string(it->next) +
                                  " (a sequence's positions follow each other from n_past)");
    ++it->next;
    ++it->count;
    n_want += b.logits ? 1 : 0;
  }
  int64_t blocks = 0;
  for (const Scratch::SeqUse& u : seqs) {
    if (int64_t(u.next) > kv_.capacity())
      throw ContextFullError("context full: " + std::to_string(u.next - u.count) + " + " + std::to_string(u.count) +
                             " tokens exceed the context size " + std::to_string(kv_.capacity()) +
                             (u.seq != 0 ? " (sequence " + std::to_string(u.seq) + ")" : std::string()));
    blocks += kv_.blocks_needed(u.seq, u.count);
  }
  if (blocks > kv_.n_free_blocks())
    throw ContextFullError("context full: the batch needs " + std::to_string(blocks) + " more blocks of " +
                           std::to_string(KvCache::kBlock) + " cells, " + std::to_string(kv_.n_free_blocks()) +
                           " of " + std::to_string(kv_.n_blocks()) + " are free (shared by all sequences)");

  logits_.resize(size_t(n_want) * size_t(n_vocab));
  logits_row_.resize(size_t(n));
  for (int32_t i = 0, r = 0; i < n; ++i) logits_row_[size_t(i)] = batch[size_t(i)].logits ? r++ : -1;
  n_logits_ = 0;
  for (int32_t off = 0; off < n; off += params_.n_batch) {
    if (abort_check_ && abort_check_())
      throw CancelledError("cancelled after " + std::to_string(off) + " of " + std::to_string(n) + " tokens");
    forward(batch.data() + off, std::min(params_.n_batch, n - off));
  }
}

const float* Context::logits() const {
  if (n_logits_ == 0) throw std::logic_error("no logits: decode() has not run");
  return logits_.data() + size_t(n_logits_ - 1) * size_t(model_.hparams().n_vocab);
}

const float* Context::logits_at(int32_t i) const {
  if (i < 0 || i >= n_logits_) throw std::out_of_range("logits_at: index " + std::to_string(i));
  return logits_.data() + size_t(i) * size_t(model_.hparams().n_vocab);
}

const float* Context::logits_ith(int32_t i) const {
  if (i < 0 || size_t(i) >= logits_row_.size() || logits_row_[size_t(i)] < 0 || logits_row_[size_t(i)] >= n_logits_)
    throw std::out_of_range("logits_ith: batch entry " + std::to_string(i) + " has no logits");
  return logits_.data() + size_t(logits_row_[size_t(i)]) * size_t(model_.hparams().n_vocab);
}

void Context::matmuls(const MatOut* m, int count, const float* in, int32_t n) {
  const int64_t K = m[0].w->ne0;
  constexpr int kMax = 3;
  if (count > kMax) throw std::logic_error("matmuls: too many matrices");
  const DotKernel* kern[kMax] = {};
  const GemmKernel* gk[kMax] = {};
  bool gemm = n > 1;
  bool tails = false;  // some rows outside full GEMM panels
  for (int i = 0; i < count; ++i) {
    kern[i] = dot_kernel(m[i].w->type);
    if (!kern[i]) throw std::runtime_error("no dot-product kernel for " + std::string(type_name(m[i].w->type)));
    if (gemm) {
      gk[i] = gemm_kernel(m[i].w->type);
      if (!gk[i] || n < gemm_min_tokens(*gk[i])) gemm = false;
      else if (m[i].w->ne1 % gk[i]->rows != 0) tails = true;
    }
  }

  // Activation formats needed: GEMM layouts, and vec_dot types for the rows outside panels.
  struct Fmt {
    bool is_gemm;
    GemmAct ga;
    GgmlType vt;
    size_t stride;
    const uint8_t* data;
  };
  Fmt fmts[2 * kMax];
  int n_fmts = 0;
  int gemm_fmt[kMax] = {}, dot_fmt[kMax] = {};
  auto find_or_add = [&](bool is_gemm, GemmAct ga, GgmlType vt) {
    for (int f = 0; f < n_fmts; ++f)
      if (fmts[f].is_gemm == is_gemm && (is_gemm ? fmts[f].ga == ga : fmts[f].vt == vt)) return f;
    fmts[n_fmts] = {is_gemm, ga, vt, 0, nullptr};
    return n_fmts++;
  };
  for (int i = 0; i < count; ++i) {
    if (gemm) gemm_fmt[i] = find_or_add(true, gk[i]->act, GgmlType::F32);
    if (!gemm || tails) dot_fmt[i] = find_or_add(false, GemmAct::F32, kern[i]->vec_dot_type);
  }
  int n_buf = 0;
  bool convert = false;
  for (int f = 0; f < n_fmts; ++f) {
    Fmt& F = fmts[f];
    if (!F.is_gemm && F.vt == GgmlType::F32) {
      F.stride = size_t(K) * sizeof(float);
      F.data = reinterpret_cast<const uint8_t*>(in);
      continue;
    }
    F.stride = F.is_gemm ? gemm_act_bytes(F.ga, K) : row_size(F.vt, K);
    Buffer& b = s_->act[n_buf++];
    b.reserve(F.stride * size_t(n));
    F.data = b.data();
    convert = true;
  }
  if (convert) {
    auto prep = [&](int64_t t0, int64_t t1, int) {
      for (int f = 0; f < n_fmts; ++f) {
        const Fmt& F = fmts[f];
        if (!F.is_gemm && F.vt == GgmlType::F32) continue;
        uint8_t* dst = const_cast<uint8_t*>(F.data);
        for (int64_t t = t0; t < t1; ++t) {
          if (F.is_gemm) gemm_prepare(F.ga, in + t * K, K, dst + size_t(t) * F.stride);
          else quantize_row_activation(F.vt, in + t * K, dst + size_t(t) * F.stride, K);
        }
      }
    };
    if (n == 1) prep(0, 1, 0);
    else pool_.parallel_for(n, 1, prep);
  }

  // Rows r of matrix i through the dot kernels, for every token.
  auto dot_rows = [&](int i, int64_t r0, int64_t r1) {
    const Matrix& w = *m[i].w;
    const int64_t M = w.ne1;
    const Fmt& F = fmts[dot_fmt[i]];
    const VecDotFn dot = kern[i]->vec_dot;
    float* out = m[i].out;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.row(r);
      for (int32_t t = 0; t < n; ++t) dot(K, out + size_t(t) * size_t(M) + r, wr, F.data + size_t(t) * F.stride);
    }
  };

  if (!gemm) {
    int64_t off[kMax + 1] = {0};
    for (int i = 0; i < count; ++i) off[i + 1] = off[i] + m[i].w->ne1;
    pool_.parallel_for(off[count], 16, [&](int64_t b, int64_t e, int) {
      for (int i = 0; i < count; ++i) {
        const int64_t lo = std::max(b, off[i]), hi = std::min(e, off[i + 1]);
        if (lo < hi) dot_rows(i, lo - off[i], hi - off[i]);
      }
    });
    return;
  }

  // GEMM: panels of gk->rows weight rows, each packed once and run against all n tokens; a
  // last partial panel goes through the dot kernels.
  int64_t poff[kMax + 1] = {0};
  for (int i = 0; i < count; ++i) {
    const int64_t R = gk[i]->rows;
    poff[i + 1] = poff[i] + (m[i].w->ne1 + R - 1) / R;
  }
  pool_.parallel_for(poff[count], 1, [&](int64_t b, int64_t e, int tid) {
    uint8_t* panel = s_->thread[size_t(tid)].data() + s_->attn_floats * sizeof(float);
    for (int64_t p = b; p < e; ++p) {
      int i = 0;
      while (p >= poff[i + 1]) ++i;
      const Matrix& w = *m[i].w;
      const int64_t R = gk[i]->rows, M = w.ne1;
      const int64_t r0 = (p - poff[i]) * R;
      if (r0 + R > M) {
        dot_rows(i, r0, M);
        continue;
      }
      const Fmt& F = fmts[gemm_fmt[i]];
      gk[i]->pack(w.row(r0), w.row_bytes, K, panel);
      gk[i]->compute(panel, K, F.data, F.stride, n, m[i].out + r0, M);
    }
  });
}

void Context::attention(int layer, const std::vector<AttnJob>& jobs) {
  const Hparams& hp = model_.hparams();
  const int32_t hd = hp.head_dim, n_head = hp.n_head, group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int64_t Q = hp.n_embd_q();
  const auto attend = ops().attend;
  pool_.parallel_for(int64_t(jobs.size()) * n_head, 1, [&](int64_t b, int64_t e, int tid) {
    float* scratch = s_->thread[size_t(tid)].as<float>();
    for (int64_t job = b; job < e; ++job) {
      const AttnJob& J = jobs[size_t(job / n_head)];
      const int32_t h = int32_t(job % n_head);
      const int32_t kvh = h / group;
      AttnArgs a;
      a.q = s_->q.as<float>() + size_t(J.q_row) * Q + size_t(h) * hd;
      a.q_stride = Q;
      a.k = kv_.k_head(layer, kvh);
      a.v = kv_.v_head(layer, kvh);
      a.blocks = J.blocks;
      a.out = s_->attn.as<float>() + size_t(J.out_row) * Q + size_t(h) * hd;
      a.out_stride = Q;
      a.head_dim = hd;
      a.n_q = J.n_q;
      a.pos0 = J.pos0;
      a.scale = scale;
      a.scratch = scratch;
      attend(a);
    }
  });
}

void Context::forward(const BatchToken* batch, int32_t n) {
  const Hparams& hp = model_.hparams();
  Scratch& s = *s_;
  const OpsTable& op = ops();
  const int64_t E = hp.n_embd, Q = hp.n_embd_q(), KV = hp.n_embd_kv(), F = hp.n_ff, V = hp.n_vocab;
  const BatchToken* bt = batch;

  // The entries' KV cells (new blocks taken, shared ones copied: decode() checked they fit),
  // and the entries whose logits are wanted.
  s.cells.resize(size_t(n));
  s.out_rows.clear();
  for (int32_t i = 0; i < n; ++i) {
    s.cells[size_t(i)] = kv_.reserve_cell(bt[i].seq, bt[i].pos);
    if (bt[i].logits) s.out_rows.push_back(i);
  }
  const int32_t n_out = int32_t(s.out_rows.size());
  // Attention jobs: runs of entries of one sequence at consecutive rows and positions, cut
  // into blocks of 4 queries (for one sequence: blocks 0-3, 4-7, ... of the batch). Block
  // tables are read after every cell is reserved (reserving may move them).
  auto make_jobs = [&](std::vector<AttnJob>& jobs, int32_t count, auto row_of) {
    jobs.clear();
    for (int32_t k = 0; k < count;) {
      const int32_t i = row_of(k);
      int32_t len = 1;
      while (len < 4 && k + len < count && row_of(k + len) == i + len && bt[i + len].seq == bt[i].seq &&
             bt[i + len].pos == bt[i].pos + len)
        ++len;
      jobs.push_back(AttnJob{i, k, len, bt[i].pos, kv_.block_table(bt[i].seq)});
      k += len;
    }
  };
  make_jobs(s.jobs_all, n, [](int32_t k) { return k; });
  // The last layer only needs the rows whose logits are wanted.
  if (n_out < n) make_jobs(s.jobs_out, n_out, [&](int32_t k) { return s.out_rows[size_t(k)]; });

  const Matrix& emb = model_.tok_embd();
  for (int32_t i = 0; i < n; ++i) dequantize_row(emb.type, emb.row(bt[i].token), s.x.as<float>() + size_t(i) * E, E);

  // RoPE angles for this batch, computed as ggml does: theta advances by repeated
  // multiplication with base^(-2/n_rot), scaled by freq_scale and divided by freq factors.
  const int32_t half = hp.n_rot / 2;
  const float theta_scale = std::pow(hp.rope_freq_base, -2.0f / float(hp.n_rot));
  const auto& ff = model_.rope_freq_factors();
  const bool neox = model_.arch().rope == RopeType::Neox;
  const bool qkv_bias = hp.qkv_bias;
  for (int32_t i = 0; i < n; ++i) {
    float theta = float(bt[i].pos);
    for (int32_t p = 0; p < half; ++p) {
      const float f = ff.empty() ? 1.0f : ff[size_t(p)];
      const float t = hp.rope_freq_scale * (theta / f);
      s.rope_cos.as<float>()[size_t(i) * half + p] = std::cos(t);
      s.rope_sin.as<float>()[size_t(i) * half + p] = std::sin(t);
      theta *= theta_scale;
    }
  }
  auto rope = [&](float* v, int32_t n_heads, int32_t i) {
    const float* c = s.rope_cos.as<float>() + size_t(i) * half;
    const float* sn = s.rope_sin.as<float>() + size_t(i) * half;
    for (int32_t h = 0; h < n_heads; ++h) {
      float* x = v + size_t(h) * hp.head_dim;
      if (!neox) {  // adjacent pairs (2p, 2p+1)
        for (int32_t p = 0; p < half; ++p) {
          const float x0 = x[2 * p], x1 = x[2 * p + 1];
          x[2 * p] = x0 * c[p] - x1 * sn[p];
          x[2 * p + 1] = x0 * sn[p] + x1 * c[p];
        }
      } else {  // neox: (p, p + n_rot/2)
        for (int32_t p = 0; p < half; ++p) {
          const float x0 = x[p], x1 = x[p + half];
          x[p] = x0 * c[p] - x1 * sn[p];
          x[p + half] = x0 * sn[p] + x1 * c[p];
        }
      }
    }
  };

  // Row-wise helpers over the batch: in parallel for a batch, inline for one token.
  auto for_rows = [&](int32_t rows, auto&& fn) {
    if (rows == 1) fn(0, 1, 0);
    else pool_.parallel_for(rows, 1, fn);
  };

  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = model_.layers()[size_t(l)];
    // On the last layer only the rows whose logits are wanted need the rest of the graph.
    const bool subset = l == hp.n_layer - 1 && n_out < n;
    const int32_t m = subset ? n_out : n;

    for (int32_t i = 0; i < n; ++i)
      op.rms_norm(s.x.as<float>() + size_t(i) * E, L.attn_norm.data(), s.xn.as<float>() + size_t(i) * E, E, hp.rms_eps);
    const MatOut qkv[3] = {{&L.wq, s.q.as<float>()}, {&L.wk, s.k.as<float>()}, {&L.wv, s.v.as<float>()}};
    matmuls(qkv, 3, s.xn.as<float>(), n);
    for (int32_t i = 0; i < n; ++i) {
      float* q = s.q.as<float>() + size_t(i) * Q;
      float* k = s.k.as<float>() + size_t(i) * KV;
      float* v = s.v.as<float>() + size_t(i) * KV;
      if (qkv_bias) {
        op.add(q, L.bq.data(), Q);
        op.add(k, L.bk.data(), KV);
        op.add(v, L.bv.data(), KV);
      }
      rope(q, hp.n_head, i);
      rope(k, hp.n_head_kv, i);
      kv_.store_cell(l, s.cells[size_t(i)], k, v);
    }
    if (m == 0) break;  // no logits wanted: the last layer's K and V were all that was needed
    attention(l, subset ? s.jobs_out : s.jobs_all);

    // From here on the m rows only, compacted to the front of the buffers (the attention
    // already wrote its output rows there).
    float* x = s.x.as<float>();
    if (subset)
      for (int32_t k = 0; k < m; ++k)
        if (const int32_t r = s.out_rows[size_t(k)]; r != k) std::memcpy(x + size_t(k) * E, x + size_t(r) * E, size_t(E) * sizeof(float));
    matmul(L.wo, s.attn.as<float>(), m, s.tmp.as<float>());
    op.add(x, s.tmp.as<float>(), int64_t(m) * E);

    for (int32_t i = 0; i < m; ++i)
      op.rms_norm(x + size_t(i) * E, L.ffn_norm.data(), s.xn.as<float>() + size_t(i) * E, E, hp.rms_eps);
    const MatOut gate_up[2] = {{&L.w_gate, s.gate.as<float>()}, {&L.w_up, s.up.as<float>()}};
    matmuls(gate_up, 2, s.xn.as<float>(), m);
    for_rows(m, [&](int64_t b, int64_t e, int) {
      op.silu_mul(s.gate.as<float>() + size_t(b) * F, s.up.as<float>() + size_t(b) * F, (e - b) * F);
    });
    matmul(L.w_down, s.gate.as<float>(), m, s.tmp.as<float>());
    op.add(x, s.tmp.as<float>(), int64_t(m) * E);
  }

  if (n_out > 0) {
    for (int32_t i = 0; i < n_out; ++i)
      op.rms_norm(s.x.as<float>() + size_t(i) * E, model_.output_norm().data(), s.xn.as<float>() + size_t(i) * E, E, hp.rms_eps);
    float* out = logits_.data() + size_t(n_logits_) * size_t(V);
    matmul(model_.output(), s.xn.as<float>(), n_out, out);
    n_logits_ += n_out;
  }
  for (int32_t i = 0; i < n; ++i) kv_.set_n_pos(bt[i].seq, bt[i].pos + 1);
}

}  // namespace nnb

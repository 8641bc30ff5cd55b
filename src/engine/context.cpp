// The forward pass, step by step as llama.cpp's graph computes it (so that results agree to
// f32 rounding): RMSNorm (sum of squares in double) * weight, Q/K/V projections (+ biases
// for qwen2), RoPE, causal softmax attention with grouped KV heads, output projection and
// residual, then RMSNorm * weight and the SwiGLU feed-forward with its residual.
// Activations are quantized once per matrix product to the weight type's dot-product format
// (Q8_0 / Q8_1 / Q8_K / F16 / BF16), exactly as ggml's CPU backend does.
#include "engine/context.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/quants.h"
#include "engine/vec_dot.h"

namespace nnb {

struct Context::Scratch {
  std::vector<float> x, xn, q, k, v, attn, gate, up, tmp;
  std::vector<uint8_t> qact;             // activations in the weight's dot-product format
  std::vector<float> rope_cos, rope_sin;  // [n][n_rot/2] for the batch's positions
  std::vector<std::vector<float>> scores;  // per thread: one row of attention weights
};

namespace {

// ggml_rms_norm followed by ggml_mul with the norm weight.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i] * x[i]);
  const float mean = float(sum / double(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      pool_(params.n_threads),
      kv_(model.hparams().n_layer, params.n_ctx > 0 ? params.n_ctx : model.hparams().n_ctx_train,
          model.hparams().n_embd_kv()),
      s_(std::make_unique<Scratch>()) {
  const Hparams& hp = model.hparams();
  if (params_.n_batch <= 0) params_.n_batch = 512;
  params_.n_batch = std::min(params_.n_batch, kv_.capacity());
  const size_t B = size_t(params_.n_batch);
  s_->x.resize(B * hp.n_embd);
  s_->xn.resize(B * std::max(hp.n_embd, hp.n_embd_q()));
  s_->q.resize(B * hp.n_embd_q());
  s_->k.resize(B * hp.n_embd_kv());
  s_->v.resize(B * hp.n_embd_kv());
  s_->attn.resize(B * hp.n_embd_q());
  s_->gate.resize(B * hp.n_ff);
  s_->up.resize(B * hp.n_ff);
  s_->tmp.resize(B * hp.n_embd);
  s_->rope_cos.resize(B * size_t(hp.n_rot / 2));
  s_->rope_sin.resize(B * size_t(hp.n_rot / 2));
  s_->scores.resize(size_t(pool_.size()), std::vector<float>(size_t(kv_.capacity())));
  // Largest quantized activation block: the widest input row of any matrix, in the roomiest
  // format (F32 needs no buffer; Q8_K and F16 are the largest per element after F32).
  const int64_t widest = std::max<int64_t>({hp.n_embd, hp.n_embd_q(), hp.n_ff});
  s_->qact.resize(B * size_t(widest) * 4 + 1024);
}

Context::~Context() = default;

void Context::decode(std::span<const Token> tokens, bool all_logits) {
  const int32_t n = int32_t(tokens.size());
  if (n == 0) throw std::invalid_argument("decode: no tokens");
  if (int64_t(kv_.n_used()) + n > kv_.capacity())
    throw ContextFullError("context full: " + std::to_string(kv_.n_used()) + " + " + std::to_string(n) +
                           " tokens exceed the context size " + std::to_string(kv_.capacity()));
  const int32_t n_vocab = model_.hparams().n_vocab;
  for (Token t : tokens)
    if (t < 0 || t >= n_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                  std::to_string(n_vocab - 1) + ")");
  logits_.resize(size_t(all_logits ? n : 1) * size_t(n_vocab));
  n_logits_ = 0;
  for (int32_t off = 0; off < n; off += params_.n_batch) {
    const int32_t m = std::min(params_.n_batch, n - off);
    const bool last_chunk = off + m == n;
    if (all_logits || last_chunk) forward(tokens.data() + off, m, all_logits);
    else forward(tokens.data() + off, m, false), n_logits_ = 0;
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

void Context::matmul(const Matrix& w, const float* in, int32_t n, float* out) {
  const DotKernel* kern = dot_kernel(w.type);
  if (!kern) throw std::runtime_error("no dot-product kernel for " + std::string(type_name(w.type)));
  const int64_t K = w.ne0, M = w.ne1;
  const GgmlType vt = kern->vec_dot_type;
  const uint8_t* act = reinterpret_cast<const uint8_t*>(in);
  size_t act_row = size_t(K) * sizeof(float);
  if (vt != GgmlType::F32) {
    act_row = row_size(vt, K);
    uint8_t* q = s_->qact.data();
    pool_.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) quantize_row_activation(vt, in + t * K, q + size_t(t) * act_row, K);
    });
    act = q;
  }
  // Rows in chunks: each chunk's weights stay in cache while every token of the batch uses them.
  pool_.parallel_for(M, 16, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.row(r);
      for (int32_t t = 0; t < n; ++t) kern->vec_dot(K, out + size_t(t) * size_t(M) + r, wr, act + size_t(t) * act_row);
    }
  });
}

void Context::attention(int layer, int32_t pos0, int32_t n, int32_t first_out) {
  const Hparams& hp = model_.hparams();
  const int32_t hd = hp.head_dim, n_head = hp.n_head, group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int32_t n_rows = n - first_out;
  pool_.parallel_for(int64_t(n_rows) * n_head, 1, [&](int64_t b, int64_t e, int tid) {
    float* sc = s_->scores[size_t(tid)].data();
    for (int64_t job = b; job < e; ++job) {
      const int32_t i = first_out + int32_t(job / n_head), h = int32_t(job % n_head);
      const int32_t kvh = h / group, pos = pos0 + i;
      const float* q = s_->q.data() + size_t(i) * hp.n_embd_q() + size_t(h) * hd;
      // Causal: token at `pos` sees positions 0..pos.
      float mx = -INFINITY;
      for (int32_t j = 0; j <= pos; ++j) {
        sc[j] = dot_f32(q, kv_.k(layer, j) + size_t(kvh) * hd, hd) * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0.0;
      for (int32_t j = 0; j <= pos; ++j) {
        sc[j] = std::exp(sc[j] - mx);
        sum += double(sc[j]);
      }
      const float inv = float(1.0 / sum);
      float* o = s_->attn.data() + size_t(i) * hp.n_embd_q() + size_t(h) * hd;
      std::fill(o, o + hd, 0.0f);
      for (int32_t j = 0; j <= pos; ++j) {
        const float p = sc[j] * inv;
        const float* v = kv_.v(layer, j) + size_t(kvh) * hd;
        for (int32_t d = 0; d < hd; ++d) o[d] += p * v[d];
      }
    }
  });
}

void Context::forward(const Token* tokens, int32_t n, bool all_logits) {
  const Hparams& hp = model_.hparams();
  Scratch& s = *s_;
  const int64_t E = hp.n_embd, Q = hp.n_embd_q(), KV = hp.n_embd_kv(), F = hp.n_ff, V = hp.n_vocab;
  const int32_t pos0 = kv_.n_used();
  const int32_t n_in = n;

  const Matrix& emb = model_.tok_embd();
  for (int32_t i = 0; i < n; ++i) dequantize_row(emb.type, emb.row(tokens[i]), s.x.data() + size_t(i) * E, E);

  // RoPE angles for this batch, computed as ggml does: theta advances by repeated
  // multiplication with base^(-2/n_rot), scaled by freq_scale and divided by freq factors.
  const int32_t half = hp.n_rot / 2;
  const float theta_scale = std::pow(hp.rope_freq_base, -2.0f / float(hp.n_rot));
  const auto& ff = model_.rope_freq_factors();
  for (int32_t i = 0; i < n; ++i) {
    float theta = float(pos0 + i);
    for (int32_t p = 0; p < half; ++p) {
      const float f = ff.empty() ? 1.0f : ff[size_t(p)];
      const float t = hp.rope_freq_scale * (theta / f);
      s.rope_cos[size_t(i) * half + p] = std::cos(t);
      s.rope_sin[size_t(i) * half + p] = std::sin(t);
      theta *= theta_scale;
    }
  }
  auto rope = [&](float* v, int32_t n_heads, int32_t i) {
    const float* c = s.rope_cos.data() + size_t(i) * half;
    const float* sn = s.rope_sin.data() + size_t(i) * half;
    for (int32_t h = 0; h < n_heads; ++h) {
      float* x = v + size_t(h) * hp.head_dim;
      for (int32_t p = 0; p < half; ++p) {
        // Normal: adjacent pairs (2p, 2p+1). Neox: (p, p + n_rot/2).
        const int32_t a = hp.rope_type == RopeType::Normal ? 2 * p : p;
        const int32_t b = hp.rope_type == RopeType::Normal ? 2 * p + 1 : p + half;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c[p] - x1 * sn[p];
        x[b] = x0 * sn[p] + x1 * c[p];
      }
    }
  };

  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = model_.layers()[size_t(l)];
    // On the last layer only the rows whose logits are wanted need the rest of the graph.
    const bool last = l == hp.n_layer - 1;
    const int32_t first_out = last && !all_logits ? n - 1 : 0;
    const int32_t m = n - first_out;

    for (int32_t i = 0; i < n; ++i)
      rms_norm(s.x.data() + size_t(i) * E, L.attn_norm.data(), s.xn.data() + size_t(i) * E, E, hp.rms_eps);
    matmul(L.wq, s.xn.data(), n, s.q.data());
    matmul(L.wk, s.xn.data(), n, s.k.data());
    matmul(L.wv, s.xn.data(), n, s.v.data());
    for (int32_t i = 0; i < n; ++i) {
      float* q = s.q.data() + size_t(i) * Q;
      float* k = s.k.data() + size_t(i) * KV;
      float* v = s.v.data() + size_t(i) * KV;
      if (!L.bq.empty()) {
        for (int64_t j = 0; j < Q; ++j) q[j] += L.bq[size_t(j)];
        for (int64_t j = 0; j < KV; ++j) k[j] += L.bk[size_t(j)];
        for (int64_t j = 0; j < KV; ++j) v[j] += L.bv[size_t(j)];
      }
      rope(q, hp.n_head, i);
      rope(k, hp.n_head_kv, i);
      std::copy(k, k + KV, kv_.k(l, pos0 + i));
      std::copy(v, v + KV, kv_.v(l, pos0 + i));
    }
    attention(l, pos0, n, first_out);

    // From here on rows first_out..n-1 only, compacted to the front of the buffers.
    float* x = s.x.data() + size_t(first_out) * E;
    if (first_out > 0) std::copy(x, x + size_t(m) * E, s.x.data()), x = s.x.data();
    matmul(L.wo, s.attn.data() + size_t(first_out) * Q, m, s.tmp.data());
    for (size_t j = 0; j < size_t(m) * E; ++j) x[j] += s.tmp[j];

    for (int32_t i = 0; i < m; ++i)
      rms_norm(x + size_t(i) * E, L.ffn_norm.data(), s.xn.data() + size_t(i) * E, E, hp.rms_eps);
    matmul(L.w_gate, s.xn.data(), m, s.gate.data());
    matmul(L.w_up, s.xn.data(), m, s.up.data());
    for (size_t j = 0; j < size_t(m) * F; ++j) {
      const float g = s.gate[j];
      s.gate[j] = (g / (1.0f + std::exp(-g))) * s.up[j];  // silu(gate) * up
    }
    matmul(L.w_down, s.gate.data(), m, s.tmp.data());
    for (size_t j = 0; j < size_t(m) * E; ++j) x[j] += s.tmp[j];
    if (last) n = m;  // rows left for the output head
  }

  for (int32_t i = 0; i < n; ++i)
    rms_norm(s.x.data() + size_t(i) * E, model_.output_norm().data(), s.xn.data() + size_t(i) * E, E, hp.rms_eps);
  float* out = logits_.data() + size_t(n_logits_) * size_t(V);
  matmul(model_.output(), s.xn.data(), n, out);
  n_logits_ += n;
  kv_.set_used(pos0 + n_in);
}

}  // namespace nnb

// The forward pass, step by step as llama.cpp's graphs compute it (so that results agree to
// f32 rounding): the embedding (scaled by sqrt(n_embd) for gemma/gemma2), then per layer a
// pre-norm (RMSNorm, or LayerNorm with bias for starcoder2), Q/K/V projections (+ biases),
// RoPE, causal softmax attention with grouped KV heads (a sliding window and soft-capped
// scores where the row says), the output projection (+ bias, + post-norm for gemma2) and its
// residual, then the feed-forward block (SwiGLU, GELU-gated, or a GELU MLP without gate; + post
// norm) and its residual (command-r: the FFN reads the attention's normed input, and both
// outputs add to the residual); the output norm and the logits (scaled for command-r,
// soft-capped for gemma2). Where architectures differ, the forward pass reads the model's
// architecture row (arch.h), never its name.
//
// It is written once, over the device interface (device/device.h): this file decides what is
// computed and in which order, for which rows; the device computes it where its data lives.
// The context's device is the one ContextParams::device names (runtime/devices.h): the CPU
// (cpu/cpu_device.h) or a Vulkan GPU (vulkan/vulkan_device.h).
//
// Batches: the tokens of a batch may belong to several sequences (BatchToken). Everything but
// attention is row-wise, so it runs over the whole batch whatever the sequences (each weight is
// read once per batch); attention runs per run of adjacent entries of one sequence, through
// that sequence's block table (kv_cache.h). The single-sequence decode() is a batch of
// sequence 0 and takes exactly the path it took before sequences existed.
#include "engine/runtime/context.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/runtime/devices.h"

namespace nnb {

// Per-batch bookkeeping of the forward pass (grown, never shrunk): KV cells of the entries,
// their positions and tokens, the entries whose logits are wanted, attention jobs over all
// entries / over those, and (sequence, next position, entries) for each sequence of a decode().
struct Context::Plan {
  std::vector<int32_t> cells, pos, tokens, out_rows;
  std::vector<float> xfer;  // the residual stream between devices (split layers)
  std::vector<AttnJob> jobs_all, jobs_out;
  struct SeqUse {
    int32_t seq, next, count;
  };
  std::vector<SeqUse> seqs;
};

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      kv_(model.hparams().n_layer, params.n_ctx > 0 ? params.n_ctx : model.hparams().n_ctx_train,
          model.hparams().n_head_kv, model.hparams().head_dim, params.kv_type),
      s_(std::make_unique<Plan>()) {
  if (params_.n_batch <= 0) params_.n_batch = 512;
  params_.n_batch = std::min(params_.n_batch, kv_.capacity());
  const int32_t n_layer = model.hparams().n_layer;
  split_ = params.n_gpu_layers < 0 ? n_layer : std::min(params.n_gpu_layers, n_layer);
  dev_ = make_device(split_ == 0 ? std::string("cpu") : params.device, model, params_.n_batch, kv_.capacity16(),
                     params.n_threads, split_);
  if (dev_->is_cpu()) split_ = n_layer;  // the CPU takes every layer, whatever was asked
  if (params.kv_type != KvType::F32 && !dev_->is_cpu())
    throw std::invalid_argument(std::string("KV cache type ") + kv_type_name(params.kv_type) + " is not implemented on " +
                                dev_->describe() + " (only f32 there): use f32 or the CPU device");
  if (split_ < n_layer)
    rest_ = make_device("cpu", model, params_.n_batch, kv_.capacity16(), params.n_threads, INT32_MAX, split_);
  kv_.set_copy_hook([this](int32_t from, int32_t to) {
    dev_->kv_copy_block(from, to);
    if (rest_) rest_->kv_copy_block(from, to);
  });
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
    auto it = std::find_if(seqs.begin(), seqs.end(), [&](const Plan::SeqUse& u) { return u.seq == b.seq; });
    if (it == seqs.end()) it = seqs.insert(seqs.end(), Plan::SeqUse{b.seq, kv_.n_pos(b.seq), 0});
    if (b.pos != it->next)
      throw std::invalid_argument("decode: sequence " + std::to_string(b.seq) + " at position " + std::to_string(b.pos) +
                                  ", expected " + std::to_string(it->next) +
                                  " (a sequence's positions follow each other from n_past)");
    ++it->next;
    ++it->count;
    n_want += b.logits ? 1 : 0;
  }
  int64_t blocks = 0;
  for (const Plan::SeqUse& u : seqs) {
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

  if (hidden_mode_) hidden_.resize(size_t(n_want) * size_t(model_.hparams().n_embd));
  else logits_.resize(size_t(n_want) * size_t(n_vocab));
  logits_row_.resize(size_t(n));
  for (int32_t i = 0, r = 0; i < n; ++i) logits_row_[size_t(i)] = batch[size_t(i)].logits ? r++ : -1;
  n_logits_ = 0;
  for (int32_t off = 0; off < n; off += params_.n_batch) {
    if (abort_check_ && abort_check_())
      throw CancelledError("cancelled after " + std::to_string(off) + " of " + std::to_string(n) + " tokens");
    forward(batch.data() + off, std::min(params_.n_batch, n - off));
  }
}

std::vector<float> Context::embed(std::span<const Token> tokens) {
  const Hparams& hp = model_.hparams();
  const int32_t n = int32_t(tokens.size());
  if (n == 0) throw std::invalid_argument("embed: no tokens");
  clear();
  hidden_mode_ = true;
  try {
    decode(tokens, /*all_logits=*/true);
  } catch (...) {
    hidden_mode_ = false;
    n_logits_ = 0;
    clear();
    throw;
  }
  hidden_mode_ = false;
  const size_t E = size_t(hp.n_embd);
  std::vector<double> sum(E, 0.0);
  auto add_row = [&](int32_t i) {
    for (size_t d = 0; d < E; ++d) sum[d] += hidden_[size_t(i) * E + d];
  };
  switch (hp.pooling) {
    case Pooling::Mean:
      for (int32_t i = 0; i < n; ++i) add_row(i);
      for (double& v : sum) v /= double(n);
      break;
    case Pooling::Cls: add_row(0); break;
    case Pooling::Last: add_row(n - 1); break;
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> out(E);
  for (size_t d = 0; d < E; ++d) out[d] = norm > 0 ? float(sum[d] / norm) : 0.0f;
  n_logits_ = 0;  // no logits: what was computed were hidden states
  clear();
  return out;
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

void Context::forward(const BatchToken* batch, int32_t n) {
  const Hparams& hp = model_.hparams();
  Plan& s = *s_;
  const BatchToken* bt = batch;
  // Layers [0, split_) on dev_, the rest and the output on the CPU (rest_), when split.
  auto dev_of = [&](int l) -> Device& { return rest_ && l >= split_ ? *rest_ : *dev_; };

  dev_->begin();
  if (rest_) rest_->begin();
  // The entries' KV cells (new blocks taken, shared ones copied: decode() checked they fit),
  // and the entries whose logits are wanted.
  s.cells.resize(size_t(n));
  s.pos.resize(size_t(n));
  s.tokens.resize(size_t(n));
  s.out_rows.clear();
  for (int32_t i = 0; i < n; ++i) {
    s.cells[size_t(i)] = kv_.reserve_cell(bt[i].seq, bt[i].pos);
    s.pos[size_t(i)] = bt[i].pos;
    s.tokens[size_t(i)] = bt[i].token;
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

  dev_of(0).embed(model_.tok_embd(), s.tokens.data(), n);
  if (model_.arch().embd_scale) dev_of(0).scale(Act::X, n, std::sqrt(float(hp.n_embd)));
  dev_->set_positions(s.pos.data(), n);
  if (rest_) rest_->set_positions(s.pos.data(), n);

  const ArchInfo& ai = model_.arch();
  // The pre-norms: RMS, or LayerNorm with its bias (starcoder2).
  auto norm = [&](Device& d, const std::vector<float>& w, const std::vector<float>& b, int32_t rows) {
    if (ai.norm == NormType::Layer) d.layer_norm(Act::X, Act::XN, w, b, rows, hp.rms_eps);
    else d.rms_norm(Act::X, Act::XN, w, rows, hp.rms_eps);
  };
  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = model_.layers()[size_t(l)];
    Device& dev = dev_of(l);
    if (l > 0 && &dev != &dev_of(l - 1)) {  // the residual stream moves to the next device
      s.xfer.resize(size_t(n) * size_t(hp.n_embd));
      dev_of(l - 1).read_act(Act::X, n, s.xfer.data());
      dev.write_act(Act::X, n, s.xfer.data());
    }
    // On the last layer only the rows whose logits are wanted need the rest of the graph.
    const bool subset = l == hp.n_layer - 1 && n_out < n;
    const int32_t m = subset ? n_out : n;

    // Attention block.
    norm(dev, L.attn_norm, L.attn_norm_b, n);
    const MatJob qkv[3] = {{&L.wq, Act::Q}, {&L.wk, Act::K}, {&L.wv, Act::V}};
    dev.matmul(qkv, Act::XN, n);
    if (hp.qkv_bias) {
      dev.add_bias(Act::Q, L.bq, n);
      dev.add_bias(Act::K, L.bk, n);
      dev.add_bias(Act::V, L.bv, n);
    }
    dev.rope(Act::Q, hp.n_head, n);
    dev.rope(Act::K, hp.n_head_kv, n);
    dev.kv_store(kv_, l, s.cells.data(), n);
    if (m == 0) break;  // no logits wanted: the last layer's K and V were all that was needed
    const bool swa = hp.n_swa > 0 && (ai.swa_pattern <= 1 || l % ai.swa_pattern == 0);
    dev.attention(kv_, l, subset ? s.jobs_out : s.jobs_all, swa ? hp.n_swa : 0, hp.attn_softcap);

    // From here on the m rows only, compacted to the front of the buffers (the attention
    // already wrote its output rows there). A parallel FFN reads the attention's normed input.
    if (subset) dev.gather_rows(Act::X, s.out_rows.data(), m);
    if (subset && ai.parallel_ffn) dev.gather_rows(Act::XN, s.out_rows.data(), m);
    auto attn_out = [&] {
      const MatJob wo[1] = {{&L.wo, Act::Tmp}};
      dev.matmul(wo, Act::Attn, m);
      if (!L.bo.empty()) dev.add_bias(Act::Tmp, L.bo, m);
      if (!L.attn_post_norm.empty()) dev.rms_norm(Act::Tmp, Act::Tmp, L.attn_post_norm, m, hp.rms_eps);
      dev.add(Act::X, Act::Tmp, m);
    };
    // Feed-forward block, from Act::XN.
    auto ffn = [&] {
      if (ai.ffn_act == FfnAct::Gelu) {  // down(gelu(up x + b_up)) + b_down, no gate
        const MatJob up[1] = {{&L.w_up, Act::Up}};
        dev.matmul(up, Act::XN, m);
        if (!L.b_up.empty()) dev.add_bias(Act::Up, L.b_up, m);
        dev.gelu(Act::Up, m);
        const MatJob down[1] = {{&L.w_down, Act::Tmp}};
        dev.matmul(down, Act::Up, m);
      } else {
        const MatJob gate_up[2] = {{&L.w_gate, Act::Gate}, {&L.w_up, Act::Up}};
        dev.matmul(gate_up, Act::XN, m);
        if (ai.ffn_act == FfnAct::GeluGated) dev.geglu(m);
        else dev.swiglu(m);
        const MatJob down[1] = {{&L.w_down, Act::Tmp}};
        dev.matmul(down, Act::Gate, m);
      }
      if (!L.b_down.empty()) dev.add_bias(Act::Tmp, L.b_down, m);
      if (!L.ffn_post_norm.empty()) dev.rms_norm(Act::Tmp, Act::Tmp, L.ffn_post_norm, m, hp.rms_eps);
      dev.add(Act::X, Act::Tmp, m);
    };
    if (ai.parallel_ffn) {
      // (x + ffn) + attn, the order of llama.cpp's command-r graph (the Attn buffer outlives
      // the FFN, which uses Gate, Up and Tmp).
      ffn();
      attn_out();
    } else {
      attn_out();
      norm(dev, L.ffn_norm, L.ffn_norm_b, m);
      ffn();
    }
  }

  Device& dev = dev_of(hp.n_layer - 1);
  if (n_out > 0) {
    norm(dev, model_.output_norm(), model_.output_norm_bias(), n_out);
    if (hidden_mode_) dev.read_act(Act::XN, n_out, hidden_.data() + size_t(n_logits_) * size_t(hp.n_embd));
    else {
      float* out = logits_.data() + size_t(n_logits_) * size_t(hp.n_vocab);
      dev.matmul_to_host(model_.output(), Act::XN, n_out, out);
      if (const float c = hp.logit_scale; c > 0)
        for (size_t i = 0; i < size_t(n_out) * size_t(hp.n_vocab); ++i) out[i] *= c;
      if (const float c = hp.final_softcap; c > 0)
        for (size_t i = 0; i < size_t(n_out) * size_t(hp.n_vocab); ++i) out[i] = c * std::tanh(out[i] / c);
    }
    n_logits_ += n_out;
  }
  dev_->finish();
  if (rest_) rest_->finish();
  for (int32_t i = 0; i < n; ++i) kv_.set_n_pos(bt[i].seq, bt[i].pos + 1);
}

}  // namespace nnb

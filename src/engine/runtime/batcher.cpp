#include "engine/runtime/batcher.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace nnb {
namespace {

int32_t blocks_for(int32_t n_ctx) { return (n_ctx + KvCache::kBlock - 1) / KvCache::kBlock; }

}  // namespace

std::shared_ptr<Batcher> Batcher::make(const Model& model, BatcherParams params, std::shared_ptr<const void> owner) {
  return std::shared_ptr<Batcher>(new Batcher(model, std::move(params), std::move(owner)));
}

Batcher::Batcher(const Model& model, BatcherParams params, std::shared_ptr<const void> owner)
    : owner_(std::move(owner)), model_(model), params_(std::move(params)) {
  params_.max_slots = std::max(params_.max_slots, 1);
  params_.prompt_chunk = std::max(params_.prompt_chunk, 1);
  if (params_.context.n_ctx <= 0) throw std::invalid_argument("batcher: the KV cell budget must be > 0");
  // One step holds every generating slot's token plus a prompt chunk; the Context runs a step
  // in one forward pass only when it fits in n_batch (and n_batch never exceeds the budget).
  params_.context.n_batch = std::max(params_.context.n_batch, params_.max_slots + params_.prompt_chunk);
  params_.context.n_batch = std::min(params_.context.n_batch, params_.context.n_ctx);
  params_.prompt_chunk = std::min(params_.prompt_chunk, params_.context.n_batch);
  ctx_ = std::make_unique<Context>(model_, params_.context);
  n_blocks_ = ctx_->kv_cache().n_blocks();
  seq_used_.assign(size_t(params_.max_slots), false);
  last_step_end_ = std::chrono::steady_clock::now();
}

Batcher::~Batcher() = default;

std::unique_ptr<BatchSlot> Batcher::open(int32_t n_ctx) {
  if (n_ctx <= 0) throw std::invalid_argument("batch slot: context size must be > 0");
  const int32_t blocks = blocks_for(n_ctx);
  if (blocks > n_blocks_)
    throw std::invalid_argument("a context of " + std::to_string(n_ctx) + " tokens exceeds the whole batch KV budget of " +
                                std::to_string(n_cells()) + " cells");
  std::unique_ptr<BatchSlot> slot(new BatchSlot(shared_from_this(), n_ctx, blocks));
  std::lock_guard<std::mutex> lk(mu_);
  acquire_locked(*slot);  // throws before the slot is listed: its destructor has nothing to free
  slots_.push_back(slot.get());
  return slot;
}

bool Batcher::acquire_locked(BatchSlot& slot) {
  slot.last_use_ = ++use_clock_;
  slot.active_ = true;
  if (slot.seq_ >= 0) return true;
  // Room is made by reclaiming idle slots, least recently used first.
  auto room = [&] {
    return std::find(seq_used_.begin(), seq_used_.end(), false) != seq_used_.end() &&
           blocks_reserved_ + slot.blocks_ <= n_blocks_;
  };
  while (!room()) {
    BatchSlot* victim = nullptr;
    for (BatchSlot* o : slots_)
      if (o != &slot && !o->active_ && o->seq_ >= 0 && (!victim || o->last_use_ < victim->last_use_)) victim = o;
    if (!victim) {
      slot.active_ = false;
      if (std::find(seq_used_.begin(), seq_used_.end(), false) == seq_used_.end())
        throw BatcherBusyError("all " + std::to_string(params_.max_slots) +
                               " batch slots are generating (the server's batch-parallel limit); retry later");
      throw BatcherBusyError("the batch KV budget is taken: " + std::to_string(blocks_reserved_ * KvCache::kBlock) +
                             " of " + std::to_string(n_cells()) + " cells are reserved by generating contexts, " +
                             "a context of " + std::to_string(slot.n_ctx_) + " tokens needs " +
                             std::to_string(slot.blocks_ * KvCache::kBlock) +
                             " (the server's kv-cells limit); retry later or ask for a smaller ctx-size");
    }
    reclaim_locked(*victim);
  }
  const auto free_seq = std::find(seq_used_.begin(), seq_used_.end(), false);
  *free_seq = true;
  blocks_reserved_ += slot.blocks_;
  slot.seq_ = int32_t(free_seq - seq_used_.begin());
  slot.n_past_ = 0;
  slot.has_logits_ = false;
  return false;
}

void Batcher::reclaim_locked(BatchSlot& victim) {
  {
    // Idle: no submission of it is pending, and its client does not touch it but through
    // acquire (mu_, held here). A step may be running: the cache is the leader's until then.
    std::lock_guard<std::mutex> lk(ctx_mu_);
    ctx_->drop_sequence(victim.seq_);
  }
  seq_used_[size_t(victim.seq_)] = false;
  blocks_reserved_ -= victim.blocks_;
  victim.seq_ = -1;
  victim.cached_.clear();
  std::erase(expected_, &victim);
}

int32_t Batcher::n_slots_open() const {
  std::lock_guard<std::mutex> lk(mu_);
  return int32_t(std::count(seq_used_.begin(), seq_used_.end(), true));  // admitted ones
}

int32_t Batcher::n_cells_reserved() const {
  std::lock_guard<std::mutex> lk(mu_);
  return blocks_reserved_ * KvCache::kBlock;
}

int32_t Batcher::n_blocks_used() const {
  std::lock_guard<std::mutex> lk(ctx_mu_);
  return ctx_->kv_cache().n_blocks() - ctx_->kv_cache().n_free_blocks();
}

int64_t Batcher::n_steps() const {
  std::lock_guard<std::mutex> lk(mu_);
  return steps_;
}

int64_t Batcher::n_step_tokens() const {
  std::lock_guard<std::mutex> lk(mu_);
  return step_tokens_;
}

void Batcher::submit(Submission& s) {
  std::unique_lock<std::mutex> lk(mu_);
  std::erase(expected_, s.slot);
  pending_.push_back(&s);
  submit_cv_.notify_one();
  while (!s.done) {
    if (!running_) lead(lk);  // may serve others and not s (a prompt chunk left for later)
    else done_cv_.wait(lk);
  }
  if (s.error) std::rethrow_exception(s.error);
  s.slot->cached_.insert(s.slot->cached_.end(), s.tokens, s.tokens + s.n);
}

void Batcher::close(BatchSlot& slot) {
  std::lock_guard<std::mutex> lk(mu_);
  std::erase(slots_, &slot);
  if (slot.seq_ >= 0) reclaim_locked(slot);
  submit_cv_.notify_one();
}

void Batcher::truncate(BatchSlot& slot, int32_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  if (slot.seq_ < 0) return;  // reclaimed: nothing is cached
  std::lock_guard<std::mutex> ck(ctx_mu_);
  ctx_->truncate(slot.seq_, n);
  if (size_t(std::max(n, 0)) < slot.cached_.size()) slot.cached_.resize(size_t(std::max(n, 0)));
}

int32_t Batcher::share_prefix(BatchSlot& slot, std::span<const Token> tokens) {
  std::lock_guard<std::mutex> lk(mu_);
  const int32_t have = int32_t(slot.cached_.size());
  if (slot.seq_ < 0 || have != slot.n_past_ || tokens.empty()) return 0;
  const int32_t limit = have + int32_t(tokens.size()) - 1;  // the last token is evaluated
  auto at = [&](int32_t i) { return i < have ? slot.cached_[size_t(i)] : tokens[size_t(i - have)]; };
  const BatchSlot* donor = nullptr;
  int32_t best = have + kMinShared - 1;
  for (const BatchSlot* o : slots_) {
    if (o == &slot || o->seq_ < 0) continue;
    const int32_t m = std::min(limit, int32_t(o->cached_.size()));
    int32_t n = 0;
    while (n < m && o->cached_[size_t(n)] == at(n)) ++n;
    if (n > best) donor = o, best = n;
  }
  if (!donor) return 0;
  {
    // A step may be running: the cache is the leader's until it ends. The donor's positions
    // below its cached_ size are not written by it (only later ones are).
    std::lock_guard<std::mutex> ck(ctx_mu_);
    ctx_->fork_sequence(donor->seq_, slot.seq_, best);
  }
  slot.cached_.assign(donor->cached_.begin(), donor->cached_.begin() + best);
  return best - have;
}

void Batcher::lead(std::unique_lock<std::mutex>& lk) {
  running_ = true;
  // The slots served by the last step are sampling their next token: give them a moment so
  // that their tokens share this step (one pass over the weights) rather than each taking its
  // own.
  if (!expected_.empty() && params_.gather_wait.count() > 0)
    submit_cv_.wait_until(lk, last_step_end_ + params_.gather_wait, [&] { return expected_.empty(); });

  // Generating slots first (their clients wait for each token), then prompt chunks: one while
  // anyone generates (their inter-token latency grows by one chunk at most), else as many as
  // fit in n_batch.
  const int32_t cap = params_.context.n_batch;
  step_.clear();
  int32_t n_tok = 0;
  for (Submission* s : pending_)
    if (s->n == 1 && n_tok < cap) {
      step_.push_back(s);
      ++n_tok;
    }
  const bool generating = n_tok > 0;
  int32_t n_prompt = 0;
  for (Submission* s : pending_) {
    if (s->n == 1 || n_tok + s->n > cap || (generating && n_prompt > 0)) continue;
    step_.push_back(s);
    n_tok += s->n;
    n_prompt += s->n;
  }
  std::erase_if(pending_, [&](Submission* s) { return std::find(step_.begin(), step_.end(), s) != step_.end(); });

  lk.unlock();
  evaluate(step_);
  lk.lock();

  expected_.clear();
  for (Submission* s : step_) {
    expected_.push_back(s->slot);
    s->done = true;
  }
  ++steps_;
  step_tokens_ += n_tok;
  last_step_end_ = std::chrono::steady_clock::now();
  running_ = false;
  // The served slots return; one of those still pending leads the next step.
  done_cv_.notify_all();
}

int32_t Batcher::prompt_chunk_for(const BatchSlot& slot) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (const BatchSlot* o : slots_)
    if (o != &slot && o->active_) return params_.prompt_chunk;
  return std::max(params_.prompt_chunk, params_.context.n_batch - params_.max_slots);
}

void Batcher::evaluate(const std::vector<Submission*>& step) {
  batch_.clear();
  rows_.clear();  // per submission: its logits entry, or -1
  for (Submission* s : step) {
    const int32_t pos0 = s->slot->n_past_;  // its slot waits: read without a race
    for (int32_t i = 0; i < s->n; ++i)
      batch_.push_back(BatchToken{s->tokens[i], pos0 + i, s->slot->seq_, s->want_logits && i == s->n - 1});
    rows_.push_back(s->want_logits ? int32_t(batch_.size()) - 1 : -1);
  }
  try {
    std::lock_guard<std::mutex> lk(ctx_mu_);
    ctx_->decode(std::span<const BatchToken>(batch_));
    const size_t n_vocab = size_t(model_.hparams().n_vocab);
    for (size_t k = 0; k < step.size(); ++k)
      if (rows_[k] >= 0) std::memcpy(step[k]->slot->logits_.data(), ctx_->logits_ith(rows_[k]), n_vocab * sizeof(float));
  } catch (...) {
    // Slots check their tokens and limits before submitting, so this is not one client's
    // fault (e.g. out of memory): every submission of the step learns it.
    for (Submission* s : step) s->error = std::current_exception();
  }
}

BatchSlot::BatchSlot(std::shared_ptr<Batcher> b, int32_t n_ctx, int32_t blocks)
    : batcher_(std::move(b)), n_ctx_(n_ctx), blocks_(blocks) {}

BatchSlot::~BatchSlot() { batcher_->close(*this); }

void BatchSlot::decode(std::span<const Token> tokens) {
  const int32_t n = int32_t(tokens.size());
  if (n == 0) throw std::invalid_argument("decode: no tokens");
  // What the shared Context would refuse for the whole step is refused here, for this slot.
  const int32_t n_vocab = model().hparams().n_vocab;
  for (Token t : tokens)
    if (t < 0 || t >= n_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                  std::to_string(n_vocab - 1) + ")");
  // Idle slots may have been reclaimed: continuing a sequence whose cache is gone would
  // silently compute from the wrong context.
  const int32_t had = n_past_;
  if (!acquire() && had > 0)
    throw std::runtime_error("this context's batch slot was reclaimed for another client while idle: its cache is "
                             "gone, start a new generation");
  if (int64_t(n_past_) + n > n_ctx_)
    throw ContextFullError("context full: " + std::to_string(n_past_) + " + " + std::to_string(n) +
                           " tokens exceed the context size " + std::to_string(n_ctx_));
  logits_.resize(size_t(n_vocab));
  has_logits_ = false;
  // (Fewer tokens than kMinShared + 1, e.g. a generated token, cannot share enough: no lookup.)
  last_shared_ = share_prefix_ && n > Batcher::kMinShared ? batcher_->share_prefix(*this, tokens) : 0;
  n_past_ += last_shared_;
  for (int32_t off = last_shared_; off < n;) {
    if (abort_check_ && abort_check_())
      throw CancelledError("cancelled after " + std::to_string(off) + " of " + std::to_string(n) + " tokens");
    const int32_t len = std::min(batcher_->prompt_chunk_for(*this), n - off);
    Batcher::Submission s{this, tokens.data() + off, len, off + len == n, false, nullptr};
    batcher_->submit(s);
    n_past_ += len;
    off += len;
  }
  has_logits_ = true;
}

const float* BatchSlot::logits() const {
  if (!has_logits_) throw std::logic_error("no logits: decode() has not run");
  return logits_.data();
}

void BatchSlot::truncate(int32_t n) {
  if (n >= n_past_) return;
  batcher_->truncate(*this, n);
  n_past_ = std::max(n, 0);
}

void BatchSlot::idle() {
  std::lock_guard<std::mutex> lk(batcher_->mu_);
  active_ = false;
  if (std::erase(batcher_->expected_, this) > 0) batcher_->submit_cv_.notify_one();
}

bool BatchSlot::acquire() {
  std::lock_guard<std::mutex> lk(batcher_->mu_);
  return batcher_->acquire_locked(*this);
}

}  // namespace nnb

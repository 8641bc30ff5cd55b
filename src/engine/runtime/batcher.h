// Continuous batching: several clients' sequences evaluated together, one forward pass per step.
//
// Generating one token reads every weight; a forward pass over k tokens reads them once
// (context.h), so k clients generating in the same step cost less than k steps (how much less
// depends on how memory-bound the device's kernels are). A Batcher owns one Context whose KV
// cache is a budget of cells shared by its slots. Each slot (BatchSlot) is a sequence id of that
// Context and a Sequence (sequence.h), so the ordinary token loop (generation.h) runs on it
// unchanged.
//
// A slot's decode() submits its tokens in chunks and waits for each: of at most prompt_chunk
// tokens while another slot is in use, else of up to a whole batch (prompt_chunk_for()). Steps
// are run by the waiting clients' own threads, one at a time: a submission that finds no step
// running leads the next one. So a client alone decodes on its own thread as on a
// private Context; a scheduler thread would add two thread wake-ups per token (milliseconds on
// a loaded machine). A step takes whatever is pending: one-token submissions (generating
// sequences) first, then prompt chunks (one chunk while anyone generates, so a long prompt
// delays the others by one chunk per step, not by its whole length; up to n_batch tokens when
// no one does); runs one Context::decode over them all; copies each submission's last logits
// into its slot; wakes them. Before a step the leader waits up to gather_wait for the slots
// served by the previous step to resubmit (they are sampling their next token), so that
// concurrent generations land in the same step instead of alternating.
//
// Admission: a slot reserves its n_ctx positions (whole blocks of 16 cells) from the budget and
// a sequence id, so a running slot never finds the shared cache full. A slot whose client is
// done for now (idle(): its generation ended) keeps both, so that its next generation may reuse
// its cache (cache-prompt), until another slot needs them: admission then reclaims idle slots,
// least recently used first (their cache is dropped; their next decode() starts them empty, or
// throws BatcherBusyError). Only when the slots generating at once leave no room does open()
// (or a reclaimed slot's acquire()) throw BatcherBusyError naming the limit. Closing a slot
// frees its cells.
// Cancellation: a slot polls its abort check before each chunk, on its own thread.
//
// Shared prefixes: a slot that allows it (set_prefix_sharing: its context's cache-prompt) and is
// about to evaluate tokens whose beginning another admitted slot already holds — the same system
// prompt, an earlier turn of a conversation another context had — takes those positions from that
// slot's cache instead (KvCache::fork: the blocks are shared, copy-on-write) and evaluates only
// the rest. At least kMinShared positions beyond its own, and always its last token (its logits).
// Opt-in, as cache-prompt itself: the shared positions were computed in other batches, which
// round differently from evaluating them again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/runtime/context.h"
#include "engine/runtime/sequence.h"

namespace nnb {

// No slot can be opened now: every slot or the KV cell budget is taken (a retry may succeed).
struct BatcherBusyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BatcherParams {
  // The shared Context: n_ctx is the KV cell budget of all slots together; n_batch bounds the
  // tokens of one step (raised to max_slots + prompt_chunk if smaller).
  ContextParams context;
  int32_t max_slots = 8;      // slots open at once
  // Most prompt tokens a slot submits per step while another slot is in use (alone it takes a
  // whole batch). A step with a prompt chunk delays every generating slot's next token by the
  // chunk's cost: with 8 clients on the 220M Q4_K model (2 threads, bench/serve-load),
  // inter-token p99 over a whole run 64 ms with chunks of 64, 50 with 32, 34-45 with 16, at the
  // same throughput; a long prompt then takes more (shorter) steps.
  int32_t prompt_chunk = 16;
  // How long a step waits for the slots served by the previous step to resubmit.
  std::chrono::microseconds gather_wait{1000};
};

class BatchSlot;

class Batcher : public std::enable_shared_from_this<Batcher> {
 public:
  // Owned through shared_ptr: slots keep their Batcher alive. `owner` (e.g. the Model's
  // shared_ptr) is kept until the Batcher is destroyed.
  static std::shared_ptr<Batcher> make(const Model& model, BatcherParams params,
                                       std::shared_ptr<const void> owner = nullptr);
  ~Batcher();  // after every slot (slots hold it)
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // A slot of n_ctx positions, in use (not idle). Throws BatcherBusyError when max_slots slots
  // are in use or those in use leave fewer than n_ctx cells, std::invalid_argument when n_ctx
  // exceeds the whole budget.
  std::unique_ptr<BatchSlot> open(int32_t n_ctx);

  // Fewest positions worth taking from another slot (one block: a shorter share would cost a
  // block copy at the next write for little saved work).
  static constexpr int32_t kMinShared = KvCache::kBlock;

  const Model& model() const { return model_; }
  const BatcherParams& params() const { return params_; }
  int32_t n_threads() const { return ctx_->n_threads(); }
  std::string describe_device() { return ctx_->device().describe(); }
  // Admission figures (for logs and tests).
  int32_t n_slots_open() const;
  int32_t n_cells() const { return n_blocks_ * KvCache::kBlock; }
  int32_t n_cells_reserved() const;
  // Blocks of the shared cache holding positions now (tests: 0 once every slot is closed).
  int32_t n_blocks_used() const;
  // Forward passes run so far, and tokens in them (tests and benchmarks).
  int64_t n_steps() const;
  int64_t n_step_tokens() const;

 private:
  friend class BatchSlot;
  struct Submission {
    BatchSlot* slot;
    const Token* tokens;
    int32_t n;
    bool want_logits;
    bool done = false;
    std::exception_ptr error;
  };
  Batcher(const Model& model, BatcherParams params, std::shared_ptr<const void> owner);
  // Runs one step as its leader (mu_ held on entry and exit, released while evaluating).
  void lead(std::unique_lock<std::mutex>& lk);
  // One forward pass over `step` (without mu_: only the leader touches the batch buffers).
  void evaluate(const std::vector<Submission*>& step);
  // Called by slots (their own threads).
  void submit(Submission& s);  // blocks until a step has evaluated it; rethrows its error
  // Prompt tokens `slot` submits next: prompt_chunk while another slot is in use (each step
  // with a chunk delays their tokens by the chunk's cost only), else a whole batch less room
  // for every slot's next token (a client alone reads its prompt at full speed, and a chunk
  // that size still fits beside the tokens of slots that start generating meanwhile).
  int32_t prompt_chunk_for(const BatchSlot& slot) const;
  void close(BatchSlot& slot);
  void truncate(BatchSlot& slot, int32_t n);
  // The positions `slot` (admitted, holding n_past_ positions) takes from another slot's cache
  // ahead of evaluating `tokens`: the longest common beginning of its tokens followed by `tokens`
  // with another admitted slot's, when that adds at least kMinShared positions and leaves the
  // last token to evaluate; 0 when there is none. Forks it into the slot's sequence.
  int32_t share_prefix(BatchSlot& slot, std::span<const Token> tokens);
  // Marks the slot in use, admitting it again if it was reclaimed (mu_ held). Returns whether
  // its cache survived.
  bool acquire_locked(BatchSlot& slot);
  void reclaim_locked(BatchSlot& victim);  // drops an idle slot's cells and admission (mu_ held)

  const std::shared_ptr<const void> owner_;  // destroyed last
  const Model& model_;
  BatcherParams params_;
  std::unique_ptr<Context> ctx_;
  int32_t n_blocks_ = 0;

  mutable std::mutex mu_;  // everything below, and slot admission
  std::condition_variable submit_cv_;  // a submission arrived, a slot went idle or closed
  std::condition_variable done_cv_;    // a step ended
  std::deque<Submission*> pending_;
  std::vector<Submission*> step_;     // the leader's
  std::vector<BatchSlot*> expected_;  // served by the last step, not resubmitted yet
  std::vector<bool> seq_used_;        // sequence ids 0 .. max_slots-1
  std::vector<BatchSlot*> slots_;     // every open slot (admitted or reclaimed)
  uint64_t use_clock_ = 0;
  int32_t blocks_reserved_ = 0;
  int64_t steps_ = 0, step_tokens_ = 0;
  bool running_ = false;  // a leader is gathering or evaluating a step
  std::chrono::steady_clock::time_point last_step_end_;
  std::vector<BatchToken> batch_;  // the leader's
  std::vector<int32_t> rows_;
  mutable std::mutex ctx_mu_;  // the Context's cache: a step, or a slot's truncate / close
};

// A sequence of a Batcher's shared Context. Used from one thread at a time (its client's).
class BatchSlot : public Sequence {
 public:
  ~BatchSlot() override;  // frees its cells (drop_sequence) and its admission

  void decode(std::span<const Token> tokens) override;
  const float* logits() const override;
  int32_t n_past() const override { return n_past_; }
  int32_t n_ctx() const override { return n_ctx_; }
  void truncate(int32_t n) override;
  const Model& model() const override { return batcher_->model(); }
  void set_abort_check(std::function<bool()> check) override { abort_check_ = std::move(check); }

  // Whether decode() may take positions from another slot's cache (see Batcher; off by default).
  void set_prefix_sharing(bool on) { share_prefix_ = on; }
  // Positions the last decode() took from another slot instead of evaluating them.
  int32_t last_shared() const { return last_shared_; }

  // The client is done for now (its generation ended): the next step need not wait for it,
  // and its cells may be reclaimed for another slot. Its next decode() or acquire() ends this.
  void idle();
  // In use again; re-admitted if it was reclaimed (then empty: returns false; throws
  // BatcherBusyError when the slots in use leave no room). decode() does this itself.
  bool acquire();
  int32_t seq() const { return seq_; }
  Batcher& batcher() { return *batcher_; }

 private:
  friend class Batcher;
  BatchSlot(std::shared_ptr<Batcher> b, int32_t n_ctx, int32_t blocks);

  std::shared_ptr<Batcher> batcher_;
  const int32_t n_ctx_, blocks_;
  // Guarded by the batcher's mu_: its sequence id (-1 while reclaimed), whether it is in use,
  // when it was last used.
  int32_t seq_ = -1;
  bool active_ = false;
  uint64_t last_use_ = 0;
  int32_t n_past_ = 0;
  // The tokens at positions 0 .. n_past-1 as far as steps have evaluated them (guarded by mu_:
  // other slots read them to share a prefix).
  std::vector<Token> cached_;
  bool share_prefix_ = false;
  int32_t last_shared_ = 0;
  std::vector<float> logits_;  // written by a step's leader while this slot waits
  bool has_logits_ = false;
  std::function<bool()> abort_check_;
};

}  // namespace nnb

// A GGML execution context (COMPAT §4): options (graph defaults overlaid by set_input(1)), a
// tokenized prompt, and its own engine Context whose KV cache is sized by ctx-size and kept
// between runs (recreated only when ctx-size, batch or threads change). compute() runs a whole
// generation; compute_single() steps one token at a time with the same Generation code, so
// both modes obey n-predict, reverse-prompt, EOG and context-full alike.
//
// With batching on (GgmlBackendOptions::batch_parallel), generations run on a slot of the
// model's shared, batched engine context instead (ggml_batching.h): same Generation code, same
// cache-prompt reuse (the slot is kept between runs like a private context); embeddings still
// use a private context.
//
// One caller at a time: a call that arrives while another is running on the same context is
// refused with Error(Busy) instead of corrupting state. Different contexts run concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/ggml/ggml_options.h"
#include "backends/ggml/ggml_runtime.h"
#include "engine/grammar/token_index.h"
#include "engine/runtime/batcher.h"
#include "engine/runtime/context.h"
#include "engine/runtime/generation.h"
#include "engine/runtime/sampler.h"
#include "nn/backend.h"

namespace nnb::ggml {

class GgmlExecutionContext : public nn::ExecutionContext {
 public:
  GgmlExecutionContext(std::shared_ptr<const Model> model, GgmlOptions defaults,
                       std::shared_ptr<const GgmlBackendOptions> runtime);
  ~GgmlExecutionContext() override;

  // Index 1: options JSON. Any other index: the prompt (replaces the previous one).
  void set_input(uint32_t index, const nn::TensorView& tensor) override;
  // With "embedding": true, the prompt's embedding instead of a generation (output 0 is
  // {"n_embedding": N, "embedding": [...]}, COMPAT §4); compute_single then answers errno 6.
  void compute() override;
  // Index 1: metadata JSON; any other index: the whole generated text (or the embedding JSON).
  std::vector<uint8_t> get_output(uint32_t index) override;

  void compute_single() override;
  // Index 1: metadata JSON; any other index: the last token's piece.
  std::vector<uint8_t> get_output_single(uint32_t index) override;
  void fini_single() override;
  void set_abort_check(std::function<bool()> check) override;
  // The engine's stop rule of the last run (also in the metadata as "stop_reason"), or
  // Cancelled when the abort check stopped its prompt or a token.
  std::optional<nn::StopReason> stop_reason() override;

  const GgmlOptions& options() const { return opts_; }  // for tests; not thread-safe

 private:
  void compute_embedding();
  enum class Mode { Idle, Compute, Stream, Embedding };

  std::unique_lock<std::mutex> enter();
  void log(LogLevel level, const std::string& line) const;
  void refuse_oversized_prompt(size_t bytes);
  ContextParams wanted_params() const;  // the engine context these options ask for
  void ensure_engine_context();        // the private Context (ctx_)
  void ensure_slot();                  // a slot of the batcher (slot_); throws Error(Busy)
  Sequence& ensure_sequence();         // where generations run: slot_ when batching, else ctx_
  void pause_slot();  // the run has stopped: the batcher need not wait, may reclaim the slot
  void start_generation();  // consumes the pending prompt; throws Error(102 / 1 / 6 ...)
  void start_on(Sequence& seq);  // start_generation's part after choosing the sequence
  void end_generation();
  void record_stop();  // stop_ from the Generation that has just stopped
  // Runs f (a compute step); an abort check that stops it is recorded as Cancelled.
  template <class F>
  void cancellable(F&& f);
  void log_summary();  // once per run, at its end (enable-log)
  std::vector<uint8_t> metadata() const;

  const std::shared_ptr<const Model> model_;
  const std::shared_ptr<const GgmlBackendOptions> rt_;
  GgmlOptions opts_;

  std::vector<Token> prompt_;
  bool prompt_pending_ = false;  // set by set_input, consumed when a generation starts
  int32_t reused_ = 0;  // prompt tokens the last start did not evaluate (its cache, or a shared slot's)

  std::unique_ptr<Context> ctx_;
  ContextParams ctx_params_;
  std::unique_ptr<BatchSlot> slot_;  // batching: this context's slot, kept between runs
  ContextParams slot_params_;
  Sequence* seq_ = nullptr;  // ctx_ or slot_: where the current or last generation ran
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Generation> gen_;  // the current or last run (its text stays readable)
  Mode mode_ = Mode::Idle;
  std::string last_piece_;
  std::string embedding_json_;  // output 0 after an embedding compute
  std::optional<nn::StopReason> stop_;  // why the last run ended; reset by a new prompt
  bool summary_logged_ = false;
  std::function<bool()> abort_check_;
  // What seq_ holds (prompt and answer of the last run), for cache-prompt; empty
  // when unknown (a new engine context, an embedding, a failure).
  std::vector<Token> kv_tokens_;
  std::shared_ptr<const grammar::TokenIndex> grammar_index_;  // built on the first grammar run
  size_t max_token_bytes_ = 0;  // longest vocabulary text, found on first use  // handed to every engine context this one makes

  std::mutex mu_;
};

}  // namespace nnb::ggml

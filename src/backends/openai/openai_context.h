// An execution context over an OpenAI-compatible upstream with the GGML backend's semantics
// (COMPAT §4): set_input(1) options, set_input(0) the raw prompt; compute() → the whole text
// in output 0 and {"input_tokens", "output_tokens", ..., "stop_reason"} in output 1;
// compute_single / get_output_single(0) / fini_single one SSE event at a time; errno 100 at the
// end (the upstream's "stop", or "length" at n-predict), 101 when "length" came before
// n-predict (the upstream's context is full), 102 when the upstream refuses the prompt as too
// long for its context.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "backends/openai/completion_stream.h"
#include "backends/openai/openai_options.h"
#include "backends/openai/openai_runtime.h"
#include "backends/openai/upstream_pool.h"
#include "nn/backend.h"

namespace nnb::openai {

class OpenAIExecutionContext : public nn::ExecutionContext {
 public:
  OpenAIExecutionContext(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<const Runtime> rt,
                         CompletionOptions opts);

  void set_input(uint32_t index, const nn::TensorView& tensor) override;
  void compute() override;
  std::vector<uint8_t> get_output(uint32_t index) override;
  void compute_single() override;
  std::vector<uint8_t> get_output_single(uint32_t index) override;
  void fini_single() override;
  void set_abort_check(std::function<bool()> check) override;
  std::optional<nn::StopReason> stop_reason() override;

 private:
  enum class Mode { None, Compute, Stream };
  std::unique_lock<std::mutex> enter();
  void start();              // a new generation for the pending prompt
  void end_generation();     // forgets the last generation's stream, text and counts
  void finish(nn::StopReason r);
  std::string metadata() const;
  // Runs f; a cancellation (the abort check fired) leaves the context ready for a new prompt
  // and is recorded as StopReason::Cancelled.
  template <typename F>
  void guarded(F&& f);

  std::shared_ptr<UpstreamPool> pool_;
  std::shared_ptr<const Runtime> rt_;
  CompletionOptions opts_;
  std::mutex mu_;
  std::function<bool()> abort_;
  std::string prompt_;
  bool prompt_pending_ = false;
  Mode mode_ = Mode::None;
  std::unique_ptr<CompletionStream> stream_;
  std::string text_, last_piece_;
  uint32_t produced_ = 0;
  std::optional<uint32_t> input_tokens_, output_tokens_;
  std::optional<nn::StopReason> stop_;
};

}  // namespace nnb::openai

// One generation: prompt evaluation, then token-by-token sampling with the stop rules the
// WASI-NN GGML backend and the CLI share (end-of-generation token, n_predict, reverse prompt,
// context full). Step-wise, so that streaming (compute_single) and whole-text compute use the
// same code.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/runtime/context.h"  // the errors decode() throws
#include "engine/runtime/sampler.h"
#include "engine/runtime/sequence.h"

namespace nnb {

// The prompt does not fit in the context (WASI-NN errno 102).
struct PromptTooLongError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class StopReason { None, EndOfGeneration, NPredict, ReversePrompt, ContextFull };
const char* stop_reason_name(StopReason r);

struct GenerationParams {
  int32_t n_predict = -1;                   // < 0: until end of generation or context full
  std::vector<std::string> reverse_prompts;  // stop once the text ends with one of these
};

class Generation {
 public:
  // On a private Context (its sequence 0) or on any other Sequence, e.g. a slot of a shared,
  // batched one (batcher.h).
  Generation(Sequence& ctx, Sampler& sampler, GenerationParams params = {});

  // Clears the sequence and evaluates the prompt. Throws PromptTooLongError when the prompt
  // leaves no room for a generated token. With `reuse` > 0 the context's sequence 0 already
  // holds the first `reuse` prompt tokens (the caller knows: cached() of a previous run):
  // they are kept and only the rest is evaluated. At least the last prompt token is always
  // evaluated, for its logits.
  void start(std::span<const Token> prompt, int32_t reuse = 0);
  // Produces the next token, or nullopt once stopped (see stop_reason()). A token that ends
  // generation (EOS/EOT) is not returned.
  std::optional<Token> next();

  StopReason stop_reason() const { return stop_; }
  const std::vector<Token>& prompt() const { return prompt_; }
  const std::vector<Token>& tokens() const { return tokens_; }
  const std::string& text() const { return text_; }  // concatenated pieces (raw bytes)
  double prompt_seconds() const { return pp_seconds_; }
  double generation_seconds() const { return tg_seconds_; }
  int32_t reused() const { return reused_; }  // prompt tokens start() did not evaluate
  // The tokens the context's cache holds now: the first n_past() of prompt + generated ones
  // (the last sampled token is evaluated only when the next one is asked for).
  std::vector<Token> cached() const;

 private:
  using Clock = std::chrono::steady_clock;
  Sequence& ctx_;
  Sampler& sampler_;
  GenerationParams params_;
  std::vector<Token> prompt_, tokens_;
  std::string text_;
  StopReason stop_ = StopReason::None;
  bool started_ = false;
  double pp_seconds_ = 0, tg_seconds_ = 0;
  int32_t reused_ = 0;
};

}  // namespace nnb

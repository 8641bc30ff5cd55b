#include "engine/runtime/generation.h"

#include <algorithm>

namespace nnb {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::None: return "none";
    case StopReason::EndOfGeneration: return "end_of_generation";
    case StopReason::NPredict: return "n_predict";
    case StopReason::ReversePrompt: return "reverse_prompt";
    case StopReason::ContextFull: return "context_full";
  }
  return "unknown";
}

Generation::Generation(Sequence& ctx, Sampler& sampler, GenerationParams params)
    : ctx_(ctx), sampler_(sampler), params_(std::move(params)) {}

void Generation::start(std::span<const Token> prompt, int32_t reuse) {
  if (prompt.empty()) throw std::invalid_argument("empty prompt: nothing to generate from");
  if (int64_t(prompt.size()) >= ctx_.n_ctx())
    throw PromptTooLongError("prompt of " + std::to_string(prompt.size()) + " tokens does not fit in the context of " +
                             std::to_string(ctx_.n_ctx()) + " tokens");
  started_ = false;  // until this prompt is evaluated: a failed start must not sample old logits
  prompt_.assign(prompt.begin(), prompt.end());
  tokens_.clear();
  text_.clear();
  stop_ = StopReason::None;
  tg_seconds_ = 0;
  sampler_.reset();
  for (Token t : prompt_) sampler_.accept(t);
  reused_ = std::clamp<int32_t>(reuse, 0, int32_t(prompt_.size()) - 1);
  reused_ = std::min(reused_, ctx_.n_past());
  ctx_.truncate(reused_);
  const auto t0 = Clock::now();
  ctx_.decode(std::span<const Token>(prompt_).subspan(size_t(reused_)));
  pp_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
  started_ = true;
}

std::vector<Token> Generation::cached() const {
  std::vector<Token> all(prompt_);
  all.insert(all.end(), tokens_.begin(), tokens_.end());
  all.resize(std::min(all.size(), size_t(std::max(ctx_.n_past(), 0))));
  return all;
}

std::optional<Token> Generation::next() {
  if (!started_) throw std::logic_error("Generation::next() before start()");
  if (stop_ != StopReason::None) return std::nullopt;
  if (params_.n_predict >= 0 && int64_t(tokens_.size()) >= params_.n_predict) {
    stop_ = StopReason::NPredict;
    return std::nullopt;
  }
  const auto t0 = Clock::now();
  if (!tokens_.empty()) {
    // The previous token's logits are needed before sampling this one.
    if (ctx_.n_past() >= ctx_.n_ctx()) {
      stop_ = StopReason::ContextFull;
      return std::nullopt;
    }
    const Token last = tokens_.back();
    ctx_.decode(std::span<const Token>(&last, 1));
  }
  const Token t = sampler_.sample(ctx_.logits());
  tg_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
  const Vocab& vocab = ctx_.model().vocab();
  // kNoToken: the grammar allows no token here, so nothing valid can follow; end as if the
  // model had.
  if (t == Sampler::kNoToken || vocab.is_eog(t)) {
    stop_ = StopReason::EndOfGeneration;
    return std::nullopt;
  }
  sampler_.accept_generated(t);
  tokens_.push_back(t);
  text_ += vocab.token_to_piece(t);
  for (const auto& rp : params_.reverse_prompts) {
    if (!rp.empty() && text_.size() >= rp.size() && text_.compare(text_.size() - rp.size(), rp.size(), rp) == 0) {
      stop_ = StopReason::ReversePrompt;
      break;
    }
  }
  // A complete grammar with nothing more to match: the answer is whole.
  if (stop_ == StopReason::None && sampler_.grammar_done()) stop_ = StopReason::EndOfGeneration;
  return t;
}

}  // namespace nnb

#include "backends/openai/openai_context.h"

#include <nlohmann/json.hpp>

#include "nn/types.h"

namespace nnb::openai {

using nn::Errno;
using nn::Error;
using nn::StopReason;

namespace {
// An answer longer than this is a runaway upstream (n-predict -1 and a server that never
// stops), not text to keep in memory: the generation fails instead.
constexpr size_t kMaxAnswerBytes = size_t(64) << 20;

void append(std::string& text, const std::string& piece) {
  if (text.size() + piece.size() > kMaxAnswerBytes)
    throw Error(Errno::RuntimeError, "the upstream's answer exceeds " + std::to_string(kMaxAnswerBytes >> 20) + " MiB");
  text += piece;
}
}  // namespace

OpenAIExecutionContext::OpenAIExecutionContext(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<const Runtime> rt,
                                               CompletionOptions opts)
    : pool_(std::move(pool)), rt_(std::move(rt)), opts_(std::move(opts)) {}

std::unique_lock<std::mutex> OpenAIExecutionContext::enter() {
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) throw Error(Errno::Busy, "execution context is busy: another call on it is still running");
  return lk;
}

template <typename F>
void OpenAIExecutionContext::guarded(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.code() == Errno::EndOfSequence || e.code() == Errno::ContextFull) throw;  // a normal end
    // The stream is gone either way: its upstream failed, or the caller stopped it (then the
    // reason is recorded, as the GGML backend records it).
    stream_.reset();
    mode_ = Mode::None;
    if (abort_ && abort_()) stop_ = StopReason::Cancelled;
    throw;
  }
}

void OpenAIExecutionContext::set_input(uint32_t index, const nn::TensorView& tensor) {
  auto lk = enter();
  const std::string_view data(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
  if (index == 1) {
    for (const auto& note : apply_options_json(opts_, data)) rt_->note_once("model '" + pool_->name() + "': " + note);
    return;
  }
  end_generation();  // a new prompt starts a new run (it REPLACES the previous prompt)
  prompt_.assign(data);
  prompt_pending_ = true;
}

void OpenAIExecutionContext::end_generation() {
  stream_.reset();
  mode_ = Mode::None;
  text_.clear();
  last_piece_.clear();
  produced_ = 0;
  input_tokens_.reset();
  output_tokens_.reset();
  stop_.reset();
}

void OpenAIExecutionContext::start() {
  end_generation();
  prompt_pending_ = false;  // consumed even when refused: a second compute needs a new set_input
  stream_ = std::make_unique<CompletionStream>(pool_, rt_, opts_, prompt_, abort_);
}

void OpenAIExecutionContext::finish(StopReason r) {
  stop_ = r;
  input_tokens_ = stream_->prompt_tokens();
  output_tokens_ = stream_->completion_tokens();
  if (opts_.enable_log)
    rt_->log("model '" + pool_->name() + "' via " + stream_->upstream_url() + ": " + std::to_string(produced_) +
             " pieces, stop " + std::string(nn::stop_reason_name(r)));
  stream_.reset();
}

void OpenAIExecutionContext::compute() {
  auto lk = enter();
  if (!prompt_pending_)
    throw Error(Errno::InvalidArgument, "no new prompt: each compute consumes its input, call set_input with a text first");
  guarded([&] {
    start();
    mode_ = Mode::Compute;
    while (auto piece = stream_->next(abort_)) {
      append(text_, *piece);
      ++produced_;
    }
    const StopReason r = stream_->stop();
    finish(r);
    if (r == StopReason::ContextFull)
      throw Error(Errno::ContextFull, "the upstream's context is full after " + std::to_string(produced_) +
                                          " pieces; the text so far is in output 0");
  });
}

void OpenAIExecutionContext::compute_single() {
  auto lk = enter();
  guarded([&] {
    if (prompt_pending_) {
      start();
      mode_ = Mode::Stream;
    } else if (mode_ != Mode::Stream) {
      throw Error(Errno::InvalidArgument, "compute_single: no stream: call set_input with a prompt first");
    }
    if (!stream_) {  // ended before: the same answer again
      if (stop_ == StopReason::ContextFull) throw Error(Errno::ContextFull, "context full");
      throw Error(Errno::EndOfSequence, "end of sequence");
    }
    if (auto piece = stream_->next(abort_)) {
      last_piece_ = std::move(*piece);
      append(text_, last_piece_);
      ++produced_;
      return;
    }
    const StopReason r = stream_->stop();
    finish(r);
    if (r == StopReason::ContextFull) throw Error(Errno::ContextFull, "context full: the upstream's context has no room");
    throw Error(Errno::EndOfSequence, std::string("end of sequence: ") + std::string(nn::stop_reason_name(r)));
  });
}

std::string OpenAIExecutionContext::metadata() const {
  nlohmann::json j;
  // Until the upstream's usage arrives (with the stream's end) the prompt has not been
  // counted: this backend has no tokenizer of the upstream's model.
  j["input_tokens"] = input_tokens_.value_or(0);
  j["output_tokens"] = output_tokens_.value_or(produced_);
  j["llama_build_number"] = 0;
  j["llama_commit"] = "openai-upstream";
  if (stop_) j["stop_reason"] = nn::stop_reason_name(*stop_);
  return j.dump();
}

std::vector<uint8_t> OpenAIExecutionContext::get_output(uint32_t index) {
  auto lk = enter();
  const std::string s = index == 1 ? metadata() : text_;
  return {s.begin(), s.end()};
}

std::vector<uint8_t> OpenAIExecutionContext::get_output_single(uint32_t index) {
  auto lk = enter();
  const std::string s = index == 1 ? metadata() : last_piece_;
  return {s.begin(), s.end()};
}

void OpenAIExecutionContext::fini_single() {
  auto lk = enter();
  end_generation();  // closes the transfer: the upstream stops generating for us
}

void OpenAIExecutionContext::set_abort_check(std::function<bool()> check) {
  auto lk = enter();
  abort_ = std::move(check);
}

std::optional<StopReason> OpenAIExecutionContext::stop_reason() {
  auto lk = enter();
  return stop_;
}

}  // namespace nnb::openai

#include "backends/openai/completion_stream.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "nn/types.h"

namespace nnb::openai {
namespace {

using nlohmann::json;
using nn::Errno;
using nn::Error;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// The message of an OpenAI error object (or the body itself, shortened), for people.
std::string error_message(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"];
    if (e.is_string()) return e;
  }
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"];
  std::string s = body.substr(0, 300);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

[[noreturn]] void cancelled() { throw Error(Errno::RuntimeError, "cancelled: the caller stopped the generation"); }

}  // namespace

bool says_context_exceeded(const std::string& body) {
  const std::string b = lower(body);
  for (const char* w : {"context_length_exceeded", "context length", "maximum context", "context size",
                        "context window", "exceed_context_size", "too many tokens", "prompt is too long"})
    if (b.find(w) != std::string::npos) return true;
  return false;
}

CompletionStream::CompletionStream(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<const Runtime> rt,
                                   const CompletionOptions& opts, const std::string& prompt,
                                   const std::function<bool()>& abort)
    : pool_(std::move(pool)), rt_(std::move(rt)), opts_(opts), sse_(rt_->options().max_event_bytes) {
  std::vector<size_t> tried;
  std::string failures;
  while (true) {
    lease_ = pool_->acquire(tried);
    if (!lease_)
      throw Error(Errno::RuntimeError, "model '" + pool_->name() + "': no upstream answered (" + failures + ")");
    const size_t index = lease_->index();
    const Upstream& up = lease_->upstream();
    tried.push_back(index);
    url_ = up.base_url;
    HttpRequest req;
    req.url = up.base_url + "/completions";
    req.post = true;
    req.body = completion_request_body(opts_, up.model_id, prompt);
    req.api_key = up.api_key;
    req.connect_timeout_s = rt_->options().connect_timeout_s;
    req.idle_timeout_s = rt_->options().idle_timeout_s;
    sse_ = SseParser(rt_->options().max_event_bytes);
    pieces_.clear();
    finish_reason_.reset();
    error_event_.reset();
    done_ = false;
    std::string why;  // set when this upstream failed before its first piece
    try {
      transfer_ = std::make_unique<HttpTransfer>(req, [this](std::string_view b) { sse_.feed(b); });
      if (!transfer_->pump([this] { return drain(); }, abort)) cancelled();
      drain();
    } catch (const std::length_error& e) {
      why = e.what();
    }
    const long status = transfer_ ? transfer_->status() : 0;
    if (why.empty() && error_event_) {
      if (says_context_exceeded(error_event_json_))
        throw Error(Errno::PromptTooLong, "upstream " + url_ + ": " + *error_event_);
      why = "error event: " + *error_event_;
    } else if (why.empty() && (!pieces_.empty() || finish_reason_ || done_)) {
      return;  // the first piece (or the whole, empty answer) is here: this upstream it is
    } else if (why.empty() && status >= 200 && status < 300) {
      why = transfer_->ok() ? "the stream ended without a completion" : transfer_->error();
    } else if (why.empty() && status != 0) {
      const std::string msg = error_message(transfer_->body());
      if (status == 400 || status == 413 || status == 422) {
        if (says_context_exceeded(transfer_->body()))
          throw Error(Errno::PromptTooLong, "upstream " + url_ + " refused the prompt: " + msg);
        throw Error(Errno::InvalidArgument, "upstream " + url_ + " refused the request (" + std::to_string(status) +
                                                "): " + msg);
      }
      why = "HTTP " + std::to_string(status) + ": " + msg;
    } else if (why.empty()) {
      why = transfer_->error();
    }
    // Nothing reached the caller yet: mark this upstream down and try the next one.
    pool_->mark_down(index, why);
    if (rt_->wake_health_check) rt_->wake_health_check();
    rt_->log("model '" + pool_->name() + "': upstream " + url_ + " failed (" + why + ")" +
             (tried.size() < pool_->size() ? ", trying another" : ""));
    failures += (failures.empty() ? "" : "; ") + url_ + ": " + why;
    transfer_.reset();
    lease_.reset();
  }
}

CompletionStream::~CompletionStream() = default;

bool CompletionStream::drain() {
  auto& events = sse_.events();
  while (!events.empty()) {
    const std::string data = std::move(events.front());
    events.pop_front();
    if (data == "[DONE]") {
      done_ = true;
      continue;
    }
    const json j = json::parse(data, nullptr, false);
    if (!j.is_object()) {
      error_event_ = "a malformed event: " + data.substr(0, 200);
      continue;
    }
    if (j.contains("error")) {
      error_event_ = error_message(data);
      error_event_json_ = data;
      continue;
    }
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const json& c = j["choices"][0];
      std::string text;
      if (c.contains("text") && c["text"].is_string()) text = c["text"];
      // A chat-style chunk, from servers that answer /completions in that shape.
      else if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") &&
               c["delta"]["content"].is_string())
        text = c["delta"]["content"];
      if (!text.empty()) pieces_.push_back(std::move(text));
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) finish_reason_ = c["finish_reason"];
      if (c.contains("stop_reason") && c["stop_reason"].is_string()) matched_stop_ = c["stop_reason"];  // vLLM
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_unsigned())
        prompt_tokens_ = u["prompt_tokens"].get<uint32_t>();
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_unsigned())
        completion_tokens_ = u["completion_tokens"].get<uint32_t>();
    }
  }
  return !pieces_.empty() || finish_reason_ || done_ || error_event_;
}

void CompletionStream::fail_mid_stream(const std::string& why) {
  // An upstream that breaks off a stream is likely going away: route around it until its
  // health check passes again.
  pool_->mark_down(lease_->index(), why);
  if (rt_->wake_health_check) rt_->wake_health_check();
  rt_->log("model '" + pool_->name() + "': upstream " + url_ + " broke off a stream after " +
           std::to_string(pieces_given_) + " pieces (" + why + ")");
  transfer_.reset();
  lease_.reset();
  ended_ = true;
  throw Error(Errno::RuntimeError, "upstream " + url_ + " of model '" + pool_->name() + "' broke off after " +
                                       std::to_string(pieces_given_) + " pieces: " + why);
}

std::optional<std::string> CompletionStream::next(const std::function<bool()>& abort) {
  while (true) {
    if (!pieces_.empty()) {
      std::string p = std::move(pieces_.front());
      pieces_.pop_front();
      ++pieces_given_;
      return p;
    }
    if (error_event_) fail_mid_stream("error event: " + *error_event_);
    if (ended_) return std::nullopt;
    if (finish_reason_ || done_) {
      // The usage chunk and [DONE] follow the finish reason; a connection closed between them
      // lost nothing of the text, so it is not an error.
      if (!done_ && transfer_ && !transfer_->finished())
        if (!transfer_->pump([this] { return drain() && (done_ || error_event_ || !pieces_.empty()); }, abort))
          cancelled();
      drain();
      if (!pieces_.empty() || error_event_) continue;
      ended_ = true;
      decide_stop();
      transfer_.reset();
      lease_.reset();
      return std::nullopt;
    }
    if (transfer_->finished()) {
      fail_mid_stream(transfer_->ok() ? "the stream ended without a finish reason" : transfer_->error());
    }
    if (!transfer_->pump([this] { return drain(); }, abort)) cancelled();
    drain();
  }
}

void CompletionStream::decide_stop() {
  const std::string reason = finish_reason_.value_or("stop");
  if (reason == "length") {
    const uint32_t produced = completion_tokens_.value_or(pieces_given_);
    // "length" is either max_tokens (our n-predict) or the upstream's context running out.
    stop_ = opts_.n_predict >= 0 && produced >= uint64_t(opts_.n_predict) ? nn::StopReason::NPredict
                                                                           : nn::StopReason::ContextFull;
  } else if (reason == "stop" && matched_stop_ && !opts_.reverse_prompt.empty() &&
             *matched_stop_ == opts_.reverse_prompt) {
    stop_ = nn::StopReason::ReversePrompt;
  } else {
    stop_ = nn::StopReason::EndOfGeneration;
  }
}

}  // namespace nnb::openai

// One streamed completion from a model's upstreams: POST {base}/completions with stream: true,
// routed to the least busy upstream and retried on another one while nothing has come back
// yet (connection refused, timeout, 5xx, 429, a misconfigured upstream's 401/403/404); after
// the first piece a failure is an error naming the upstream, never a clean, shorter end.
// The SSE events become pieces (one per event with text), the finish reason and the usage.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "backends/openai/http_transfer.h"
#include "backends/openai/openai_options.h"
#include "backends/openai/openai_runtime.h"
#include "backends/openai/sse_parser.h"
#include "backends/openai/upstream_pool.h"
#include "nn/stop_reason.h"

namespace nnb::openai {

class CompletionStream {
 public:
  // Sends the request and waits until the first piece (or the end) has arrived, trying the
  // upstreams in turn. Throws nn::Error: PromptTooLong when an upstream says the prompt
  // exceeds its context, InvalidArgument for another refusal of the request (400/413/422),
  // RuntimeError naming every upstream tried when none answered, or "cancelled" when
  // `abort` said so.
  CompletionStream(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<const Runtime> rt, const CompletionOptions& opts,
                   const std::string& prompt, const std::function<bool()>& abort);
  ~CompletionStream();

  // The next piece, or nullopt at the end (then stop() says why). Throws nn::Error
  // (RuntimeError) naming the upstream when it fails or the stream breaks off, or "cancelled".
  std::optional<std::string> next(const std::function<bool()>& abort);

  nn::StopReason stop() const { return stop_; }
  std::optional<uint32_t> prompt_tokens() const { return prompt_tokens_; }
  std::optional<uint32_t> completion_tokens() const { return completion_tokens_; }
  uint32_t pieces() const { return pieces_given_; }
  const std::string& upstream_url() const { return url_; }

 private:
  // Parses the events received so far; true when a piece or the end is ready.
  bool drain();
  void decide_stop();
  [[noreturn]] void fail_mid_stream(const std::string& why);

  std::shared_ptr<UpstreamPool> pool_;
  std::shared_ptr<const Runtime> rt_;
  CompletionOptions opts_;
  std::optional<UpstreamPool::Lease> lease_;
  std::unique_ptr<HttpTransfer> transfer_;
  SseParser sse_;
  std::string url_;
  std::deque<std::string> pieces_;
  std::optional<std::string> finish_reason_, matched_stop_, error_event_;
  std::string error_event_json_;  // the whole error event: its code may say more than its message
  bool done_ = false, ended_ = false;
  std::optional<uint32_t> prompt_tokens_, completion_tokens_;
  uint32_t pieces_given_ = 0;
  nn::StopReason stop_ = nn::StopReason::EndOfGeneration;
};

// True when an upstream's refusal says the prompt does not fit its context (vLLM: "maximum
// context length", llama-server: "exceeds the available context size", nnbridge:
// "context_length_exceeded" ...).
bool says_context_exceeded(const std::string& body);

}  // namespace nnb::openai

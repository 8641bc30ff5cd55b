// One HTTP request to an upstream over libcurl, driven step by step by its caller (a curl
// multi handle of its own): the execution context pumps it until the next completion chunk has
// arrived, so a compute_single call waits for exactly one piece and the abort check is polled
// every 50 ms meanwhile, with no thread per stream.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace nnb::openai {

struct HttpRequest {
  std::string url;
  bool post = false;       // POST `body` as JSON; otherwise GET
  std::string body;
  std::string api_key;     // sent as "Authorization: Bearer KEY" when non-empty
  double connect_timeout_s = 5;
  // No byte received for this long (the status line included): the transfer fails. Streams
  // send one event per token, so this bounds the upstream's prompt time and its time per token.
  double idle_timeout_s = 60;
  // The most bytes kept of a body not handed to on_body (an error answer, a health check's
  // list); more is a failure of the transfer, never a silently shortened body.
  size_t max_body_bytes = size_t(1) << 20;
};

class HttpTransfer {
 public:
  // Receives the body of a 2xx answer as it arrives. It may throw: the transfer then stops
  // and pump() rethrows the exception.
  using BodySink = std::function<void(std::string_view)>;

  HttpTransfer(const HttpRequest& req, BodySink on_body);
  ~HttpTransfer();
  HttpTransfer(const HttpTransfer&) = delete;
  HttpTransfer& operator=(const HttpTransfer&) = delete;

  // Runs the transfer until `enough()` (checked whenever bytes arrived) says so, or it ends,
  // or `abort()` (polled at least every 50 ms; may be empty) says to stop; returns false only
  // in that last case, and the transfer is then closed.
  bool pump(const std::function<bool()>& enough, const std::function<bool()>& abort);

  bool finished() const { return finished_; }
  // Once finished: whether it completed (every byte the server announced arrived); else
  // error() says why (connection refused, timeout, reset mid-body ...).
  bool ok() const { return finished_ && error_.empty(); }
  const std::string& error() const { return error_; }
  bool timed_out() const { return timed_out_; }
  // The HTTP status (0 until the status line has arrived) and a non-2xx answer's body.
  long status() const { return status_; }
  const std::string& body() const { return body_; }

 private:
  static size_t on_write(char* data, size_t size, size_t n, void* self);
  size_t write(std::string_view bytes);
  void close();

  void* multi_ = nullptr;
  void* easy_ = nullptr;
  void* headers_ = nullptr;
  BodySink on_body_;
  size_t max_body_;
  long status_ = 0;
  std::string body_;
  std::string error_;
  char errbuf_[256] = {};
  bool finished_ = false, timed_out_ = false, got_bytes_ = false;
  std::exception_ptr failure_;  // thrown by on_body inside libcurl's callback
};

}  // namespace nnb::openai

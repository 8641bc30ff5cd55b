// The OpenAI-compatible HTTP API over a CompletionService: the same server runs on the host
// (`serve --http`, over the local engine) and in the guest (`gateway`, over the remote
// backend). Routes: POST /v1/chat/completions and /v1/completions (JSON, or server-sent events
// with "stream": true), POST /v1/embeddings, GET /v1/models[/ID], GET /health, and the web
// chat page at /.
// Errors are OpenAI error objects with the matching HTTP status.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "http/completion_service.h"

namespace httplib {
class Server;
}

namespace nnb::http {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (port() tells which)
  std::string auth_token;      // when set, /v1/* needs `Authorization: Bearer <token>`
  size_t max_body_bytes = size_t(16) << 20;
  int threads = 16;            // connections served at once (generations are capped by the service)
  std::string server_name = "nnbridge";  // owned_by in /v1/models
  std::function<void(const std::string&)> log;  // one line per request; empty: none
};

class ApiServer {
 public:
  ApiServer(std::shared_ptr<CompletionService> service, ApiServerOptions opts);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts serving on a thread of its own; throws std::runtime_error when the
  // address cannot be bound.
  void start();
  void stop();  // stops accepting, ends open streams at their next token, joins
  int port() const { return port_; }

 private:
  void routes();
  std::shared_ptr<CompletionService> service_;
  ApiServerOptions opts_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace nnb::http

// The HTTP API's flags and start-up, shared by `serve --http` (over the local engine) and
// `gateway` (over the remote backend in the guest).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/api_server.h"
#include "nn/backend.h"

namespace nnb::cli {

struct HttpFlags {
  std::string listen;          // HOST:PORT; "" = no HTTP API
  size_t parallel = 4;
  int64_t ctx_size = 4096;
  std::string chat_template;   // built-in name or file; "" = the model's own
  bool insecure = false;       // allow a non-loopback address
};

// --parallel, --ctx-size, --chat-template (and --insecure when `with_insecure`).
void add_http_flags(CLI::App* cmd, HttpFlags& f, bool with_insecure);

// The text of --chat-template: a built-in template's source, or the file's; throws
// std::invalid_argument naming both possibilities when it is neither.
std::string chat_template_source(const std::string& name_or_file);

// Starts the API on f.listen over `backend`; the API key (when non-empty) is required on /v1/*.
// Refuses a non-loopback address unless f.insecure. Throws std::runtime_error / invalid_argument.
std::unique_ptr<http::ApiServer> start_http(std::shared_ptr<nn::Backend> backend, const HttpFlags& f,
                                            std::function<std::vector<std::string>()> list_models,
                                            const std::string& api_key,
                                            const std::function<void(const std::string&)>& log,
                                            http::GenerateFn generate = {});

}  // namespace nnb::cli

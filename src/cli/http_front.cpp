#include "cli/http_front.h"

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "rpc/common.h"

namespace nnb::cli {

void add_http_flags(CLI::App* c, HttpFlags& f, bool with_insecure) {
  c->add_option("--parallel", f.parallel, "HTTP API: generations running at once (later requests wait)")
      ->check(CLI::Range(size_t(1), size_t(256)))
      ->capture_default_str();
  c->add_option("--ctx-size", f.ctx_size, "HTTP API: context size per generation, at most the model's training context")
      ->check(CLI::Range(int64_t(16), int64_t(1) << 20))
      ->capture_default_str();
  c->add_option("--chat-template", f.chat_template,
                "HTTP API: chat template for every model instead of its own: a built-in name (" +
                    [] {
                      std::string s;
                      for (const auto& n : chat::builtin_template_names()) s += (s.empty() ? "" : ", ") + n;
                      return s;
                    }() +
                    ") or a Jinja file");
  if (with_insecure) c->add_flag("--insecure", f.insecure, "Allow the HTTP API on a non-loopback address");
}

std::string chat_template_source(const std::string& v) {
  if (auto b = chat::builtin_template(v)) return *b;
  std::ifstream in(v, std::ios::binary);
  if (!in)
    throw std::invalid_argument("--chat-template '" + v + "' is neither a built-in template nor a readable file");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > (1 << 20)) throw std::invalid_argument("--chat-template file '" + v + "' is larger than 1 MiB");
  chat::ChatTemplate check(text);  // a template that does not parse stops start-up
  return text;
}

std::unique_ptr<http::ApiServer> start_http(std::shared_ptr<nn::Backend> backend, const HttpFlags& f,
                                            std::function<std::vector<std::string>()> list_models,
                                            const std::string& api_key,
                                            const std::function<void(const std::string&)>& log,
                                            http::GenerateFn generate) {
  const rpc::Endpoint ep = rpc::parse_endpoint(f.listen);
  if (ep.kind != rpc::Endpoint::Kind::Tcp) throw std::invalid_argument("--http/--listen takes HOST:PORT, got '" + f.listen + "'");
  if (!ep.is_loopback() && !f.insecure)
    throw std::runtime_error("refusing to serve the HTTP API on non-loopback address " + ep.to_string() +
                             " (plain HTTP): pass --insecure to allow it, and set an API key");
  http::ServiceOptions so;
  so.list_models = std::move(list_models);
  so.ctx_size = f.ctx_size;
  so.parallel = f.parallel;
  if (!f.chat_template.empty()) so.chat_template_override = chat_template_source(f.chat_template);
  so.log = log;
  so.generate = std::move(generate);
  auto service = std::make_shared<http::CompletionService>(std::move(backend), std::move(so));
  http::ApiServerOptions ao;
  ao.host = ep.host;
  ao.port = ep.port;
  ao.auth_token = api_key;
  ao.threads = int(std::max<size_t>(16, f.parallel * 2));
  auto server = std::make_unique<http::ApiServer>(service, ao);
  server->start();
  rpc::Endpoint bound = ep;
  bound.port = server->port();  // the port chosen when 0 was asked
  log("HTTP API on http://" + bound.to_string() + "/v1 (OpenAI-compatible; web chat at /)" +
      (api_key.empty() ? "" : ", API key required"));
  return server;
}

}  // namespace nnb::cli

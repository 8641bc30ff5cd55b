// nnbridge gateway: the OpenAI-compatible HTTP API inside the guest, forwarding every
// completion over the host's socket (nnbridge's streaming Generate through the remote backend),
// so the tools of the VM use the host's accelerator through one forwarded socket.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/http_front.h"
#include "cli/shutdown_signals.h"
#include "rpc/client.h"
#include "rpc/common.h"

namespace nnb::cli {
namespace {

struct GatewayOptions {
  std::string uri, listen = "127.0.0.1:8080", auth_token_file, api_key_file, tls_ca, tls_cert, tls_key;
  std::vector<std::string> models;
  double connect_timeout_s = 5;
  HttpFlags http;
};

void log_line(const std::string& s) {
  std::fprintf(stderr, "nnbridge gateway: %s\n", s.c_str());
  std::fflush(stderr);
}

void run_gateway(const GatewayOptions& o) {
  const sigset_t sigs = block_shutdown_signals();  // before any other thread exists

  rpc::ClientOptions co;
  co.uri = o.uri;
  if (!o.auth_token_file.empty()) co.auth_token = rpc::read_token_file(o.auth_token_file);
  co.tls_ca = o.tls_ca;
  co.tls_cert = o.tls_cert;
  co.tls_key = o.tls_key;
  co.connect_timeout = connect_timeout_of(o.connect_timeout_s);
  auto backend = std::make_shared<rpc::RemoteBackend>(co);
  const std::string api_key = o.api_key_file.empty() ? "" : rpc::read_token_file(o.api_key_file);

  // The models offered: --model names when given, else the host's list (asked per request, so
  // models preloaded on a restarted host appear); a WasmEdge host cannot list: "default".
  // The host's answer is kept for 5 s: every request checks its model, and through `ssh -R` a
  // call costs milliseconds.
  struct ListCache {
    std::mutex mu;
    std::vector<std::string> names;
    std::chrono::steady_clock::time_point at{};
  };
  auto cache = std::make_shared<ListCache>();
  std::function<std::vector<std::string>()> list = [names = o.models, backend, cache]() -> std::vector<std::string> {
    if (!names.empty()) return names;
    std::lock_guard<std::mutex> lk(cache->mu);
    const auto now = std::chrono::steady_clock::now();
    if (cache->names.empty() || now - cache->at > std::chrono::seconds(5)) {
      auto m = backend->list_models();
      cache->names = m ? *m : std::vector<std::string>{"default"};
      cache->at = now;
    }
    return cache->names;
  };
  HttpFlags hf = o.http;
  hf.listen = o.listen;
  // Each completion is one Generate stream on a host context of the gateway's pool (its KV
  // cache serves the next turn), cancelled when the HTTP client leaves.
  http::GenerateFn generate = [backend](nn::ExecutionContext& ctx, const std::string& prompt,
                                        const std::string& options, const nn::PieceSink& sink,
                                        const std::function<bool()>& gone) {
    const rpc::GenerateResult r = backend->generate(ctx, prompt, options, sink, gone);
    nn::Outcome o;
    o.stop = r.stop;
    o.input_tokens = r.input_tokens;
    o.output_tokens = o.produced = r.output_tokens;
    o.prompt_seconds = r.prompt_seconds;
    o.generation_seconds = r.generation_seconds;
    o.metadata_json = r.metadata_json;
    return o;
  };
  auto api = start_http(backend, hf, list, api_key, log_line, generate);
  log_line("forwarding to " + backend->endpoint().to_string());
  int sig = 0;
  sigwait(&sigs, &sig);
  log_line(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
  api->stop();
}

}  // namespace

void add_gateway(CLI::App& app) {
  auto o = std::make_shared<GatewayOptions>();
  auto* c = app.add_subcommand("gateway",
                               "OpenAI-compatible HTTP API (and web chat) forwarding to `nnbridge serve` over its socket");
  c->add_option("--nn-rpc-uri", o->uri, "The host server: unix:///abs/path.sock or HOST:PORT")->required();
  c->add_option("--listen", o->listen, "HOST:PORT of the HTTP API")->capture_default_str();
  c->add_option("-m,--model", o->models, "Model names to offer (repeatable; default: the host's preloads)");
  c->add_option("--auth-token-file", o->auth_token_file, "File holding the host server's bearer token");
  c->add_option("--api-key-file", o->api_key_file, "Require this key (`Authorization: Bearer`) from HTTP clients");
  c->add_option("--tls-ca", o->tls_ca, "CA certificate (PEM) of the server's TLS certificate");
  c->add_option("--tls-cert", o->tls_cert, "Client certificate (PEM) for mutual TLS");
  c->add_option("--tls-key", o->tls_key, "Client key (PEM) for mutual TLS");
  add_connect_timeout_option(c, o->connect_timeout_s);
  add_http_flags(c, o->http, /*with_insecure=*/true);
  c->callback([o] { run_gateway(*o); });
}

}  // namespace nnb::cli

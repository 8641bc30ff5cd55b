// nnbridge chat: a native client of `nnbridge serve` (or of WasmEdge's wasi_nn_rpcserver).
// With -p it answers one prompt; without, it reads prompts line by line from stdin (EOF or
// /exit quits). Each answer is streamed to stdout piece by piece as the server produces it.
// Each line is an independent prompt: the server's models have no chat template here, so no
// conversation history is kept.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backends/ggml/ggml_options.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "rpc/client.h"
#include "rpc/common.h"

namespace nnb::cli {
namespace {

struct ChatOptions {
  std::string uri, model = "default", prompt, auth_token_file, tls_ca, tls_cert, tls_key, config;
  int64_t n_predict = 256, ctx_size = 0;
  double temp = ggml::GgmlOptions{}.temp;  // the server's (WasmEdge's) default, sent when not in --config
  double connect_timeout_s = 5;
  bool verbose = false;
  CLI::Option *prompt_opt = nullptr, *temp_opt = nullptr, *n_opt = nullptr, *ctx_opt = nullptr;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

// Ctrl-C while an answer streams cancels that answer (the server stops generating); at the
// prompt it quits as usual.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~InterruptScope() { sigaction(SIGINT, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

// GGML metadata for each request: --config's JSON object, overridden by the flags given.
std::string options_json(const ChatOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  if (!o.config.empty()) {
    j = nlohmann::json::parse(o.config, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) throw std::runtime_error("--config must be a JSON object, got: " + o.config);
  }
  if (o.temp_opt->count() || !j.contains("temp")) j["temp"] = o.temp;
  if (o.n_opt->count() || !j.contains("n-predict")) j["n-predict"] = o.n_predict;
  if (o.ctx_opt->count()) j["ctx-size"] = o.ctx_size;
  return j.dump();
}

// One answer, streamed. Returns false when the server failed in a way the next prompt will
// not survive (connection lost); other errors are reported and the loop goes on.
void answer(rpc::RemoteBackend& backend, const std::shared_ptr<nn::Graph>& graph, const std::string& prompt,
            const std::string& opts, bool verbose) {
  InterruptScope scope;
  const auto r = backend.generate(graph, prompt, opts, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return !g_interrupted.load();
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (verbose) {
    const double tg = r.generation_seconds > 0 ? r.output_tokens / r.generation_seconds : 0.0;
    std::fprintf(stderr, "nnbridge: %u prompt tokens, %u generated at %.1f t/s (%s, %s)\n", r.input_tokens,
                 r.output_tokens, tg, r.stop_reason.c_str(), r.native ? "nnbridge stream" : "WASI-NN compute_single");
  }
}

void run_chat(const ChatOptions& o) {
  rpc::ClientOptions co;
  co.uri = o.uri;
  if (!o.auth_token_file.empty()) co.auth_token = rpc::read_token_file(o.auth_token_file);
  co.tls_ca = o.tls_ca;
  co.tls_cert = o.tls_cert;
  co.tls_key = o.tls_key;
  co.connect_timeout = connect_timeout_of(o.connect_timeout_s);
  const std::string opts = options_json(o);
  rpc::RemoteBackend backend(co);

  std::shared_ptr<nn::Graph> graph;
  try {
    graph = backend.load_by_name(o.model, "");
  } catch (const rpc::TransportError&) {
    throw;  // already says "cannot reach server at URI: ..."
  } catch (const nn::Error& e) {
    throw std::runtime_error("cannot load model '" + o.model + "' from " + backend.endpoint().to_string() + ": " +
                             std::string(nn::errno_name(e.code())) + " (" + std::to_string(uint32_t(e.code())) +
                             "): " + e.what());
  }

  if (o.prompt_opt->count()) {
    answer(backend, graph, o.prompt, opts, o.verbose);
    return;
  }
  const bool tty = isatty(STDIN_FILENO);
  std::string line;
  for (;;) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line.empty()) continue;
    try {
      answer(backend, graph, line, opts, o.verbose);
    } catch (const rpc::TransportError&) {
      throw;  // the server is gone: exit 1 rather than fail every following line
    } catch (const nn::Error& e) {
      std::fprintf(stderr, "nnbridge: error: %s (errno %u)\n", e.what(), uint32_t(e.code()));
    }
  }
}

}  // namespace

void add_chat(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  auto* c = app.add_subcommand("chat", "Chat with a model served by `nnbridge serve`, streaming the answers");
  c->add_option("--nn-rpc-uri", o->uri, "Server: unix:///abs/path.sock or HOST:PORT")->required();
  c->add_option("-m,--model", o->model, "Model name on the server (its --nn-preload NAME)")->capture_default_str();
  o->prompt_opt = c->add_option("-p,--prompt", o->prompt, "Answer this prompt and exit (default: read prompts from stdin)");
  o->temp_opt = c->add_option("--temp", o->temp, "Temperature (0: greedy)")->capture_default_str();
  o->n_opt = c->add_option("-n,--n-predict", o->n_predict, "Tokens per answer at most (-1: no limit)")->capture_default_str();
  o->ctx_opt = c->add_option("-c,--ctx-size", o->ctx_size, "Context size in tokens (default: the server's)");
  c->add_option("--config", o->config, "More GGML options as a JSON object, e.g. '{\"top-p\":0.9}'");
  c->add_option("--auth-token-file", o->auth_token_file, "File holding the server's bearer token");
  c->add_option("--tls-ca", o->tls_ca, "CA certificate (PEM) of the server's TLS certificate");
  c->add_option("--tls-cert", o->tls_cert, "Client certificate (PEM) for mutual TLS");
  c->add_option("--tls-key", o->tls_key, "Client key (PEM) for mutual TLS");
  add_connect_timeout_option(c, o->connect_timeout_s);
  c->add_flag("-v,--verbose", o->verbose, "Print token counts and speed of each answer on stderr");
  c->callback([o] { run_chat(*o); });
}

}  // namespace nnb::cli

// nnbridge serve: the host server. Takes wasi_nn_rpcserver's flags unchanged (--nn-rpc-uri,
// --nn-preload), so its scripts port by renaming the command, plus nnbridge's security and
// resource flags. SIGINT/SIGTERM shut it down gracefully and remove the socket file.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/ggml/ggml_backend.h"
#include "backends/openai/openai_backend.h"
#include "backends/openai/upstream_spec.h"
#include "backends/router/router_backend.h"
#include "cli/commands.h"
#include "cli/http_front.h"
#include "cli/shutdown_signals.h"
#include "nn/preload.h"
#include "rpc/server.h"

namespace nnb::cli {
namespace {

struct ServeOptions {
  std::string uri;
  std::vector<std::string> preloads;
  std::string socket_mode = "0600";
  std::string tls_cert, tls_key, tls_client_ca, auth_token_file;
  bool insecure = false;
  double max_message_mb = 16;
  double idle_timeout_s = 300;
  size_t max_contexts = 64, max_contexts_per_client = 8, max_graphs_per_client = 256, max_sessions = 1024;
  int threads = 0, rpc_threads = 256;
  std::string nn_options, device = "auto";
  int32_t n_gpu_layers = -1;
  std::string kv_type = "f32";
  int32_t batch_parallel = 8, kv_cells = 0, batch_prompt_chunk = 16;
  std::string batch_overflow = "alone";
  double upstream_idle_timeout_s = 60, upstream_health_interval_s = 10;
  HttpFlags http;
};

void log_line(const std::string& s) {
  std::fprintf(stderr, "nnbridge serve: %s\n", s.c_str());
  std::fflush(stderr);
}

mode_t parse_mode(const std::string& s) {
  char* end = nullptr;
  const unsigned long m = std::strtoul(s.c_str(), &end, 8);
  if (s.empty() || *end != '\0' || m > 0777)
    throw std::invalid_argument("--socket-mode '" + s + "': expected octal permissions such as 0600 or 0660");
  return mode_t(m);
}

void run_serve(const ServeOptions& o) {
  rpc::ServerOptions so;
  so.endpoint = rpc::parse_endpoint(o.uri);
  // Model files go to the GGML backend; NAME:OPENAI:… specs to the OpenAI backend, one
  // upstream each (a NAME given again adds one). The server lists each name once.
  std::vector<nn::PreloadSpec> files;
  std::map<std::string, std::vector<openai::Upstream>> upstreams;
  for (const auto& text : o.preloads) {
    nn::PreloadSpec p = nn::parse_preload(text);
    if (p.kind == nn::PreloadKind::OpenAIUpstream) {
      auto& list = upstreams[p.name];
      list.push_back(openai::parse_upstream(p.path));
      if (list.size() == 1) so.preloads.push_back(p);
    } else {
      files.push_back(p);
      so.preloads.push_back(std::move(p));
    }
  }
  for (const auto& f : files)
    if (upstreams.count(f.name))
      throw std::invalid_argument("--nn-preload '" + f.name + "' names both a model file and an OpenAI upstream");
  so.socket_mode = parse_mode(o.socket_mode);
  so.tls_cert_file = o.tls_cert;
  so.tls_key_file = o.tls_key;
  so.tls_client_ca_file = o.tls_client_ca;
  so.insecure = o.insecure;
  so.auth_token_file = o.auth_token_file;
  if (!(o.max_message_mb > 0) || o.max_message_mb > 2047)
    throw std::invalid_argument("--max-message-mb must be in (0, 2047]");
  so.max_message_bytes = size_t(o.max_message_mb * 1024 * 1024);
  if (!(o.idle_timeout_s > 0)) throw std::invalid_argument("--idle-timeout-s must be > 0");
  so.idle_timeout_s = o.idle_timeout_s;
  so.max_contexts = o.max_contexts;
  so.max_contexts_per_client = o.max_contexts_per_client;
  so.max_graphs_per_client = o.max_graphs_per_client;
  so.max_sessions = o.max_sessions;
  so.max_rpc_threads = o.rpc_threads;
  so.log = log_line;

  const sigset_t sigs = block_shutdown_signals();  // before any other thread exists

  ggml::GgmlBackendOptions bo;
  bo.default_threads = o.threads;
  bo.device = o.device;
  bo.n_gpu_layers = o.n_gpu_layers;
  bo.kv_type = parse_kv_type(o.kv_type);
  // A device that cannot exist stops start-up (exit 1); what it is goes to the log.
  const std::string chosen = describe_device_choice(o.device);
  log_line("device " + o.device + ": " + chosen);
  check_kv_type_for_device(o.kv_type, o.device, chosen);
  bo.default_options_json = o.nn_options;
  // Continuous batching: concurrent clients of a model generate in shared forward passes.
  if (o.batch_parallel < 0 || o.kv_cells < 0) throw std::invalid_argument("--batch-parallel and --kv-cells must be >= 0");
  if (o.batch_prompt_chunk < 1) throw std::invalid_argument("--batch-prompt-chunk must be >= 1");
  bo.batch_parallel = o.batch_parallel;
  bo.batch_kv_cells = o.kv_cells;
  bo.batch_prompt_chunk = o.batch_prompt_chunk;
  bo.batch_overflow_alone = o.batch_overflow == "alone";
  // stream-stdout text belongs to the client that asked for it (the nnbridge client prints it
  // on the guest's stdout); echoing every client's text into the host's log would leak it.
  bo.stdout_sink = [](std::string_view) {};
  auto ggml_backend = std::make_shared<ggml::GgmlBackend>(files, bo);
  std::shared_ptr<nn::Backend> backend = ggml_backend;
  if (!upstreams.empty()) {
    openai::OpenAIBackendOptions oo;
    oo.idle_timeout_s = o.upstream_idle_timeout_s;
    oo.health_interval_s = o.upstream_health_interval_s;
    oo.default_options_json = o.nn_options;
    oo.log = [](const std::string& line) { log_line("openai: " + line); };
    auto remote = std::make_shared<openai::OpenAIBackend>(upstreams, oo);
    auto router = std::make_shared<router::RouterBackend>(ggml_backend);
    for (const auto& [name, list] : upstreams) {
      router->route(name, remote);
      // Probed now, so the operator sees at start-up which upstreams answer; a down one is
      // still served (requests go to the others, and it comes back once it answers).
      log_line("preload '" + name + "': " + remote->describe(name));
    }
    backend = router;
  }
  // Every preload is opened and validated now, so the operator learns at start-up what each
  // model is or why it is unusable, not from the first client. An unusable one does not stop
  // the server (COMPAT §2: a missing file answers ModelNotFound); the others are served.
  for (const auto& p : files) {
    try {
      log_line("preload '" + p.name + "': " + ggml_backend->describe_preload(p.name) + " (" + p.path + ")");
    } catch (const nn::Error& e) {
      log_line("preload '" + p.name + "' is unusable, load_by_name will answer " +
               std::to_string(uint32_t(e.code())) + " (" + std::string(nn::errno_name(e.code())) + "): " + e.what());
    }
  }
  const double grace = so.shutdown_grace_s;
  const std::string sock_path = so.endpoint.kind == rpc::Endpoint::Kind::Unix ? so.endpoint.path : "";
  // The HTTP API (when asked) goes straight to the backend, beside the gRPC server; it takes
  // the same bearer token as the gRPC calls.
  const std::string api_key = so.auth_token_file.empty() ? "" : rpc::read_token_file(so.auth_token_file);
  std::vector<std::string> http_models;
  for (const auto& p : so.preloads) http_models.push_back(p.name);
  rpc::Server server(backend, std::move(so));
  server.start();  // throws with a clear message; main() prints it and exits 1
  std::unique_ptr<http::ApiServer> http_api;
  if (!o.http.listen.empty()) {
    HttpFlags hf = o.http;
    hf.insecure = o.insecure;
    http_api = start_http(backend, hf, [http_models] { return http_models; }, api_key, log_line);
  }

  std::thread signals([&server, sigs, grace, sock_path] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log_line(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
    // Running computations stop at their next prompt batch or token; should one not (a
    // stuck call), leave anyway after removing our socket rather than hang the host's shutdown.
    std::thread([grace, sock_path] {
      std::this_thread::sleep_for(std::chrono::duration<double>(grace + 5));
      log_line("in-flight calls did not finish; exiting");
      if (!sock_path.empty()) ::unlink(sock_path.c_str());
      ::_exit(1);
    }).detach();
    server.shutdown();
  });
  server.wait();
  if (http_api) http_api->stop();
  signals.join();
}

}  // namespace

void add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* c = app.add_subcommand("serve",
                               "Serve WASI-NN over gRPC (WasmEdge's wasi_nn_rpcserver protocol + nnbridge's own)");
  c->add_option("--nn-rpc-uri", o->uri, "unix:///abs/path.sock, or HOST:PORT (TCP)")->required();
  c->add_option("--nn-preload", o->preloads,
                "NAME:ENCODING:TARGET:PATH, e.g. default:GGML:AUTO:model.gguf, or NAME:OPENAI:AUTO:BASE_URL#MODEL_ID "
                "for an OpenAI-compatible upstream (repeat the NAME to add upstreams; key: ?key_file=FILE or "
                "$NNBRIDGE_UPSTREAM_KEY) (repeatable)");
  c->add_option("--socket-mode", o->socket_mode, "UNIX socket permissions (octal)")->capture_default_str();
  c->add_option("--tls-cert", o->tls_cert, "TLS certificate chain (PEM)");
  c->add_option("--tls-key", o->tls_key, "TLS private key (PEM)");
  c->add_option("--tls-client-ca", o->tls_client_ca, "Require client certificates signed by this CA (PEM)");
  c->add_flag("--insecure", o->insecure, "Allow plain-text TCP on a non-loopback address");
  c->add_option("--auth-token-file", o->auth_token_file,
                "Require `authorization: Bearer <token>` on every call (token read from this file)");
  c->add_option("--max-message-mb", o->max_message_mb, "Largest request or response message, MiB")->capture_default_str();
  c->add_option("--idle-timeout-s", o->idle_timeout_s,
                "Free contexts of clients without a session (WasmEdge clients) after this idle time")
      ->capture_default_str();
  c->add_option("--max-contexts", o->max_contexts, "Execution contexts, all clients together")->capture_default_str();
  c->add_option("--max-contexts-per-client", o->max_contexts_per_client, "Execution contexts per nnbridge session")
      ->capture_default_str();
  c->add_option("--max-graphs-per-client", o->max_graphs_per_client,
                "Graphs per nnbridge session (WasmEdge clients: 64x this, least recently used evicted)")
      ->capture_default_str();
  c->add_option("--max-sessions", o->max_sessions, "nnbridge sessions alive at once")->capture_default_str();
  c->add_option("--threads", o->threads, "Compute threads per context unless its options say (0: all cores)")
      ->capture_default_str();
  c->add_option("--rpc-threads", o->rpc_threads, "Most gRPC worker threads")->capture_default_str();
  c->add_option("--device", o->device,
                "Device every context computes on: auto (a GPU that can run the model, else the CPU), cpu, vulkan, "
                "vulkan:N (nnbridge info --devices)")
      ->capture_default_str()
      ->check(device_spec_validator());
  c->add_option("--n-gpu-layers", o->n_gpu_layers,
                "Layers on a GPU device, the rest on the CPU (-1: all); a client's n-gpu-layers > 0 overrides it")
      ->capture_default_str();
  add_kv_type_option(c, o->kv_type, " of every context");
  c->add_option("--batch-parallel", o->batch_parallel,
                "Contexts of one model generating at once in shared forward passes (continuous batching: a "
                "context holds a slot while it generates and keeps its cache there while idle until another "
                "needs the room; see --batch-overflow); 0: every context computes alone")
      ->capture_default_str();
  c->add_option("--kv-cells", o->kv_cells,
                "KV cache cells the batched contexts of a model share; each reserves its ctx-size (0: "
                "batch-parallel x 4096)")
      ->capture_default_str();
  c->add_option("--batch-prompt-chunk", o->batch_prompt_chunk,
                "Most prompt tokens of one batched context per step: smaller keeps the others' tokens coming "
                "while a prompt is read (a step's cost grows with its tokens), larger reads a long prompt in "
                "fewer steps")
      ->capture_default_str();
  c->add_option("--batch-overflow", o->batch_overflow,
                "A context that finds no batch slot (all generating, the cells taken, or its ctx-size over the "
                "budget): alone (computes on its own, as without batching) or busy (refused with errno 4 Busy)")
      ->capture_default_str()
      ->check(CLI::IsMember({"alone", "busy"}));
  c->add_option("--nn-options", o->nn_options,
                "GGML options every graph starts from, beneath the app's own (JSON, e.g. '{\"temp\":0}')");
  c->add_option("--upstream-idle-timeout-s", o->upstream_idle_timeout_s,
                "OpenAI upstreams (NAME:OPENAI:AUTO:URL#MODEL preloads): the longest wait for the next byte of an answer")
      ->capture_default_str();
  c->add_option("--upstream-health-interval-s", o->upstream_health_interval_s,
                "OpenAI upstreams: seconds between health checks (GET /models) of one that is up")
      ->capture_default_str();
  c->add_option("--http", o->http.listen,
                "Also serve the OpenAI-compatible HTTP API and web chat on HOST:PORT (e.g. 127.0.0.1:8080)");
  add_http_flags(c, o->http, /*with_insecure=*/false);  // --insecure above covers both listeners
  c->callback([o] { run_serve(*o); });
}

}  // namespace nnb::cli

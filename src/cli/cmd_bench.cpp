// nnbridge bench: prompt-processing and generation speed of the engine, llama-bench style
// (random tokens, fresh context per repetition), plus peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/bench_remote.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "engine/runtime/context.h"

namespace nnb::cli {
namespace {

struct BenchOptions {
  std::string model;
  int32_t n_prompt = 512, n_gen = 128, threads = 0, reps = 1;
  std::string device = "auto";
  int32_t n_gpu_layers = -1;
  CLI::Option* ngl_opt = nullptr;
  CLI::Option* device_opt = nullptr;
  bool json = false;
  std::string uri, auth_token_file;  // --nn-rpc-uri: measure through a server (bench_remote.cpp)
  bool wasmedge_protocol = false;
  double connect_timeout_s = 5;
  CLI::Option* connect_timeout_opt = nullptr;
};

uint64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

void run_bench(const BenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  auto model = Model::load(resolve_model(o.model));
  ContextParams cp;
  cp.n_ctx = std::max(o.n_prompt + o.n_gen, 16);
  cp.n_batch = std::max(o.n_prompt, 1);
  cp.n_threads = o.threads;
  cp.device = o.device;
  cp.n_gpu_layers = o.n_gpu_layers;
  Context ctx(*model, cp);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<Token> tok(0, model->hparams().n_vocab - 1);

  double pp_s = 0, tg_s = 0;
  // One warm-up pass pages the weights in, so the figures measure compute, not disk.
  {
    std::vector<Token> w(size_t(std::min(o.n_prompt > 0 ? o.n_prompt : 1, 8)));
    for (auto& t : w) t = tok(rng);
    ctx.decode(w);
    ctx.clear();
  }
  for (int r = 0; r < o.reps; ++r) {
    if (o.n_prompt > 0) {
      std::vector<Token> p(size_t(o.n_prompt));
      for (auto& t : p) t = tok(rng);
      ctx.clear();
      const auto t0 = Clock::now();
      ctx.decode(p);
      pp_s += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    if (o.n_gen > 0) {
      ctx.clear();
      Token t = tok(rng);
      const auto t0 = Clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        ctx.decode(std::span<const Token>(&t, 1));
        t = tok(rng);
      }
      tg_s += std::chrono::duration<double>(Clock::now() - t0).count();
    }
  }
  const double pp = pp_s > 0 ? double(o.n_prompt) * o.reps / pp_s : 0.0;
  const double tg = tg_s > 0 ? double(o.n_gen) * o.reps / tg_s : 0.0;
  if (o.json) {
    nlohmann::json j;
    j["model"] = model->name();
    j["threads"] = ctx.n_threads();
    j["device"] = ctx.device().describe();
    j["n_prompt"] = o.n_prompt;
    j["n_gen"] = o.n_gen;
    j["pp_tokens_per_s"] = pp;
    j["tg_tokens_per_s"] = tg;
    j["peak_rss_bytes"] = peak_rss_bytes();
    j["weight_bytes"] = model->weight_bytes();
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model %s, %.1f M params, %.1f MiB weights, %s\n", model->name().c_str(),
                double(model->n_params()) / 1e6, double(model->weight_bytes()) / 1048576.0, ctx.device().describe().c_str());
    std::printf("pp%-5d %10.2f tokens/s\n", o.n_prompt, pp);
    std::printf("tg%-5d %10.2f tokens/s\n", o.n_gen, tg);
    std::printf("peak RSS %.1f MiB\n", double(peak_rss_bytes()) / 1048576.0);
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* c = app.add_subcommand("bench", "Measure prompt and generation tokens/s and peak memory");
  c->add_option("-m,--model", o->model, "GGUF model file");
  c->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens per repetition")->capture_default_str();
  c->add_option("-n,--n-gen", o->n_gen, "Generated tokens per repetition")->capture_default_str();
  c->add_option("-t,--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  o->device_opt = c->add_option("--device", o->device, "Device: auto (a GPU that can run the model, else the CPU), cpu, vulkan, vulkan:N (nnbridge info --devices)")->capture_default_str()->check(device_spec_validator());
  o->ngl_opt = c->add_option("-g,--n-gpu-layers", o->n_gpu_layers, "Layers on a GPU device, the rest on the CPU (-1: all)")->capture_default_str();
  c->add_option("-r,--repetitions", o->reps, "Repetitions (figures are the mean)")->capture_default_str()->check(CLI::PositiveNumber);
  c->add_flag("--json", o->json, "One JSON object: pp_tokens_per_s, tg_tokens_per_s, peak_rss_bytes ...");
  c->add_option("--nn-rpc-uri", o->uri, "Measure through a server (unix:///path.sock or HOST:PORT); -m is then the model name");
  c->add_option("--auth-token-file", o->auth_token_file, "With --nn-rpc-uri: file holding the server's bearer token");
  c->add_flag("--wasmedge-protocol", o->wasmedge_protocol,
              "With --nn-rpc-uri: WASI-NN calls only, as a WasmEdge client (tokens via compute_single round trips)");
  o->connect_timeout_opt = add_connect_timeout_option(c, o->connect_timeout_s);
  c->callback([o] {
    if (o->uri.empty()) {
      // A flag that would silently do nothing is refused.
      if (o->connect_timeout_opt->count()) throw CLI::ValidationError("--connect-timeout", "needs --nn-rpc-uri");
      return run_bench(*o);
    }
    // The server chooses its device (serve --device); a local choice here would do nothing.
    if (o->device_opt->count()) throw CLI::ValidationError("--device", "is the server's choice with --nn-rpc-uri (serve --device)");
    if (o->ngl_opt->count())
      throw CLI::ValidationError("--n-gpu-layers", "is the server's choice with --nn-rpc-uri (serve --n-gpu-layers)");
    RemoteBenchOptions r;
    r.uri = o->uri;
    if (!o->model.empty()) r.model = o->model;
    r.auth_token_file = o->auth_token_file;
    r.n_prompt = o->n_prompt;
    r.n_gen = o->n_gen;
    r.reps = o->reps;
    r.json = o->json;
    r.wasmedge_protocol = o->wasmedge_protocol;
    r.connect_timeout_s = o->connect_timeout_s;
    run_remote_bench(r);
  });
}

}  // namespace nnb::cli

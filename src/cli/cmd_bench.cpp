// nnbridge bench: prompt-processing and generation speed of the engine, llama-bench style
// (random tokens, fresh context per repetition), plus peak resident memory; with --membw also
// this machine's memory read bandwidth at the same thread count, measured in the same run, and
// the share of it that generation reaches (each token reads every weight once). With
// --sequences N, generation runs N sequences side by side in one context, one token of each per
// forward pass (a batch of N, as a batching server's steps): the aggregate tokens/s and the
// time of a step, the engine's side of `bench/serve-load` without HTTP or clients.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cli/bench_remote.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "engine/runtime/context.h"

namespace nnb::cli {
namespace {

struct BenchOptions {
  std::string model;
  int32_t n_prompt = 512, n_gen = 128, threads = 0, reps = 1, sequences = 1;
  std::string device = "auto";
  int32_t n_gpu_layers = -1;
  std::string kv_type = "f32";
  CLI::Option* ngl_opt = nullptr;
  CLI::Option* kv_type_opt = nullptr;
  CLI::Option* device_opt = nullptr;
  bool json = false;
  std::string uri, auth_token_file;  // --nn-rpc-uri: measure through a server (bench_remote.cpp)
  bool wasmedge_protocol = false;
  bool membw = false;
  double connect_timeout_s = 5;
  CLI::Option* connect_timeout_opt = nullptr;
};

uint64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

// Read bandwidth of this machine (bytes/s) with `threads` threads: the best of 10 passes of a
// streaming sum over 1 GiB (far beyond the caches), each thread summing its own contiguous
// part with 8 independent accumulators so the loads, not the adds, are the limit; every other
// pass also prefetches the line 8 KiB ahead, as the CPU device may read the mat-vec rows
// (engine/cpu/row_prefetch.h, kRowPrefetchBytes: on a Zen 5 VM one thread's sum went from
// 20-27 to 29-33 GB/s with it, and the prefetched kernels outran the plain probe). The buffer
// is anonymous memory, touched before timing and unmapped afterwards.
double read_bandwidth(int threads) {
  constexpr size_t kBytes = size_t(1) << 30;
  void* mem = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("--membw: cannot map 1 GiB for the bandwidth probe");
  auto* words = static_cast<uint64_t*>(mem);
  const size_t n = kBytes / sizeof(uint64_t);
  for (size_t i = 0; i < n; ++i) words[i] = i;  // every page backed by memory, not the zero page
  threads = std::max(threads, 1);
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  double best = 0;
  constexpr size_t ahead = 8192 / sizeof(uint64_t);
  for (int pass = 0; pass < 10; ++pass) {
    const bool prefetch = pass % 2 == 1;
    std::vector<std::thread> pool;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t b = n * size_t(t) / size_t(threads), e = n * size_t(t + 1) / size_t(threads);
        uint64_t a[8] = {};
        size_t i = b;
        for (; i + 8 <= e; i += 8) {
          if (prefetch) __builtin_prefetch(words + i + ahead, 0, 3);
          for (int k = 0; k < 8; ++k) a[k] += words[i + size_t(k)];
        }
        for (; i < e; ++i) a[0] += words[i];
        uint64_t total = 0;
        for (uint64_t x : a) total += x;
        sums[size_t(t)] = total;
      });
    for (auto& th : pool) th.join();
    best = std::max(best, double(kBytes) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  munmap(mem, kBytes);
  volatile uint64_t keep = 0;  // the sums must not be optimised away
  for (uint64_t x : sums) keep = keep + x;
  return best;
}

void run_bench(const BenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  auto model = Model::load(resolve_model(o.model));
  ContextParams cp;
  // The cache is handed out in blocks of 16 cells per sequence (kv_cache.h).
  cp.n_ctx = std::max({o.n_prompt + o.n_gen, o.sequences * ((o.n_gen + 15) / 16 * 16), 16});
  cp.n_batch = std::max(o.n_prompt, o.sequences);
  cp.n_threads = o.threads;
  cp.device = o.device;
  cp.n_gpu_layers = o.n_gpu_layers;
  cp.kv_type = parse_kv_type(o.kv_type);
  Context ctx(*model, cp);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<Token> tok(0, model->hparams().n_vocab - 1);

  double pp_s = 0, tg_s = 0;
  // Every repetition starts from an empty cache: the --sequences runs leave blocks in all of them.
  auto clear_all = [&] {
    for (int32_t q = 0; q < o.sequences; ++q) ctx.truncate(q, 0);
  };
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
      clear_all();
      const auto t0 = Clock::now();
      ctx.decode(p);
      pp_s += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    if (o.n_gen > 0 && o.sequences == 1) {
      clear_all();
      Token t = tok(rng);
      const auto t0 = Clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        ctx.decode(std::span<const Token>(&t, 1));
        t = tok(rng);
      }
      tg_s += std::chrono::duration<double>(Clock::now() - t0).count();
    } else if (o.n_gen > 0) {
      // Every step: position i of each sequence, its logits kept (as a server samples each).
      clear_all();
      std::vector<BatchToken> step(size_t(o.sequences));
      const auto t0 = Clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        for (int32_t q = 0; q < o.sequences; ++q) step[size_t(q)] = BatchToken{tok(rng), i, q, true};
        ctx.decode(std::span<const BatchToken>(step));
      }
      tg_s += std::chrono::duration<double>(Clock::now() - t0).count();
    }
  }
  const double pp = pp_s > 0 ? double(o.n_prompt) * o.reps / pp_s : 0.0;
  const double tg = tg_s > 0 ? double(o.n_gen) * o.sequences * o.reps / tg_s : 0.0;
  const uint64_t peak_rss = peak_rss_bytes();  // before the probe's 1 GiB
  // Bytes a generated token reads: every weight once, except the token embedding table, of
  // which one row is read (unless it is also the output matrix).
  const Matrix& emb = model->tok_embd();
  const uint64_t emb_bytes = emb.info ? emb.info->nbytes : 0;
  const uint64_t per_token = model->weight_bytes() - (model->output_tied() ? 0 : emb_bytes);
  const double bw = o.membw && ctx.device().is_cpu() ? read_bandwidth(ctx.n_threads()) : 0.0;
  const double fraction = bw > 0 ? tg * double(per_token) / bw : 0.0;
  if (o.json) {
    nlohmann::json j;
    j["model"] = model->name();
    j["threads"] = ctx.n_threads();
    j["device"] = ctx.device().describe();
    j["kv_type"] = o.kv_type;
    j["n_prompt"] = o.n_prompt;
    j["n_gen"] = o.n_gen;
    j["pp_tokens_per_s"] = pp;
    j["tg_tokens_per_s"] = tg;
    j["sequences"] = o.sequences;
    if (tg > 0) j["tg_step_ms"] = 1e3 * o.sequences / tg;
    j["peak_rss_bytes"] = peak_rss;
    j["weight_bytes"] = model->weight_bytes();
    j["tg_bytes_per_token"] = per_token;
    if (bw > 0) {
      j["read_bandwidth_bytes_per_s"] = bw;
      j["tg_bandwidth_fraction"] = fraction;
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model %s, %.1f M params, %.1f MiB weights, %s\n", model->name().c_str(),
                double(model->n_params()) / 1e6, double(model->weight_bytes()) / 1048576.0, ctx.device().describe().c_str());
    std::printf("pp%-5d %10.2f tokens/s\n", o.n_prompt, pp);
    if (o.sequences == 1) std::printf("tg%-5d %10.2f tokens/s\n", o.n_gen, tg);
    else
      std::printf("tg%-5d %10.2f tokens/s, %d sequences side by side (%.2f ms a step)\n", o.n_gen, tg, o.sequences,
                  tg > 0 ? 1e3 * o.sequences / tg : 0.0);
    std::printf("peak RSS %.1f MiB\n", double(peak_rss) / 1048576.0);
    if (bw > 0)
      std::printf("memory read bandwidth %.1f GB/s with %d threads; tg reads %.1f MiB per token: %.1f GB/s, %.0f%% of it\n",
                  bw / 1e9, ctx.n_threads(), double(per_token) / 1048576.0, tg * double(per_token) / 1e9,
                  100.0 * fraction);
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
  o->kv_type_opt = add_kv_type_option(c, o->kv_type, "");
  c->add_option("-r,--repetitions", o->reps, "Repetitions (figures are the mean)")->capture_default_str()->check(CLI::PositiveNumber);
  auto* seq_opt = c->add_option("--sequences", o->sequences,
                                 "Generate N sequences side by side, one token of each per forward pass (a batching "
                                 "server's steps): tg is then their aggregate tokens/s")
                      ->capture_default_str()
                      ->check(CLI::Range(1, 256));
  c->add_flag("--json", o->json, "One JSON object: pp_tokens_per_s, tg_tokens_per_s, peak_rss_bytes ...");
  c->add_flag("--membw", o->membw,
              "Also measure this machine's memory read bandwidth at the same thread count (1 GiB streaming sum, "
              "after the run) and the share tg reaches (tg_bandwidth_fraction); CPU device only");
  c->add_option("--nn-rpc-uri", o->uri, "Measure through a server (unix:///path.sock or HOST:PORT); -m is then the model name");
  c->add_option("--auth-token-file", o->auth_token_file, "With --nn-rpc-uri: file holding the server's bearer token");
  c->add_flag("--wasmedge-protocol", o->wasmedge_protocol,
              "With --nn-rpc-uri: WASI-NN calls only, as a WasmEdge client (tokens via compute_single round trips)");
  o->connect_timeout_opt = add_connect_timeout_option(c, o->connect_timeout_s);
  c->callback([o, seq_opt] {
    if (o->uri.empty()) {
      // A flag that would silently do nothing is refused.
      if (o->connect_timeout_opt->count()) throw CLI::ValidationError("--connect-timeout", "needs --nn-rpc-uri");
      // One step reads the weights once for all N tokens: a share of bandwidth per token would mislead.
      if (o->membw && o->sequences > 1) throw CLI::ValidationError("--membw", "measures one sequence: not with --sequences > 1");
      return run_bench(*o);
    }
    // The server chooses its device (serve --device); a local choice here would do nothing.
    if (o->device_opt->count()) throw CLI::ValidationError("--device", "is the server's choice with --nn-rpc-uri (serve --device)");
    if (o->membw) throw CLI::ValidationError("--membw", "measures this machine: not with --nn-rpc-uri");
    if (seq_opt->count())
      throw CLI::ValidationError("--sequences", "is local only: against a server, bench/serve-load runs concurrent clients");
    if (o->kv_type_opt->count()) throw CLI::ValidationError("--kv-type", "is the server's choice with --nn-rpc-uri (serve --kv-type)");
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

// Remote bench. Method (every figure is taken at the client, so it includes the transport):
// - prompt: a text of common English words calibrated, with set_input + get_output(1)
//   metadata calls, to tokenize into n_prompt tokens (BOS included) on the server's model;
// - pp_tokens_per_s: input tokens / time from sending a Generate (n-predict 1) to receiving
//   its first piece (prompt evaluation + one sampled token + the round trip);
// - tg_tokens_per_s: intervals between consecutive pieces of a Generate stream (n-predict
//   n_gen, temp 1 with a fixed seed so runs differ, repeated if the model ends early) / their
//   total time: the rate at which tokens reach the client;
// - stream_overhead_mean_us: mean inter-piece gap minus the server's own mean per-token time
//   (its generation_seconds / tokens): what streaming adds per token. The server reports only
//   a total, so no median of the difference can be formed (a median gap minus a mean time is
//   biased negative on a loaded host); stream_gap_p50_us is the median gap itself;
// - call_p50_us / call_p99_us: n_calls GetOutput(1) metadata calls on one context, each
//   timed alone: a WASI-NN unary round trip with no compute.
// Unlike the local bench, tokens are sampled (not random ids), so a model may stop early at
// an end-of-generation token; the tokens actually measured are reported.
#include "cli/bench_remote.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <vector>

#include "cli/client_flags.h"
#include "rpc/client.h"
#include "rpc/common.h"

namespace nnb::cli {
namespace {

using Clock = std::chrono::steady_clock;

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
  return v[i];
}

std::string words(size_t n) {
  static const char* const kWords[] = {"the", "girl", "saw", "a", "big", "red", "ball", "in", "park", "and",
                                       "she", "was", "very", "happy", "with", "her", "friend", "dog", "they",
                                       "went", "home", "to", "play", "one", "day", "little", "boy", "found"};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[pick(rng)];
  }
  return s;
}

nn::TensorView text_view(const std::string& s, const uint32_t& one) {
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&one, 1);
  t.type = 3;  // U8 (wasmedge-wasi-nn numbering), ignored by GGML
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

uint32_t input_tokens(nn::ExecutionContext& ctx) {
  const auto m = ctx.get_output(1);
  const auto j = nlohmann::json::parse(std::string(m.begin(), m.end()));
  return j.at("input_tokens").get<uint32_t>();
}

}  // namespace

void run_remote_bench(const RemoteBenchOptions& o) {
  if (o.n_prompt < 2) throw std::runtime_error("remote bench needs -p of at least 2 tokens");
  if (o.n_gen < 2) throw std::runtime_error("remote bench needs -n of at least 2 tokens");
  rpc::ClientOptions co;
  co.uri = o.uri;
  if (!o.auth_token_file.empty()) co.auth_token = rpc::read_token_file(o.auth_token_file);
  co.wasmedge_only = o.wasmedge_protocol;
  co.connect_timeout = connect_timeout_of(o.connect_timeout_s);
  rpc::RemoteBackend backend(co);
  const int64_t ctx_size = int64_t(o.n_prompt) + o.n_gen + 64;
  auto graph = backend.load_by_name(o.model, nlohmann::json{{"ctx-size", ctx_size}}.dump());
  auto ctx = graph->init_execution_context();
  const uint32_t one = 1;

  // Calibrate the prompt (also pages the model in: the server loads lazily).
  size_t n_words = size_t(o.n_prompt);
  std::string prompt;
  uint32_t got = 0;
  for (int i = 0; i < 8; ++i) {
    prompt = words(n_words);
    ctx->set_input(0, text_view(prompt, one));
    got = input_tokens(*ctx);
    if (int64_t(got) == o.n_prompt) break;
    const double per_word = double(got) / double(n_words);
    const int64_t step = std::llround(double(o.n_prompt - int64_t(got)) / std::max(per_word, 0.1));
    n_words = size_t(std::max<int64_t>(1, int64_t(n_words) + (step != 0 ? step : (int64_t(got) < o.n_prompt ? 1 : -1))));
  }

  // Unary call latency.
  std::vector<double> calls;
  for (int i = 0; i < 10; ++i) ctx->get_output(1);
  for (int i = 0; i < o.n_calls; ++i) {
    const auto t0 = Clock::now();
    ctx->get_output(1);
    calls.push_back(us_between(t0, Clock::now()));
  }
  ctx.reset();

  // Warm-up generation: weights paged in, server threads started.
  backend.generate(graph, "once upon a time", nlohmann::json{{"n-predict", 4}, {"temp", 0}}.dump(),
                   [](std::string_view) { return true; });

  double pp_s = 0, server_pp_s = 0;
  uint64_t pp_tokens = 0;
  bool native = false;
  for (int r = 0; r < o.reps; ++r) {
    const nlohmann::json opts{{"n-predict", 1}, {"temp", 0}, {"ctx-size", ctx_size}, {"batch-size", std::max(o.n_prompt, 1)}};
    const auto t0 = Clock::now();
    Clock::time_point first{};
    const auto res = backend.generate(graph, prompt, opts.dump(), [&](std::string_view) {
      if (first == Clock::time_point{}) first = Clock::now();
      return true;
    });
    if (first == Clock::time_point{}) first = Clock::now();  // ended before any piece (EOS first)
    pp_s += us_between(t0, first) / 1e6;
    server_pp_s += res.prompt_seconds;
    pp_tokens += res.input_tokens;
    native = res.native;
  }

  std::vector<double> gaps;
  double tg_total_s = 0, server_tok_s = 0;
  uint64_t server_toks = 0;
  const size_t want = size_t(o.n_gen - 1) * size_t(o.reps);
  for (int attempt = 0; attempt < 5 * o.reps && gaps.size() < want; ++attempt) {
    const nlohmann::json opts{{"n-predict", o.n_gen}, {"temp", 1.0}, {"seed", 1000 + attempt}, {"ctx-size", ctx_size}};
    Clock::time_point last{};
    const auto res = backend.generate(graph, "once upon a time", opts.dump(), [&](std::string_view) {
      const auto now = Clock::now();
      if (last != Clock::time_point{}) {
        gaps.push_back(us_between(last, now));
        tg_total_s += us_between(last, now) / 1e6;
      }
      last = now;
      return true;
    });
    if (res.output_tokens > 1 && res.stop_reason != "cancelled") {
      server_tok_s += res.generation_seconds;
      server_toks += res.output_tokens - 1;  // the first token only samples the prompt's logits
    }
  }

  const double pp = pp_s > 0 ? double(pp_tokens) / pp_s : 0.0;
  const double tg = tg_total_s > 0 ? double(gaps.size()) / tg_total_s : 0.0;
  const double gap_p50 = percentile(gaps, 0.5);
  const double server_token_us = server_toks > 0 ? server_tok_s * 1e6 / double(server_toks) : 0.0;
  nlohmann::json j;
  j["mode"] = "remote";
  j["uri"] = backend.endpoint().to_string();
  j["model"] = o.model;
  j["n_prompt"] = pp_tokens / uint64_t(o.reps);
  j["n_gen"] = o.n_gen;
  j["tg_intervals"] = gaps.size();  // inter-piece gaps measured, over all runs
  j["pp_tokens_per_s"] = pp;
  j["tg_tokens_per_s"] = tg;
  j["server_pp_tokens_per_s"] = server_pp_s > 0 ? double(pp_tokens) / server_pp_s : 0.0;
  j["call_p50_us"] = percentile(calls, 0.5);
  j["call_p99_us"] = percentile(calls, 0.99);
  j["stream_gap_p50_us"] = gap_p50;
  j["native_stream"] = native;
  if (native && server_token_us > 0) {
    j["server_token_us"] = server_token_us;
    j["stream_overhead_mean_us"] = tg_total_s * 1e6 / double(std::max<size_t>(gaps.size(), 1)) - server_token_us;
  }
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model %s at %s (%s)\n", o.model.c_str(), j["uri"].get<std::string>().c_str(),
              native ? "nnbridge stream" : "WASI-NN compute_single loop");
  std::printf("pp%-5u %10.2f tokens/s (server-side %.2f)\n", unsigned(j["n_prompt"].get<uint64_t>()), pp,
              j["server_pp_tokens_per_s"].get<double>());
  std::printf("tg%-5d %10.2f tokens/s (%zu intervals)\n", o.n_gen, tg, gaps.size());
  std::printf("unary call p50 %.1f us, p99 %.1f us (%d x GetOutput(1))\n", percentile(calls, 0.5),
              percentile(calls, 0.99), o.n_calls);
  if (j.contains("stream_overhead_mean_us"))
    std::printf("stream overhead %.1f us per token (mean gap - server's %.1f us; gap p50 %.1f us)\n",
                j["stream_overhead_mean_us"].get<double>(), server_token_us, gap_p50);
}

}  // namespace nnb::cli

// nnbridge bench --nn-rpc-uri: the bench figures measured through a server (see
// bench_remote.cpp for the method), plus the latency of WasmEdge's unary calls.
#pragma once

#include <cstdint>
#include <string>

namespace nnb::cli {

struct RemoteBenchOptions {
  std::string uri, model = "default", auth_token_file;
  int32_t n_prompt = 512, n_gen = 128, reps = 1;
  int32_t n_calls = 200;  // unary calls timed for call_p50_us / call_p99_us
  double connect_timeout_s = 5;  // --connect-timeout
  bool json = false;
  bool wasmedge_protocol = false;  // WASI-NN calls only: tg through the compute_single loop
};

void run_remote_bench(const RemoteBenchOptions& o);

}  // namespace nnb::cli

// The guest side of WASI-NN: the eleven imports of module `wasi_ephemeral_nn` (COMPAT §1)
// as HostFunctions over any nn::Backend (the local GGML engine or the RPC client). This layer
// owns only the guest ABI: it bounds-checks every pointer against guest memory, decodes the
// builder array and the 20-byte tensor struct, keeps the guest's u32 handles, and turns
// failures into errno results. Model semantics live in the backend.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nn/backend.h"
#include "nn/handle_table.h"
#include "wasm/runtime.h"

namespace nnb::wasm {

// Per-instance state of the bindings. One WasiNnHost serves one guest instance; it must outlive
// the HostFunctions made from it.
struct WasiNnHost {
  explicit WasiNnHost(std::shared_ptr<nn::Backend> backend);

  std::shared_ptr<nn::Backend> backend;
  // The guest sees only these u32 handles (never 0, drawn at random, freed on unload).
  nn::HandleTable<nn::Graph> graphs;
  nn::HandleTable<nn::ExecutionContext> contexts;
  // Where failed calls are reported, one line each: "nnbridge: wasi-nn <fn> failed: errno=N
  // (<name>): <message>" (the app usually only sees the number). Default: stderr. Not
  // reported: EndOfSequence (the normal end of a stream) and TooLarge from get_output (the
  // ABI's way of asking for a bigger buffer, returned with the size). A line repeated is
  // reported the 1st, 10th, 100th... time, with its count.
  std::function<void(std::string_view line)> log;
  // Set on every execution context the guest creates (nn::ExecutionContext::set_abort_check):
  // the run's deadline. Failures while it returns true are not reported; the runtime reports
  // the deadline itself.
  std::function<bool()> abort_check;
  // How often each distinct line was reported (bounded: see wasi_nn.cpp).
  std::map<std::string, uint64_t> reported;
};

// All eleven imports of `wasi_ephemeral_nn`: load, load_by_name, load_by_name_with_config,
// init_execution_context, set_input, compute, get_output, compute_single, get_output_single,
// fini_single, unload. Every parameter is i32 and every result an i32 errno.
std::vector<HostFunction> wasi_nn_functions(WasiNnHost& host);

}  // namespace nnb::wasm

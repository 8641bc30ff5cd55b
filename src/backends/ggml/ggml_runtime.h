// What every graph and context of one GgmlBackend shares: where stream-stdout text and log
// lines go, the default thread count, and the build identity reported in output metadata.
// Kept apart from the backend so that graphs and contexts depend on it, not on the backend.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace nnb::ggml {

enum class LogLevel {
  Note,   // always emitted: accepted-but-ignored options, fallbacks (e.g. no GPU)
  Info,   // emitted when the context's enable-log is set (timings, stop reason)
  Debug,  // emitted when enable-debug-log is set (options, prompt tokens)
};
std::string_view log_level_name(LogLevel l);

// WasmEdge reports the llama.cpp build it links. nnbridge's engine is not llama.cpp; it reports
// the llama.cpp commit whose outputs its golden tests reproduce (see fixtures/README.md) and
// build number 0, so that no one mistakes it for a real llama.cpp build.
inline constexpr int64_t kLlamaBuildNumber = 0;
inline constexpr std::string_view kLlamaCommit = "c392e509";

struct GgmlBackendOptions {
  // Threads per execution context when its options do not set "threads" (0: one per core,
  // nnbridge's default instead of WasmEdge's 4).
  int32_t default_threads = 0;
  // The device every execution context computes on: auto | cpu | vulkan | vulkan:N
  // (engine/runtime/devices.h). The host chooses it for all its guests (`serve --device`); the
  // per-request GPU keys of COMPAT §4 (n-gpu-layers, main-gpu) are logged, not honoured.
  std::string device = "cpu";
  // Layers on that device when it is a GPU, the rest on the CPU (`--n-gpu-layers`; < 0: all).
  // A context's n-gpu-layers > 0 overrides it; 0, what WasmEdge's apps send by default, leaves
  // the host's choice.
  int32_t n_gpu_layers = -1;
  // Receives each generated piece when a context has stream-stdout set. Empty: fwrite to
  // stdout and fflush (what WasmEdge does).
  std::function<void(std::string_view)> stdout_sink;
  // Receives log lines. Empty: "[nnbridge ggml LEVEL] line" on stderr.
  std::function<void(LogLevel, std::string_view)> logger;
  // Options (COMPAT §4 metadata JSON) every graph starts from, beneath its loader's config and
  // each context's set_input(1): nnbridge's `--nn-options`, e.g. {"temp":0} for reproducible
  // runs of apps that do not choose their sampling. Empty: WasmEdge's defaults.
  std::string default_options_json;
  int64_t llama_build_number = kLlamaBuildNumber;
  std::string llama_commit = std::string(kLlamaCommit);
};

// Fills an empty sink / logger with the defaults above.
GgmlBackendOptions with_defaults(GgmlBackendOptions o);

}  // namespace nnb::ggml

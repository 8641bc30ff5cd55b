// What every graph and context of one GgmlBackend shares: where stream-stdout text and log
// lines go, the default thread count, and the build identity reported in output metadata.
// Kept apart from the backend so that graphs and contexts depend on it, not on the backend.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/runtime/context.h"  // KvType

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

class BatcherRegistry;  // ggml_batching.h
std::shared_ptr<BatcherRegistry> make_batcher_registry();
// Batching's KV budget per slot when batch_kv_cells is 0: the HTTP API's default context.
inline constexpr int32_t kDefaultCellsPerSlot = 4096;

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
  // KV cache element type of every context (ContextParams::kv_type; f16 on the CPU device only).
  KvType kv_type = KvType::F32;
  // Receives each generated piece when a context has stream-stdout set. Empty: fwrite to
  // stdout and fflush (what WasmEdge does).
  std::function<void(std::string_view)> stdout_sink;
  // Receives log lines. Empty: "[nnbridge ggml LEVEL] line" on stderr.
  std::function<void(LogLevel, std::string_view)> logger;
  // Options (COMPAT §4 metadata JSON) every graph starts from, beneath its loader's config and
  // each context's set_input(1): nnbridge's `--nn-options`, e.g. {"temp":0} for reproducible
  // runs of apps that do not choose their sampling. Empty: WasmEdge's defaults.
  std::string default_options_json;
  // Continuous batching (engine/runtime/batcher.h; `serve --batch-parallel`). > 0: contexts of
  // one model, device and thread count generate on slots of one shared engine context, each
  // step one forward pass for all of them (every weight read once per step, not once per
  // client), at most batch_parallel slots. A context holds a slot (and its ctx-size worth of
  // KV cells) from its first generation until it is dropped or changes ctx-size; while it is
  // not generating the slot may be reclaimed for another context (its cache-prompt cache is
  // then lost). When the contexts generating at once leave no slot or cells, or a ctx-size
  // exceeds the whole budget, a context is refused with Busy (InvalidArgument) naming the
  // limit, or with batch_overflow_alone computes alone on its own engine context as without
  // batching. Embeddings still run on a private context.
  // 0 (the default): every context computes alone on its own engine context.
  int32_t batch_parallel = 0;
  int32_t batch_kv_cells = 0;       // KV cells all slots share; 0: batch_parallel * kDefaultCellsPerSlot
  int32_t batch_prompt_chunk = 16;  // most prompt tokens of one context per step (BatcherParams)
  int32_t batch_wait_us = 1000;     // how long a step waits for generating contexts to resubmit
  bool batch_overflow_alone = false;
  std::shared_ptr<BatcherRegistry> batchers;  // made by with_defaults when batching is on
  int64_t llama_build_number = kLlamaBuildNumber;
  std::string llama_commit = std::string(kLlamaCommit);
};

// Fills an empty sink / logger with the defaults above, and the batcher registry.
GgmlBackendOptions with_defaults(GgmlBackendOptions o);

}  // namespace nnb::ggml

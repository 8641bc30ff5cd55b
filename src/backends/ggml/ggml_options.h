// The GGML backend's options: the metadata JSON keys of COMPAT §4 (set_input index 1, and the
// config of load_by_name_with_config), with WasmEdge's defaults. A graph holds one set as its
// defaults; each execution context copies them and overlays its own set_input(1) JSON, so an
// option never leaks from one context (or one caller's graph) into another.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/gbnf.h"
#include "engine/runtime/sampler.h"

namespace nnb::ggml {

// A sampling default of the engine (a default-constructed SamplerParams) as an option's double.
// SamplerParams holds floats; the value is given as the double with the float's shortest decimal
// form (0.8f -> 0.8, not 0.800000011920929), so that options_to_json shows it as written, and
// float() of it is the engine's value again.
double sampler_default(float SamplerParams::*field);

struct GgmlOptions {
  // Not a metadata key: the device the graph's contexts compute on, chosen at load from the
  // guest's execution target and the host's --device (GgmlBackend::device_for).
  std::string device = "cpu";
  bool enable_log = false;
  bool enable_debug_log = false;
  bool stream_stdout = false;
  bool embedding = false;  // accepted; compute then answers UnsupportedOperation
  int64_t n_predict = 512;  // < 0: until end of generation or context full
  std::string reverse_prompt;
  int64_t ctx_size = 512;  // 0: the model's training context
  int64_t batch_size = 2048;
  int64_t ubatch_size = 0;  // 0: = batch_size
  int64_t threads = 0;      // <= 0: the backend's default (host cores)
  // Sampling: the engine's defaults (engine/runtime/sampler.h, llama.cpp's common defaults),
  // written there only. For the keys COMPAT §4 lists they are WasmEdge's defaults too (temp
  // 0.8, top-p 0.95, repeat-penalty 1.0, presence-penalty and frequency-penalty 0.0); a
  // change there that breaks that fails GgmlOptionsDefaults in tests/backend_ggml_test.cpp.
  double temp = sampler_default(&SamplerParams::temp);  // <= 0: greedy
  double top_p = sampler_default(&SamplerParams::top_p);
  double repeat_penalty = sampler_default(&SamplerParams::repeat_penalty);
  double presence_penalty = sampler_default(&SamplerParams::presence_penalty);
  double frequency_penalty = sampler_default(&SamplerParams::frequency_penalty);
  // nnbridge extras, not WasmEdge keys.
  int64_t top_k = SamplerParams{}.top_k;
  double min_p = sampler_default(&SamplerParams::min_p);
  // The one sampling default written here: -1, where the engine has 0xFFFFFFFF
  // (Sampler::kRandomSeed). Both mean "draw a random seed" (ggml_context.cpp maps < 0 to
  // kRandomSeed); -1 is what JSON callers and options_to_json have always used.
  int64_t seed = -1;  // < 0 or 0xFFFFFFFF: random
  // Keep the KV cache of the context's previous prompt and answer, and evaluate only the part
  // of a new prompt after their common beginning (the next turn of a chat). Off by default:
  // a prefix evaluated in other batches than a fresh prompt's may round differently, and
  // WasmEdge's apps expect each prompt to run exactly as from an empty context.
  bool cache_prompt = false;
  // Accepted, not honoured on this CPU-only engine (a note is logged when set).
  int64_t n_gpu_layers = 0;
  int64_t main_gpu = 0;
  std::string tensor_split;
  bool use_mmap = true;
  // grammar (GBNF) or json-schema: every generated token keeps the text inside the grammar.
  // At most one of the two is set; apply_options_json compiles it into `constraint` (null when
  // neither is), so a malformed one is refused when it is sent, not when generation starts.
  std::string grammar, json_schema, mmproj, image;
  std::shared_ptr<const grammar::Grammar> constraint;
};

// Upper bound for ctx-size: refuses absurd values before they become a multi-GB allocation.
inline constexpr int64_t kMaxCtxSize = int64_t(1) << 20;

// Overlays the keys present in `json` onto `opts`. Empty text (or only whitespace / NULs)
// changes nothing. Throws nn::Error: InvalidEncoding when the text is not a JSON object,
// InvalidArgument when a known key has the wrong type or an out-of-range value (naming the
// key; a malformed grammar or json-schema, with the position, or both set at once); on error
// `opts` is unchanged. Unknown keys are ignored. Returns a note for each
// accepted option that is not honoured (e.g. n-gpu-layers without a GPU).
std::vector<std::string> apply_options_json(GgmlOptions& opts, std::string_view json);

// The options as JSON with COMPAT's key names (for debug logs).
std::string options_to_json(const GgmlOptions& opts);

}  // namespace nnb::ggml

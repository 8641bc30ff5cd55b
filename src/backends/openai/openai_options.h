// The GGML backend's options (COMPAT §4 metadata JSON: set_input(1), load_by_name_with_config,
// --nn-options) as an OpenAI-compatible upstream can honour them: sampling and stopping keys
// become fields of POST /completions; keys about the engine itself (ctx-size, threads,
// n-gpu-layers, batch sizes, mmap) are the upstream's business and are accepted and ignored;
// features no completions endpoint offers portably (grammar, json-schema, images, embeddings)
// are refused with UnsupportedOperation naming the key, since text produced without them
// would look like an answer and not be one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::openai {

struct CompletionOptions {
  int64_t n_predict = 512;  // WasmEdge's default; < 0: no max_tokens (until the upstream stops)
  std::string reverse_prompt;
  double temp = 0.8;        // WasmEdge's defaults for the sampling keys
  double top_p = 0.95;
  double presence_penalty = 0;
  double frequency_penalty = 0;
  double repeat_penalty = 1.0;  // sent (as llama-server's / vLLM's field) only when not 1
  int64_t seed = -1;            // < 0 or 0xFFFFFFFF: the upstream's own
  std::optional<int64_t> top_k;  // sent only when the app set them: not OpenAI fields, and
  std::optional<double> min_p;   // the upstream's defaults are its own business
  bool enable_log = false;
};

// Overlays the keys present in `json` (empty or whitespace: no change), all or nothing.
// Throws nn::Error as the GGML backend does: InvalidEncoding for text that is not a JSON
// object, InvalidArgument for a known key of the wrong type, UnsupportedOperation for a
// non-empty grammar / json-schema / mmproj / image or embedding: true. Unknown keys are
// ignored (apps send private keys). Returns notes on accepted keys that are not honoured.
std::vector<std::string> apply_options_json(CompletionOptions& opts, std::string_view json);

// The body of POST {base}/completions for `prompt` (sent raw: WasmEdge apps render their own
// templates), streamed, asking for the usage chunk at the end.
std::string completion_request_body(const CompletionOptions& opts, const std::string& model_id,
                                    const std::string& prompt);

}  // namespace nnb::openai

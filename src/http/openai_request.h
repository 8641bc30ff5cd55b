// The OpenAI request bodies nnbridge accepts (POST /v1/chat/completions and /v1/completions),
// parsed and checked in one place. What a request may say and nnbridge cannot do is refused by
// name (ApiError 400), never accepted and ignored: several choices (n > 1), tools, logprobs,
// logit_bias, JSON response formats, image content, echo, suffix, best_of.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nnb::http {

// An error as the API answers it: HTTP status plus OpenAI's error object fields.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, std::string message, std::string param = {}, std::string code = {})
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type;   // invalid_request_error, authentication_error, not_found_error, server_error ...
  std::string param;  // the request field at fault, "" when none
  std::string code;   // e.g. model_not_found, context_length_exceeded; "" when none
  // {"error": {"message", "type", "param", "code"}} (null param / code when empty).
  nlohmann::json body() const;
};

ApiError bad_request(const std::string& message, const std::string& param = {});

struct CompletionRequest {
  bool chat = false;
  std::string model;                  // "" : the server's default model
  nlohmann::json messages;            // chat: [{role, content}] with content flattened to text
  std::string prompt;                 // completions
  std::optional<int64_t> max_tokens;  // absent: until end of generation or a full context
  double temperature = 1.0;           // OpenAI's defaults
  double top_p = 1.0;
  std::optional<int64_t> top_k;       // extensions llama-server users send
  std::optional<double> min_p, repeat_penalty;
  double presence_penalty = 0, frequency_penalty = 0;
  std::optional<int64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  // Constrained output: response_format json_object / json_schema (its "schema"), or
  // llama-server's "grammar" (GBNF); at most one. Empty: none.
  std::string json_schema, grammar;
};

// Parses a body; throws ApiError(400) naming the first field at fault.
CompletionRequest parse_completion_request(const std::string& body, bool chat);

// The GGML options JSON (COMPAT §4 keys) for a request; ctx_size is the context to run in.
std::string ggml_options(const CompletionRequest& req, int64_t ctx_size);

// POST /v1/embeddings: one text or several (token arrays are refused), as floats or base64.
struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;
  bool base64 = false;  // encoding_format "base64": little-endian float32 bytes, base64-encoded
};
EmbeddingRequest parse_embedding_request(const std::string& body);

}  // namespace nnb::http

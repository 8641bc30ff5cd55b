#include "backends/openai/openai_options.h"

#include <nlohmann/json.hpp>

#include "nn/options_json.h"
#include "nn/types.h"

namespace nnb::openai {
namespace {

using nlohmann::json;
using nn::Errno;
using nn::Error;

using Kind = nn::OptionKind;

// Every key COMPAT §4 lists (and nnbridge's own), with its type: a known key of the wrong
// type is refused even when this backend ignores it, as the GGML backend would refuse it.
constexpr std::pair<std::string_view, Kind> kKeys[] = {
    {"enable-log", Kind::Bool},       {"enable-debug-log", Kind::Bool}, {"stream-stdout", Kind::Bool},
    {"embedding", Kind::Bool},        {"n-predict", Kind::Int},         {"reverse-prompt", Kind::String},
    {"ctx-size", Kind::Int},          {"batch-size", Kind::Int},        {"ubatch-size", Kind::Int},
    {"threads", Kind::Int},           {"temp", Kind::Float},            {"top-p", Kind::Float},
    {"repeat-penalty", Kind::Float},  {"presence-penalty", Kind::Float}, {"frequency-penalty", Kind::Float},
    {"top-k", Kind::Int},             {"min-p", Kind::Float},           {"seed", Kind::Int},
    {"cache-prompt", Kind::Bool},     {"n-gpu-layers", Kind::Int},      {"main-gpu", Kind::Int},
    {"tensor-split", Kind::String},   {"use-mmap", Kind::Bool},         {"grammar", Kind::String},
    {"json-schema", Kind::String},    {"mmproj", Kind::String},         {"image", Kind::String},
};

int64_t as_int(const json& v, std::string_view key) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
    throw Error(Errno::InvalidArgument, "metadata: \"" + std::string(key) + "\" is out of range");
  return v.get<int64_t>();
}

}  // namespace

std::vector<std::string> apply_options_json(CompletionOptions& opts, std::string_view text) {
  const json obj = nn::parse_options_object(text);
  if (obj.is_null()) return {};

  for (const auto& [key, kind] : kKeys) nn::check_option_type(obj, key, kind);
  auto refuse = [](const char* key, const char* why) {
    throw Error(Errno::UnsupportedOperation,
                std::string("metadata: \"") + key + "\" is not supported through an OpenAI-compatible upstream: " + why);
  };
  for (const char* key : {"grammar", "json-schema"})
    if (obj.contains(key) && !obj[key].get<std::string>().empty())
      refuse(key, "the completions API has no portable constrained decoding");
  for (const char* key : {"mmproj", "image"})
    if (obj.contains(key) && !obj[key].get<std::string>().empty()) refuse(key, "multimodal input is not forwarded");
  if (obj.value("embedding", false)) refuse("embedding", "embeddings are not forwarded");

  CompletionOptions next = opts;
  if (obj.contains("n-predict")) next.n_predict = as_int(obj["n-predict"], "n-predict");
  if (obj.contains("reverse-prompt")) next.reverse_prompt = obj["reverse-prompt"].get<std::string>();
  if (obj.contains("temp")) next.temp = obj["temp"].get<double>();
  if (obj.contains("top-p")) next.top_p = obj["top-p"].get<double>();
  if (obj.contains("presence-penalty")) next.presence_penalty = obj["presence-penalty"].get<double>();
  if (obj.contains("frequency-penalty")) next.frequency_penalty = obj["frequency-penalty"].get<double>();
  if (obj.contains("repeat-penalty")) next.repeat_penalty = obj["repeat-penalty"].get<double>();
  if (obj.contains("seed")) next.seed = as_int(obj["seed"], "seed");
  if (obj.contains("top-k")) next.top_k = as_int(obj["top-k"], "top-k");
  if (obj.contains("min-p")) next.min_p = obj["min-p"].get<double>();
  if (obj.contains("enable-log")) next.enable_log = obj["enable-log"].get<bool>();
  if (next.temp < 0) next.temp = 0;  // GGML: <= 0 is greedy; OpenAI refuses negatives

  std::vector<std::string> notes;
  if (obj.contains("ctx-size"))
    notes.push_back("ctx-size ignored: an OpenAI-compatible upstream's context is its own configuration");
  if (obj.contains("n-gpu-layers") || obj.contains("main-gpu") || obj.contains("tensor-split"))
    notes.push_back("GPU options ignored: an OpenAI-compatible upstream places its model itself");
  opts = std::move(next);
  return notes;
}

std::string completion_request_body(const CompletionOptions& o, const std::string& model_id,
                                    const std::string& prompt) {
  json b = {{"model", model_id},
            {"prompt", prompt},
            {"stream", true},
            {"stream_options", {{"include_usage", true}}},
            {"temperature", o.temp},
            {"top_p", o.top_p}};
  if (o.n_predict >= 0) b["max_tokens"] = o.n_predict;
  if (!o.reverse_prompt.empty()) b["stop"] = json::array({o.reverse_prompt});
  if (o.presence_penalty != 0) b["presence_penalty"] = o.presence_penalty;
  if (o.frequency_penalty != 0) b["frequency_penalty"] = o.frequency_penalty;
  if (o.repeat_penalty != 1.0) b["repeat_penalty"] = o.repeat_penalty;
  if (o.seed >= 0 && o.seed != 0xFFFFFFFF) b["seed"] = o.seed;
  if (o.top_k) b["top_k"] = *o.top_k;
  if (o.min_p) b["min_p"] = *o.min_p;
  return b.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace nnb::openai

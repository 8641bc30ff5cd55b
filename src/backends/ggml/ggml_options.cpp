#include "backends/ggml/ggml_options.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "engine/grammar/json_schema.h"
#include "nn/options_json.h"
#include "nn/types.h"

namespace nnb::ggml {
namespace {

using nlohmann::json;
using nn::Errno;
using nn::Error;

using Kind = nn::OptionKind;

// One known key: its type, and where it goes in GgmlOptions (exactly one pointer is set).
struct Key {
  const char* name;
  Kind kind;
  bool GgmlOptions::*b = nullptr;
  int64_t GgmlOptions::*i = nullptr;
  double GgmlOptions::*f = nullptr;
  std::string GgmlOptions::*s = nullptr;
};

Key kb(const char* n, bool GgmlOptions::*m) { return {n, Kind::Bool, m}; }
Key ki(const char* n, int64_t GgmlOptions::*m) { return {n, Kind::Int, nullptr, m}; }
Key kf(const char* n, double GgmlOptions::*m) { return {n, Kind::Float, nullptr, nullptr, m}; }
Key ks(const char* n, std::string GgmlOptions::*m) { return {n, Kind::String, nullptr, nullptr, nullptr, m}; }

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      kb("enable-log", &GgmlOptions::enable_log),
      kb("enable-debug-log", &GgmlOptions::enable_debug_log),
      kb("stream-stdout", &GgmlOptions::stream_stdout),
      kb("embedding", &GgmlOptions::embedding),
      ki("n-predict", &GgmlOptions::n_predict),
      ks("reverse-prompt", &GgmlOptions::reverse_prompt),
      ki("ctx-size", &GgmlOptions::ctx_size),
      ki("batch-size", &GgmlOptions::batch_size),
      ki("ubatch-size", &GgmlOptions::ubatch_size),
      ki("threads", &GgmlOptions::threads),
      kf("temp", &GgmlOptions::temp),
      kf("top-p", &GgmlOptions::top_p),
      kf("repeat-penalty", &GgmlOptions::repeat_penalty),
      kf("presence-penalty", &GgmlOptions::presence_penalty),
      kf("frequency-penalty", &GgmlOptions::frequency_penalty),
      ki("top-k", &GgmlOptions::top_k),
      kf("min-p", &GgmlOptions::min_p),
      ki("seed", &GgmlOptions::seed),
      kb("cache-prompt", &GgmlOptions::cache_prompt),
      ki("n-gpu-layers", &GgmlOptions::n_gpu_layers),
      ki("main-gpu", &GgmlOptions::main_gpu),
      ks("tensor-split", &GgmlOptions::tensor_split),
      kb("use-mmap", &GgmlOptions::use_mmap),
      ks("grammar", &GgmlOptions::grammar),
      ks("json-schema", &GgmlOptions::json_schema),
      ks("mmproj", &GgmlOptions::mmproj),
      ks("image", &GgmlOptions::image),
  };
  return k;
}


void set(GgmlOptions& o, const Key& k, const json& v) {
  if (k.b) o.*k.b = v.get<bool>();
  if (k.i) {
    // Unsigned values beyond int64 are out of range for every integer option.
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
      throw Error(Errno::InvalidArgument, std::string("metadata: \"") + k.name + "\" is out of range");
    o.*k.i = v.get<int64_t>();
  }
  if (k.f) o.*k.f = v.get<double>();
  if (k.s) o.*k.s = v.get<std::string>();
}

void check_ranges(const GgmlOptions& o) {
  auto bad = [](const std::string& msg) { throw Error(Errno::InvalidArgument, "metadata: " + msg); };
  if (o.ctx_size < 0 || o.ctx_size > kMaxCtxSize)
    bad("\"ctx-size\" must be 0 (the model's) .. " + std::to_string(kMaxCtxSize) + ", got " + std::to_string(o.ctx_size));
  if (o.batch_size < 1 || o.batch_size > kMaxCtxSize)
    bad("\"batch-size\" must be 1 .. " + std::to_string(kMaxCtxSize) + ", got " + std::to_string(o.batch_size));
  if (o.ubatch_size < 0 || o.ubatch_size > kMaxCtxSize)
    bad("\"ubatch-size\" must be 1 .. " + std::to_string(kMaxCtxSize) + ", got " + std::to_string(o.ubatch_size));
  if (o.threads > 1024) bad("\"threads\" must be at most 1024, got " + std::to_string(o.threads));
}

// Notes for options this CPU engine accepts but cannot honour; only for keys in this JSON,
// so a graph's config does not repeat its notes on every context.
void add_notes(const json& obj, const GgmlOptions& o, std::vector<std::string>& notes) {
  // n-gpu-layers is honoured on a GPU host (a note comes when a context lands on the CPU).
  if (obj.contains("main-gpu") && o.main_gpu != 0)
    notes.push_back("main-gpu=" + std::to_string(o.main_gpu) + " ignored: the host chooses the GPU (serve --device)");
  if (obj.contains("tensor-split") && !o.tensor_split.empty())
    notes.push_back("tensor-split ignored: a context runs on one GPU (and the CPU for layers past n-gpu-layers)");
  if (obj.contains("use-mmap") && !o.use_mmap)
    notes.push_back("use-mmap=false ignored: models are always memory-mapped and shared between graphs");
}

// Compiles the grammar or the JSON schema into opts.constraint (InvalidArgument, naming the
// option and the position, when malformed; also when both are set, as llama.cpp refuses).
void compile_constraint(GgmlOptions& o) {
  o.constraint.reset();
  if (!o.grammar.empty() && !o.json_schema.empty())
    throw Error(Errno::InvalidArgument,
                "metadata: \"grammar\" and \"json-schema\" are both set: give one of them (or set the other to \"\")");
  const char* key = !o.grammar.empty() ? "grammar" : "json-schema";
  try {
    if (!o.grammar.empty())
      o.constraint = std::make_shared<const grammar::Grammar>(grammar::parse_gbnf(o.grammar));
    else if (!o.json_schema.empty())
      o.constraint = std::make_shared<const grammar::Grammar>(grammar::parse_gbnf(grammar::json_schema_to_gbnf(o.json_schema)));
  } catch (const grammar::GrammarError& e) {
    throw Error(Errno::InvalidArgument, std::string("metadata: \"") + key + "\": " + e.what());
  }
}

}  // namespace

double sampler_default(float SamplerParams::*field) {
  const float v = SamplerParams{}.*field;
  char buf[32];
  const auto written = std::to_chars(buf, buf + sizeof buf, v);  // the shortest form that reads back as v
  double d = v;
  if (written.ec != std::errc() || std::from_chars(buf, written.ptr, d).ec != std::errc() || float(d) != v) d = v;
  return d;
}

std::vector<std::string> apply_options_json(GgmlOptions& opts, std::string_view text) {
  const json obj = nn::parse_options_object(text);
  if (obj.is_null()) return {};

  GgmlOptions next = opts;  // all-or-nothing: a bad key leaves the options as they were
  for (const Key& k : keys()) {
    auto it = obj.find(k.name);
    if (it == obj.end()) continue;
    nn::check_option_type(obj, k.name, k.kind);
    set(next, k, *it);
  }
  check_ranges(next);
  // Compiled only when this JSON names them: a context's other options do not re-parse the
  // grammar it inherited.
  if (obj.contains("grammar") || obj.contains("json-schema")) compile_constraint(next);
  // Options whose feature is not implemented are refused, naming them: output that silently
  // ignored an image would look like an answer and not be one. (Empty values are the defaults
  // and mean "none".)
  auto refuse = [](const char* key, const char* why) {
    throw Error(Errno::UnsupportedOperation, std::string("metadata: \"") + key + "\" is not supported: " + why);
  };
  if (!next.mmproj.empty()) refuse("mmproj", "multimodal models are not supported");
  if (!next.image.empty()) refuse("image", "multimodal models are not supported");
  std::vector<std::string> notes;
  add_notes(obj, next, notes);
  opts = std::move(next);
  return notes;
}

std::string options_to_json(const GgmlOptions& o) {
  json j = json::object();
  for (const Key& k : keys()) {
    if (k.b) j[k.name] = o.*k.b;
    if (k.i) j[k.name] = o.*k.i;
    if (k.f) j[k.name] = o.*k.f;
    if (k.s) j[k.name] = o.*k.s;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace nnb::ggml

#include "http/openai_request.h"

#include <set>

namespace nnb::http {

using nlohmann::json;

json ApiError::body() const {
  return {{"error",
           {{"message", what()},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

ApiError bad_request(const std::string& message, const std::string& param) {
  return ApiError(400, "invalid_request_error", message, param);
}

namespace {

// The value of `key` when present and not null.
const json* field(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

double number_in(const json& o, const char* key, double lo, double hi, double dflt) {
  const json* v = field(o, key);
  if (!v) return dflt;
  if (!v->is_number()) throw bad_request(std::string("'") + key + "' must be a number", key);
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi))
    throw bad_request(std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump(), key);
  return d;
}

std::optional<int64_t> integer(const json& o, const char* key, int64_t lo, int64_t hi) {
  const json* v = field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw bad_request(std::string("'") + key + "' must be an integer", key);
  // Unsigned values beyond int64 arrive as number_unsigned: compare as double first.
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(hi))
    throw bad_request(std::string("'") + key + "' is out of range", key);
  const int64_t i = v->get<int64_t>();
  if (i < lo || i > hi) throw bad_request(std::string("'") + key + "' is out of range", key);
  return i;
}

bool boolean(const json& o, const char* key) {
  const json* v = field(o, key);
  if (!v) return false;
  if (!v->is_boolean()) throw bad_request(std::string("'") + key + "' must be a boolean", key);
  return v->get<bool>();
}

// message content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::string content_text(const json& c, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (c.is_null()) return "";
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) throw bad_request("'" + param + "' must be a string or an array of content parts", param);
  std::string text;
  for (const auto& part : c) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_request("each part of '" + param + "' must be an object with a 'type'", param);
    const std::string type = part["type"].get<std::string>();
    if (type != "text")
      throw bad_request("content part type '" + type + "' is not supported: this server takes text only", param);
    const json* t = field(part, "text");
    if (!t || !t->is_string()) throw bad_request("a text part of '" + param + "' needs a string 'text'", param);
    text += t->get<std::string>();
  }
  return text;
}

json parse_messages(const json& body) {
  const json* m = field(body, "messages");
  if (!m) throw bad_request("'messages' is required", "messages");
  if (!m->is_array() || m->empty()) throw bad_request("'messages' must be a non-empty array", "messages");
  static const std::set<std::string> roles = {"system", "developer", "user", "assistant", "tool"};
  json out = json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const json& msg = (*m)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) throw bad_request("'" + at + "' must be an object", at);
    const json* role = field(msg, "role");
    if (!role || !role->is_string()) throw bad_request("'" + at + ".role' is required", at + ".role");
    const std::string r = role->get<std::string>();
    if (!roles.count(r)) throw bad_request("'" + at + ".role' '" + r + "' is not one of system, developer, user, assistant, tool", at + ".role");
    if (field(msg, "tool_calls") || field(msg, "function_call"))
      throw bad_request("'" + at + "': tool calls are not supported by this server", at + ".tool_calls");
    if (!msg.contains("content") && r != "assistant") throw bad_request("'" + at + ".content' is required", at + ".content");
    json o = {{"role", r == "developer" ? "system" : r}, {"content", content_text(msg.value("content", json()), i)}};
    if (const json* name = field(msg, "name"); name && name->is_string()) o["name"] = *name;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& text, bool chat) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    throw bad_request(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw bad_request("the body must be a JSON object");

  // Every field this endpoint knows; anything else is refused by name rather than ignored.
  static const std::set<std::string> common = {
      "model", "max_tokens", "temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "n",
      "stream", "stream_options", "user", "logprobs", "logit_bias", "top_k", "min_p", "repeat_penalty", "grammar"};
  static const std::set<std::string> chat_only = {"messages", "max_completion_tokens", "top_logprobs", "tools",
                                                  "tool_choice", "parallel_tool_calls", "response_format",
                                                  "store", "metadata"};
  static const std::set<std::string> completion_only = {"prompt", "echo", "suffix", "best_of"};
  for (const auto& [k, v] : body.items()) {
    if (common.count(k) || (chat ? chat_only : completion_only).count(k)) continue;
    throw bad_request("unsupported field '" + k + "'", k);
  }

  CompletionRequest r;
  r.chat = chat;
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) throw bad_request("'model' must be a string", "model");
    r.model = m->get<std::string>();
  }
  if (chat) {
    r.messages = parse_messages(body);
  } else {
    const json* p = field(body, "prompt");
    if (!p) throw bad_request("'prompt' is required", "prompt");
    if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
    if (!p->is_string())
      throw bad_request("'prompt' must be a string (token arrays and several prompts are not supported)", "prompt");
    r.prompt = p->get<std::string>();
    if (boolean(body, "echo")) throw bad_request("'echo' is not supported", "echo");
    if (const json* s = field(body, "suffix"); s && !(s->is_string() && s->get<std::string>().empty()))
      throw bad_request("'suffix' (fill-in-the-middle) is not supported", "suffix");
    if (auto b = integer(body, "best_of", 1, 1 << 20); b && *b != 1)
      throw bad_request("'best_of' other than 1 is not supported", "best_of");
  }

  constexpr int64_t kMaxTokens = int64_t(1) << 30;
  r.max_tokens = integer(body, "max_tokens", 1, kMaxTokens);
  if (chat)
    if (auto mct = integer(body, "max_completion_tokens", 1, kMaxTokens)) r.max_tokens = mct;
  r.temperature = number_in(body, "temperature", 0, 2, 1.0);
  r.top_p = number_in(body, "top_p", 0, 1, 1.0);
  r.presence_penalty = number_in(body, "presence_penalty", -2, 2, 0);
  r.frequency_penalty = number_in(body, "frequency_penalty", -2, 2, 0);
  r.top_k = integer(body, "top_k", 0, 1 << 30);
  if (field(body, "min_p")) r.min_p = number_in(body, "min_p", 0, 1, 0);
  if (field(body, "repeat_penalty")) r.repeat_penalty = number_in(body, "repeat_penalty", 0, 10, 1);
  r.seed = integer(body, "seed", INT64_MIN, INT64_MAX);
  if (auto n = integer(body, "n", 1, 128); n && *n != 1)
    throw bad_request("'n' other than 1 is not supported: ask once per choice", "n");

  if (const json* s = field(body, "stop")) {
    if (s->is_string()) {
      r.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      if (s->size() > 4) throw bad_request("'stop' takes at most 4 sequences", "stop");
      for (const auto& x : *s) {
        if (!x.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      throw bad_request("'stop' must be a string or an array of strings", "stop");
    }
  }

  r.stream = boolean(body, "stream");
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    if (!r.stream) throw bad_request("'stream_options' is only allowed with 'stream': true", "stream_options");
    for (const auto& [k, v] : so->items())
      if (k != "include_usage") throw bad_request("unsupported field 'stream_options." + k + "'", "stream_options");
    r.include_usage = boolean(*so, "include_usage");
  }

  // Refused features: accepted only in their "off" form.
  if (const json* lp = field(body, "logprobs"); lp && !(lp->is_boolean() && !lp->get<bool>()))
    throw bad_request("'logprobs' is not supported", "logprobs");
  if (const json* tl = field(body, "top_logprobs"); tl && !(tl->is_number_integer() && tl->get<int64_t>() == 0))
    throw bad_request("'top_logprobs' is not supported", "top_logprobs");
  if (const json* lb = field(body, "logit_bias"); lb && !(lb->is_object() && lb->empty()))
    throw bad_request("'logit_bias' is not supported", "logit_bias");
  if (const json* t = field(body, "tools"); t && !(t->is_array() && t->empty()))
    throw bad_request("'tools' (function calling) is not supported", "tools");
  if (const json* tc = field(body, "tool_choice"); tc && !(tc->is_string() && tc->get<std::string>() == "none"))
    throw bad_request("'tool_choice' is not supported", "tool_choice");
  if (const json* rf = field(body, "response_format")) {
    const json* type = rf->is_object() ? field(*rf, "type") : nullptr;
    const std::string t = type && type->is_string() ? type->get<std::string>() : "";
    if (t == "json_object") {
      r.json_schema = R"({"type":"object"})";
    } else if (t == "json_schema") {
      const json* js = field(*rf, "json_schema");
      const json* schema = js && js->is_object() ? field(*js, "schema") : nullptr;
      if (!schema || !schema->is_object())
        throw bad_request("'response_format.json_schema.schema' must be a JSON Schema object", "response_format");
      r.json_schema = schema->dump();
    } else if (t != "text") {
      throw bad_request("'response_format.type' must be text, json_object or json_schema", "response_format");
    }
  }
  if (const json* g = field(body, "grammar")) {
    if (!g->is_string()) throw bad_request("'grammar' must be a GBNF string", "grammar");
    if (!r.json_schema.empty()) throw bad_request("'grammar' and a JSON response_format exclude each other", "grammar");
    r.grammar = g->get<std::string>();
  }
  if (const json* st = field(body, "store"); st && !(st->is_boolean() && !st->get<bool>()))
    throw bad_request("'store' is not supported: this server keeps no completions", "store");
  if (const json* u = field(body, "user"); u && !u->is_string()) throw bad_request("'user' must be a string", "user");
  if (const json* md = field(body, "metadata"); md && !md->is_object())
    throw bad_request("'metadata' must be an object", "metadata");
  return r;
}

EmbeddingRequest parse_embedding_request(const std::string& text) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    throw bad_request(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw bad_request("the body must be a JSON object");
  static const std::set<std::string> known = {"model", "input", "encoding_format", "dimensions", "user"};
  for (const auto& [k, v] : body.items())
    if (!known.count(k)) throw bad_request("unsupported field '" + k + "'", k);
  EmbeddingRequest r;
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) throw bad_request("'model' must be a string", "model");
    r.model = m->get<std::string>();
  }
  const json* in = field(body, "input");
  if (!in) throw bad_request("'input' is required", "input");
  constexpr size_t kMaxInputs = 2048;  // OpenAI's own limit per request
  if (in->is_string()) {
    r.inputs.push_back(in->get<std::string>());
  } else if (in->is_array() && !in->empty() && in->size() <= kMaxInputs) {
    for (const auto& x : *in) {
      if (!x.is_string())
        throw bad_request("'input' must be a string or an array of strings (token arrays are not supported)", "input");
      r.inputs.push_back(x.get<std::string>());
    }
  } else {
    throw bad_request("'input' must be a string or an array of 1 to 2048 strings", "input");
  }
  for (const auto& s : r.inputs)
    if (s.empty()) throw bad_request("'input' must not contain empty strings", "input");
  if (const json* f = field(body, "encoding_format")) {
    if (!f->is_string() || (*f != "float" && *f != "base64"))
      throw bad_request("'encoding_format' must be 'float' or 'base64'", "encoding_format");
    r.base64 = *f == "base64";
  }
  if (field(body, "dimensions"))
    throw bad_request("'dimensions' is not supported: embeddings have the model's width", "dimensions");
  if (const json* u = field(body, "user"); u && !u->is_string()) throw bad_request("'user' must be a string", "user");
  return r;
}

std::string ggml_options(const CompletionRequest& r, int64_t ctx_size) {
  json o = {{"n-predict", r.max_tokens ? *r.max_tokens : -1},
            {"ctx-size", ctx_size},
            {"temp", r.temperature},
            {"top-p", r.top_p},
            {"presence-penalty", r.presence_penalty},
            {"frequency-penalty", r.frequency_penalty},
            {"seed", r.seed ? *r.seed : -1},
            // Conversations resend their history: keep the KV cache of the shared beginning.
            {"cache-prompt", true},
            {"embedding", false},  // a pooled context may have computed embeddings before
            // Always sent, so a pooled context never keeps a previous request's constraint.
            {"grammar", r.grammar},
            {"json-schema", r.json_schema}};
  if (r.top_k) o["top-k"] = *r.top_k;
  if (r.min_p) o["min-p"] = *r.min_p;
  if (r.repeat_penalty) o["repeat-penalty"] = *r.repeat_penalty;
  return o.dump();
}

}  // namespace nnb::http

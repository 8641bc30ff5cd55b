#include "chat/chat_template.h"

#include <ctime>

#include "chat/jinja_eval.h"
#include "chat/jinja_parser.h"

namespace nnb::chat {
namespace {

using jinja::CallArgs;
using jinja::Interp;
using jinja::Value;

std::string strftime_at(const std::string& fmt, std::chrono::system_clock::time_point t, bool utc) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (utc) gmtime_r(&tt, &tm);
  else localtime_r(&tt, &tm);
  if (fmt.empty()) return "";
  if (fmt.size() > 1024) throw TemplateError("strftime_now: format longer than 1024 bytes");
  std::string buf(fmt.size() * 16 + 64, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  if (n == 0) throw TemplateError("strftime_now: format too long or empty result");
  buf.resize(n);
  return buf;
}

// The functions Hugging Face's renderer provides, and Jinja2's own globals that templates use.
void add_globals(Value& g, const RenderOptions& opts) {
  g.put("range", Value::callable("range", [](Interp& in, CallArgs& a) {
    if (!a.kw.empty()) throw TemplateError("range() takes no keyword arguments");
    if (a.pos.empty() || a.pos.size() > 3) throw TemplateError("range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) {
      stop = jinja::to_index(a.pos[0], "range");
    } else {
      start = jinja::to_index(a.pos[0], "range");
      stop = jinja::to_index(a.pos[1], "range");
      if (a.pos.size() == 3) step = jinja::to_index(a.pos[2], "range");
    }
    if (step == 0) throw TemplateError("range() arg 3 must not be zero");
    const __int128 span = step > 0 ? __int128(stop) - start : __int128(start) - stop;
    const __int128 abs_step = step > 0 ? step : -__int128(step);
    const __int128 n = span <= 0 ? 0 : (span + abs_step - 1) / abs_step;
    constexpr int64_t kMaxRange = 100000;  // Jinja2's sandbox MAX_RANGE
    if (n > kMaxRange) throw TemplateError("range too big (sandbox limit " + std::to_string(kMaxRange) + " items)");
    in.step(uint64_t(n));
    jinja::List items;
    for (int64_t k = 0; k < int64_t(n); ++k) items.push_back(Value::integer(start + k * step));
    return Value::make_list(std::move(items));
  }));
  g.put("dict", Value::callable("dict", [](Interp&, CallArgs& a) {
    Value d = Value::make_dict();
    for (const Value& p : a.pos) {
      if (p.type != jinja::Type::Dict) throw TemplateError("unsupported: dict() of something other than a dict");
      for (const auto& [k, v] : p.dict->items()) d.put(k, v);
    }
    for (auto& [k, v] : a.kw) d.put(k, v);
    return d;
  }));
  g.put("namespace", Value::callable("namespace", [](Interp& in, CallArgs& a) {
    Value ns = in.new_namespace();
    for (const Value& p : a.pos) {
      if (p.type != jinja::Type::Dict) throw TemplateError("namespace() takes a dict or keyword arguments");
      for (const auto& [k, v] : p.dict->items()) ns.dict->set(k, v);
    }
    for (auto& [k, v] : a.kw) ns.dict->set(k, v);
    return ns;
  }));
  g.put("raise_exception", Value::callable("raise_exception", [](Interp&, CallArgs& a) -> Value {
    throw TemplateError(a.pos.empty() ? std::string("raise_exception() called") : jinja::to_str(a.pos[0]));
  }));
  const auto now = opts.now;
  g.put("strftime_now", Value::callable("strftime_now", [now](Interp&, CallArgs& a) {
    const auto b = jinja::bind_args(a, {"format"}, "strftime_now");
    if (!b[0] || b[0]->type != jinja::Type::String) throw TemplateError("strftime_now needs a format string");
    return Value::string(strftime_at(b[0]->str(), now.value_or(std::chrono::system_clock::now()), now.has_value()));
  }));
}

template <class J>
std::string render_with(const std::vector<std::unique_ptr<jinja::Stmt>>& body, const J& messages,
                        const RenderOptions& opts) {
  Value g = Value::make_dict();
  add_globals(g, opts);
  g.put("messages", jinja::from_json(messages));
  g.put("add_generation_prompt", Value::boolean(opts.add_generation_prompt));
  g.put("bos_token", Value::string(opts.bos_token));
  g.put("eos_token", Value::string(opts.eos_token));
  if (!opts.extra.is_object()) throw TemplateError("RenderOptions::extra must be a JSON object");
  for (auto it = opts.extra.begin(); it != opts.extra.end(); ++it) g.put(it.key(), jinja::from_json(it.value()));
  jinja::Limits limits;
  limits.max_output_bytes = opts.max_output_bytes;
  limits.max_steps = opts.max_steps;
  limits.max_alloc_bytes = opts.max_alloc_bytes;
  limits.max_depth = opts.max_depth;
  Interp in(limits);
  return in.render(body, g);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source)
    : source_(std::move(source)), body_(std::make_unique<jinja::Body>(jinja::parse(source_))) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const RenderOptions& opts) const {
  return render_with(*body_, messages, opts);
}
std::string ChatTemplate::render(const nlohmann::json& messages, const RenderOptions& opts) const {
  return render_with(*body_, messages, opts);
}

std::string chat_prompt(const ChatTemplate& t, const nlohmann::json& messages, const std::string& bos_token,
                        const std::string& eos_token) {
  RenderOptions ro;
  ro.add_generation_prompt = true;
  ro.bos_token = bos_token;
  ro.eos_token = eos_token;
  std::string prompt = t.render(messages, ro);
  if (!bos_token.empty() && prompt.rfind(bos_token, 0) == 0) prompt.erase(0, bos_token.size());
  return prompt;
}

}  // namespace nnb::chat

// Chat templates: the Jinja2 template a model carries in its GGUF (tokenizer.chat_template)
// turns a conversation into the prompt text the model was trained on. This renders them as
// Hugging Face's apply_chat_template does (Jinja2, sandboxed, trim_blocks, lstrip_blocks, loop
// controls, raise_exception, strftime_now, tojson without ASCII escaping), with its own
// interpreter of the Jinja subset real templates use, under time and memory budgets.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_error.h"

namespace nnb::chat {

namespace jinja {
struct Stmt;
}

struct RenderOptions {
  bool add_generation_prompt = false;
  std::string bos_token, eos_token;
  // More template variables (tools, documents, date_string ...); they override the defaults above.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // strftime_now() formats this instant in UTC when set (reproducible renders, tests); unset, it
  // formats the current local time, as Hugging Face does.
  std::optional<std::chrono::system_clock::time_point> now;

  // Sandbox budgets: each exceeded one is a TemplateError naming it.
  size_t max_output_bytes = 16u << 20;     // the rendering, and any single string built
  uint64_t max_steps = 20'000'000;         // evaluation steps (statements, expressions, items)
  uint64_t max_alloc_bytes = 512u << 20;   // bytes of values built over one render
  int max_depth = 300;                     // evaluation nesting, macro recursion included
};

class ChatTemplate {
 public:
  // Parses the template; a syntax error or an unsupported construct throws TemplateError.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // messages: a JSON array of message objects (role, content, and whatever else a template
  // reads: tool_calls, name ...). Throws TemplateError, also with raise_exception()'s message.
  std::string render(const nlohmann::ordered_json& messages, const RenderOptions& opts) const;
  std::string render(const nlohmann::json& messages, const RenderOptions& opts) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::unique_ptr<std::vector<std::unique_ptr<jinja::Stmt>>> body_;
};

// The prompt for the model's next answer: the conversation rendered with the generation prompt,
// without a leading BOS text (tokenizers add BOS themselves when the model asks for it; two
// would confuse the model). Throws TemplateError.
std::string chat_prompt(const ChatTemplate& t, const nlohmann::json& messages, const std::string& bos_token,
                        const std::string& eos_token);

// Named templates for models without one (--chat-template NAME): chatml, llama2, llama3,
// gemma, phi3, mistral, zephyr, deepseek, ...; nullopt for an unknown name.
std::optional<std::string> builtin_template(std::string_view name);
std::vector<std::string> builtin_template_names();

}  // namespace nnb::chat

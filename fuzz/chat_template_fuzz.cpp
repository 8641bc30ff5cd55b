// libFuzzer target for the chat-template renderer: the input is a template source. It must
// either be refused with TemplateError (at parse or render time) or render; never crash, hang,
// overflow the stack or exhaust memory (ASan/UBSan watch; the budgets below keep each input
// fast). Rendered with three fixed conversations, a tool list and both add_generation_prompt values.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "chat/chat_template.h"

using nnb::chat::ChatTemplate;
using nnb::chat::RenderOptions;
using nnb::chat::TemplateError;
using json = nlohmann::ordered_json;

namespace {

const json& conversations() {
  static const json c = json::parse(R"([
    [{"role": "system", "content": "You are a helpful assistant"}, {"role": "user", "content": "Hello"},
     {"role": "assistant", "content": "   I am an assistant   "}, {"role": "user", "content": "Another question"}],
    [{"role": "user", "content": "Make it shorter, with \u00e9mojis \ud83e\udd99 and \"quotes\"."}],
    [{"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
       "function": {"name": "calc", "arguments": {"expr": "2+2"}}}]},
     {"role": "tool", "name": "calc", "content": "4"}]
  ])");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string src(reinterpret_cast<const char*>(data), size);
  try {
    const ChatTemplate t(src);
    RenderOptions o;
    o.bos_token = "<s>";
    o.eos_token = "</s>";
    o.now = std::chrono::system_clock::time_point{};
    o.extra = json{{"tools", json::parse(R"([{"type": "function", "function": {"name": "calc",
                "description": "math", "parameters": {"type": "object", "properties": {"expr": {"type": "string"}},
                "required": ["expr"]}}}])")}};
    // Smaller budgets than the defaults: each input stays fast, and the limits themselves get hit.
    o.max_steps = 200000;
    o.max_output_bytes = 1u << 20;
    o.max_alloc_bytes = 64u << 20;
    for (const json& conv : conversations()) {
      for (bool agp : {false, true}) {
        o.add_generation_prompt = agp;
        try {
          (void)t.render(conv, o);
        } catch (const TemplateError&) {
        }
      }
    }
  } catch (const TemplateError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_template_fuzz: exception other than TemplateError: %s\n", e.what());
    std::abort();
  }
  return 0;
}

// Named templates for models whose GGUF has no tokenizer.chat_template (or for overriding it):
// short Jinja sources written for the common prompt formats.
#include <array>
#include <utility>

#include "chat/chat_template.h"

namespace nnb::chat {
namespace {

// A system message first is taken out as `system` (with `rest` the other messages), for the
// formats that put it inside the first user turn.
#define NNB_SPLIT_SYSTEM(SUFFIX)                                                                   \
  "{%- if messages and messages[0]['role'] == 'system' -%}"                                        \
  "{%- set system = messages[0]['content'] | trim + " SUFFIX " -%}{%- set rest = messages[1:] -%}" \
  "{%- else -%}{%- set system = '' -%}{%- set rest = messages -%}{%- endif -%}"

const std::array<std::pair<const char*, const char*>, 10> kTemplates = {{
    {"chatml",
     "{%- for message in messages -%}"
     "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"},
    {"llama2",
     NNB_SPLIT_SYSTEM("''")
     "{%- for message in rest -%}"
     "{%- if message['role'] == 'user' -%}"
     "{{ bos_token + '[INST] ' }}{%- if loop.first and system -%}{{ '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}{%- endif -%}"
     "{{ message['content'] | trim + ' [/INST]' }}"
     "{%- elif message['role'] == 'assistant' -%}{{ ' ' + message['content'] | trim + ' ' + eos_token }}"
     "{%- endif -%}"
     "{%- endfor -%}"},
    {"llama3",
     "{{- bos_token -}}"
     "{%- for message in messages -%}"
     "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}"},
    {"gemma",
     "{{- bos_token -}}" NNB_SPLIT_SYSTEM("'\\n\\n'")
     "{%- for message in rest -%}"
     "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
     "{{ '<start_of_turn>' + role + '\\n' + (system if loop.first else '') + message['content'] | trim + '<end_of_turn>\\n' }}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"},
    {"phi3",
     "{%- for message in messages -%}"
     "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- else -%}{{ eos_token }}{%- endif -%}"},
    {"mistral",
     "{{- bos_token -}}" NNB_SPLIT_SYSTEM("'\\n\\n'")
     "{%- for message in rest -%}"
     "{%- if message['role'] == 'user' -%}{{ '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}"
     "{%- elif message['role'] == 'assistant' -%}{{ ' ' + message['content'] + eos_token }}"
     "{%- endif -%}"
     "{%- endfor -%}"},
    {"zephyr",
     "{%- for message in messages -%}"
     "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"},
    {"deepseek",
     "{{- bos_token -}}"
     "{%- for message in messages -%}"
     "{%- if message['role'] == 'user' -%}{{ 'User: ' + message['content'] + '\\n\\n' }}"
     "{%- elif message['role'] == 'assistant' -%}{{ 'Assistant: ' + message['content'] + eos_token }}"
     "{%- else -%}{{ message['content'] + '\\n\\n' }}"
     "{%- endif -%}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}"},
    {"deepseek3",
     "{{- bos_token -}}" NNB_SPLIT_SYSTEM("''")
     "{{- system -}}"
     "{%- for message in rest -%}"
     "{%- if message['role'] == 'user' -%}{{ '<\xef\xbd\x9c" "User\xef\xbd\x9c" ">' + message['content'] }}"
     "{%- elif message['role'] == 'assistant' -%}"
     "{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c" ">' + message['content'] + '<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c" ">' }}"
     "{%- endif -%}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c" ">' }}{%- endif -%}"},
    {"vicuna",
     NNB_SPLIT_SYSTEM("'\\n\\n'")
     "{{- system -}}"
     "{%- for message in rest -%}"
     "{%- if message['role'] == 'user' -%}{{ 'USER: ' + message['content'] + '\\n' }}"
     "{%- elif message['role'] == 'assistant' -%}{{ 'ASSISTANT: ' + message['content'] + eos_token + '\\n' }}"
     "{%- endif -%}"
     "{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"},
}};

#undef NNB_SPLIT_SYSTEM

}  // namespace

std::optional<std::string> builtin_template(std::string_view name) {
  for (const auto& [n, src] : kTemplates)
    if (name == n) return std::string(src);
  return std::nullopt;
}

std::vector<std::string> builtin_template_names() {
  std::vector<std::string> names;
  for (const auto& t : kTemplates) names.emplace_back(t.first);
  return names;
}

}  // namespace nnb::chat

// nnbridge template: render a chat template (from a model's GGUF, a file, or a named built-in)
// over a conversation, printing exactly what a model would be prompted with.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "engine/gguf/gguf.h"

namespace nnb::cli {
namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open template file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The text of token `key`'s id (tokenizer.ggml.bos_token_id ...), or "" when absent.
std::string token_text(const gguf::File& f, const char* key) {
  const auto id = f.get_int(key);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!id || !tokens || *id < 0 || uint64_t(*id) >= tokens->size()) return "";
  return (*tokens)[size_t(*id)];
}

}  // namespace

void add_template(CLI::App& app) {
  struct Opts {
    std::string model, file, name, messages, bos, eos;
    bool add_generation_prompt = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("template", "Render a chat template over a conversation (JSON messages) and print the prompt");
  auto* m = c->add_option("-m,--model", o->model, "GGUF model whose tokenizer.chat_template (and BOS/EOS texts) to use");
  auto* t = c->add_option("--template", o->file, "Jinja template file");
  std::string names;
  for (const std::string& n : chat::builtin_template_names()) names += (names.empty() ? "" : ", ") + n;
  auto* n = c->add_option("--chat-template", o->name, "Named built-in template: " + names);
  m->excludes(t)->excludes(n);
  t->excludes(n);
  c->add_option("--messages", o->messages, "Conversation as a JSON array of {\"role\", \"content\", ...} objects")->required();
  c->add_flag("--add-generation-prompt", o->add_generation_prompt, "End with the assistant turn's opening");
  auto* bos = c->add_option("--bos-token", o->bos, "BOS text (default: the model's, else empty)");
  auto* eos = c->add_option("--eos-token", o->eos, "EOS text (default: the model's, else empty)");
  c->callback([o, bos, eos] {
    if (o->model.empty() && o->file.empty() && o->name.empty())
      throw CLI::ValidationError("template", "one of -m MODEL, --template FILE or --chat-template NAME is required");
    chat::RenderOptions opts;
    opts.add_generation_prompt = o->add_generation_prompt;
    std::string source;
    if (!o->model.empty()) {
      const auto f = gguf::File::open(o->model);
      const auto tmpl = f->get_string("tokenizer.chat_template");
      if (!tmpl) throw std::runtime_error(o->model + " has no tokenizer.chat_template (use --chat-template NAME)");
      source = *tmpl;
      opts.bos_token = token_text(*f, "tokenizer.ggml.bos_token_id");
      opts.eos_token = token_text(*f, "tokenizer.ggml.eos_token_id");
    } else if (!o->file.empty()) {
      source = read_text_file(o->file);
    } else {
      const auto b = chat::builtin_template(o->name);
      if (!b) throw std::runtime_error("unknown chat template '" + o->name + "' (known: " + [] {
                                         std::string s;
                                         for (const std::string& x : chat::builtin_template_names()) s += (s.empty() ? "" : ", ") + x;
                                         return s;
                                       }() + ")");
      source = *b;
    }
    if (bos->count()) opts.bos_token = o->bos;
    if (eos->count()) opts.eos_token = o->eos;
    nlohmann::ordered_json messages;
    try {
      messages = nlohmann::ordered_json::parse(o->messages);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(std::string("--messages is not valid JSON: ") + e.what());
    }
    if (!messages.is_array()) throw std::runtime_error("--messages must be a JSON array of message objects");
    const std::string out = chat::ChatTemplate(std::move(source)).render(messages, opts);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  });
}

}  // namespace nnb::cli

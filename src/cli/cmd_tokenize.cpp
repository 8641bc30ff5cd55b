// nnbridge tokenize: token ids and pieces of a text, as JSON.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/vocab.h"

namespace nnb::cli {

void add_tokenize(CLI::App& app) {
  struct Opts {
    std::string model, text;
    bool no_bos = false, no_special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("tokenize", "Print the token ids and pieces of TEXT as JSON");
  c->add_option("-m,--model", o->model, "GGUF model or vocabulary file");
  c->add_option("text", o->text, "Text to tokenize")->required();
  c->add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS even where the model asks for them");
  c->add_flag("--no-parse-special", o->no_special, "Treat special-token text like <s> as plain text");
  c->callback([o] {
    // Only the tokenizer is needed: vocabulary-only GGUF files work too.
    auto file = gguf::File::open(resolve_model(o->model));
    auto vocab = Vocab::from_gguf(*file);
    const auto ids = vocab->tokenize(o->text, !o->no_bos, !o->no_special);
    nlohmann::json j;
    j["ids"] = ids;
    auto pieces = nlohmann::json::array();
    for (Token t : ids) pieces.push_back(vocab->token_to_piece(t));
    j["pieces"] = pieces;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  });
}

}  // namespace nnb::cli

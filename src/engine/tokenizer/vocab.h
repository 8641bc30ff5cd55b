// Tokenizer: SentencePiece-style (tokenizer.ggml.model = "llama") and byte-level BPE ("gpt2",
// with the pre-tokenizer regexes selected by tokenizer.ggml.pre). Behaviour follows llama.cpp's
// llama-vocab, quirks included, because users compare token ids with llama.cpp's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnb {
namespace gguf { class File; }

using Token = int32_t;

class Vocab {
 public:
  enum class Kind { SPM, BPE };
  // llama.cpp's token attributes (tokenizer.ggml.token_type values).
  enum TokenType : int32_t { UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 };

  // Reads tokenizer.ggml.* metadata. Throws std::runtime_error with a clear message on an
  // unsupported tokenizer model / pre-tokenizer or inconsistent arrays. Invalid special ids
  // (e.g. 0xFFFFFFFF) are ignored with a warning on stderr, as llama.cpp does.
  static std::unique_ptr<Vocab> from_gguf(const gguf::File& f);
  virtual ~Vocab() = default;

  virtual Kind kind() const = 0;
  virtual std::string_view pre() const = 0;  // pre-tokenizer name ("default" for SPM)
  virtual int32_t n_tokens() const = 0;
  virtual const std::string& token_text(Token t) const = 0;
  virtual TokenType token_type(Token t) const = 0;

  virtual Token bos() const = 0;  // -1 when absent
  virtual Token eos() const = 0;
  virtual bool add_bos() const = 0;
  virtual bool add_eos() const = 0;
  // End-of-generation: EOS, EOT, <|im_end|>, <|eom_id|> ... (llama.cpp's special_eog_ids).
  virtual bool is_eog(Token t) const = 0;

  // add_special: BOS/EOS as add_bos()/add_eos() say. parse_special: special-token text in the
  // input (e.g. "<s>", "<|eot_id|>") becomes the special token.
  virtual std::vector<Token> tokenize(std::string_view text, bool add_special, bool parse_special) const = 0;
  // The bytes a token stands for (may be a partial UTF-8 sequence). special=false renders
  // control tokens as "".
  virtual std::string token_to_piece(Token t, bool special = true) const = 0;
  // llama_detokenize(remove_special, unparse_special).
  virtual std::string detokenize(const std::vector<Token>& tokens, bool remove_special = false,
                                 bool unparse_special = false) const = 0;
};

}  // namespace nnb

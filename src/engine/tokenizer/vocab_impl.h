// Internal: the concrete Vocab shared by the SentencePiece and BPE tokenizers. Loading lives in
// vocab_load.cpp, the common tokenize / detokenize steps in vocab.cpp, the two merge algorithms
// in vocab_spm.cpp and vocab_bpe.cpp, the pre-tokenizer table in vocab_pre.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/unicode_regex.h"
#include "engine/tokenizer/vocab.h"

namespace nnb::vocab_detail {

// llama.cpp's token attribute bits. A token type from the file maps to one of the first seven;
// loading may add CONTROL / UNUSED (tokens recognised by their text) and LSTRIP / RSTRIP.
enum Attr : uint32_t {
  ATTR_UNDEFINED = 0,
  ATTR_UNKNOWN = 1u << 0,
  ATTR_UNUSED = 1u << 1,
  ATTR_NORMAL = 1u << 2,
  ATTR_CONTROL = 1u << 3,
  ATTR_USER_DEFINED = 1u << 4,
  ATTR_BYTE = 1u << 5,
  ATTR_LSTRIP = 1u << 7,
  ATTR_RSTRIP = 1u << 8,
};

// Hash map keyed by std::string that can be probed with a string_view (no copies).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// A BPE pre-tokenizer: its regexes and the tokenizer flags llama.cpp ties to its name.
struct PreTokenizer {
  std::vector<std::string> regexes;
  bool ignore_merges = false;  // a whole pre-token that is in the vocabulary is taken as is
  bool add_bos = false;        // default for tokenizer.ggml.add_bos_token
  bool clean_spaces = true;    // detokenize removes " ," " 's" ... (clean_up_tokenization_spaces)
  bool no_bos = false;         // the model has no BOS token by default
};
// The pre-tokenizer for a tokenizer.ggml.pre value, or nullptr if unknown.
const PreTokenizer* find_pre_tokenizer(std::string_view name);

class VocabImpl final : public Vocab {
 public:
  // --- Vocab interface (vocab.cpp) ---
  Kind kind() const override { return kind_; }
  std::string_view pre() const override { return pre_name_; }
  int32_t n_tokens() const override { return int32_t(text_.size()); }
  const std::string& token_text(Token t) const override;
  TokenType token_type(Token t) const override;
  Token bos() const override { return bos_; }
  Token eos() const override { return eos_; }
  bool add_bos() const override { return add_bos_; }
  bool add_eos() const override { return add_eos_; }
  bool is_eog(Token t) const override;
  std::vector<Token> tokenize(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(Token t, bool special = true) const override;
  std::string detokenize(const std::vector<Token>& tokens, bool remove_special = false,
                         bool unparse_special = false) const override;

  // --- helpers for the tokenizers ---
  Token find(std::string_view text) const {
    auto it = to_id_.find(text);
    return it == to_id_.end() ? -1 : it->second;
  }
  // Merge rank of (left, right), or -1.
  int merge_rank(std::string_view left, std::string_view right) const;
  // SentencePiece byte-fallback token "<0xHH>" (or the raw byte as a token); unk when neither
  // exists. Throws when there is no unk either.
  Token spm_byte_token(uint8_t byte) const;

  // The tokenizers proper: append the ids of one piece of plain text (vocab_spm.cpp / vocab_bpe.cpp).
  void tokenize_spm(const std::string& text, std::vector<Token>& out) const;
  void tokenize_bpe(std::string_view text, std::vector<Token>& out) const;

  // --- state, filled by vocab_load.cpp ---
  Kind kind_ = Kind::SPM;
  std::string pre_name_ = "default";
  std::vector<std::string> text_;
  std::vector<float> score_;
  std::vector<uint32_t> attr_;
  StringMap to_id_;
  StringMap merges_;  // "left right" -> rank

  Token bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, sep_ = -1, pad_ = -1;
  bool add_bos_ = false, add_eos_ = false;
  bool add_space_prefix_ = false;
  bool ignore_merges_ = false;
  bool clean_spaces_ = false;
  std::vector<Token> eog_;             // sorted
  std::vector<Token> special_tokens_;  // CONTROL / USER_DEFINED / UNKNOWN, longest text first
  std::vector<std::string> pieces_;    // token_to_piece(t, special = true)
  std::unique_ptr<unicode::RegexSplitter> splitter_;  // BPE only

  void check_id(Token t) const;
  std::string make_piece(Token t) const;  // used once per token to fill pieces_
};

}  // namespace nnb::vocab_detail

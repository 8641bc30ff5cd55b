// The steps both tokenizers share: special-token partitioning, BOS/EOS and the SentencePiece
// leading space, token -> piece, and llama_detokenize's rules.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb::vocab_detail {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }  // isspace in the C locale

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

// A piece of the input: either a special token found in it, or a range of plain text.
struct Fragment {
  Token token;  // -1 for text
  size_t offset, length;
};

// Splits `text` at every occurrence of the special tokens, longest token first (llama.cpp's
// tokenizer_st_partition). Without parse_special only user-defined tokens are split out.
std::vector<Fragment> partition(const VocabImpl& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (Token id : v.special_tokens_) {
    const uint32_t attr = v.attr_[id];
    if (!parse_special && (attr & (ATTR_CONTROL | ATTR_UNKNOWN))) continue;
    const std::string& tok = v.text_[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset, len = f.length;
      while (true) {
        const size_t hit = text.substr(0, off + len).find(tok, off);
        if (hit == std::string_view::npos) {
          next.push_back({-1, off, len});
          break;
        }
        size_t left = hit - off;
        if (attr & ATTR_LSTRIP)
          while (left > 0 && is_c_space(text[off + left - 1])) --left;
        if (left > 0) next.push_back({-1, off, left});
        next.push_back({id, 0, 0});
        size_t r_off = hit + tok.size();
        size_t r_len = off + len - r_off;
        if (attr & ATTR_RSTRIP)
          while (r_len > 0 && is_c_space(text[r_off])) ++r_off, --r_len;
        if (r_len == 0) break;
        off = r_off;
        len = r_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}

// llama_detokenize's clean_up_tokenization_spaces, pass for pass on the byte buffer (the
// passes read bytes an earlier step may have overwritten, so they are kept literally).
void clean_spaces(std::string& s) {
  if (s.empty()) return;
  // " ?" " !" " ." " ," lose the space
  size_t n = s.size(), total = 1;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    s[total++] = x;
  }
  // " ' " becomes "'"
  n = total, total = 1;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
      --total;
      s[++i] = '\0';
    }
    s[total++] = x;
  }
  // " 's" " 'm" " 're" " 've" lose the space
  n = total, total = 1;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        const char x2 = s[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    s[total++] = x;
  }
  s.resize(total);
}

// The byte of a "<0xHH>" token, reading the two characters after "<0x" like strtol would.
uint8_t byte_token_value(const std::string& text) {
  unsigned v = 0;
  for (size_t i = 3; i < std::min<size_t>(text.size(), 5); ++i) {
    const char c = text[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) break;
    v = v * 16 + unsigned(d);
  }
  return uint8_t(v);
}

// GPT-2 byte-level text back to bytes (llama_decode_text).
std::string decode_gpt2(const std::string& text) {
  std::string out;
  for (uint32_t cpt : unicode::decode_utf8(text)) {
    const int b = unicode::gpt2_to_byte(cpt);
    if (b >= 0) {
      out.push_back(char(b));
      continue;
    }
    // Not a byte stand-in: llama.cpp writes this marker (text included) instead.
    out += "[UNK_BYTE_0x";
    char hex[4];
    for (unsigned char c : unicode::encode_utf8(cpt)) {
      std::snprintf(hex, sizeof hex, "%02x", c);
      out += hex;
    }
    out += text + "]";
  }
  return out;
}

}  // namespace

void VocabImpl::check_id(Token t) const {
  if (t < 0 || t >= n_tokens())
    throw std::out_of_range("token id " + std::to_string(t) + " is outside the vocabulary of " +
                            std::to_string(n_tokens()));
}

const std::string& VocabImpl::token_text(Token t) const {
  check_id(t);
  return text_[t];
}

Vocab::TokenType VocabImpl::token_type(Token t) const {
  check_id(t);
  const uint32_t a = attr_[t];
  if (a & ATTR_UNKNOWN) return UNKNOWN;
  if (a & ATTR_CONTROL) return CONTROL;
  if (a & ATTR_USER_DEFINED) return USER_DEFINED;
  if (a & ATTR_BYTE) return BYTE;
  if (a & ATTR_UNUSED) return UNUSED;
  if (a & ATTR_NORMAL) return NORMAL;
  return UNDEFINED;
}

bool VocabImpl::is_eog(Token t) const { return t >= 0 && std::binary_search(eog_.begin(), eog_.end(), t); }

int VocabImpl::merge_rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + 1 + right.size());
  key.append(left).append(1, ' ').append(right);
  auto it = merges_.find(key);
  return it == merges_.end() ? -1 : it->second;
}

Token VocabImpl::spm_byte_token(uint8_t byte) const {
  static const char* hex = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
  Token t = find(std::string_view(name, 6));
  if (t < 0) t = find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
  if (t < 0) t = unk_;
  if (t < 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", byte);
    throw std::runtime_error(std::string("vocab: byte ") + buf + " has no token and there is no unknown token");
  }
  return t;
}

std::string VocabImpl::make_piece(Token t) const {
  const uint32_t a = attr_[t];
  const std::string& s = text_[t];
  if (a & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) return s;
  if (a & ATTR_NORMAL) {
    if (kind_ == Kind::BPE) return decode_gpt2(s);
    std::string r = s;
    replace_all(r, kSpaceMark, " ");
    return r;
  }
  if (a & ATTR_BYTE) return std::string(1, char(byte_token_value(s)));
  return {};  // unused / undefined tokens render as nothing
}

std::string VocabImpl::token_to_piece(Token t, bool special) const {
  check_id(t);
  if (!special && (attr_[t] & (ATTR_UNKNOWN | ATTR_CONTROL))) return {};
  return pieces_[t];
}

std::vector<Token> VocabImpl::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<Token> out;
  const std::vector<Fragment> frags = partition(*this, text, parse_special);
  if (add_special && add_bos_) out.push_back(bos_);
  if (kind_ == Kind::SPM) {
    // SentencePiece adds a space before the text and before text that follows a special token.
    bool after_special = true;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        after_special = true;
        continue;
      }
      std::string s = add_space_prefix_ && after_special ? " " : "";
      s.append(text.substr(f.offset, f.length));
      replace_all(s, " ", kSpaceMark);
      tokenize_spm(s, out);
      after_special = false;
    }
  } else {
    for (const Fragment& f : frags) {
      if (f.token >= 0) out.push_back(f.token);
      else tokenize_bpe(text.substr(f.offset, f.length), out);
    }
  }
  if (add_special && add_eos_) out.push_back(eos_);
  return out;
}

std::string VocabImpl::detokenize(const std::vector<Token>& tokens, bool remove_special, bool unparse_special) const {
  size_t begin = 0, end = tokens.size();
  // The space SentencePiece put in front of the text is removed, unless a BOS is dropped
  // (llama.cpp's rule: after a removed BOS the first piece keeps its space).
  bool strip_space = add_space_prefix_;
  if (remove_special && add_bos_ && end > begin && tokens[begin] == bos_) {
    strip_space = false;
    ++begin;
  }
  if (remove_special && add_eos_ && end > begin && tokens[end - 1] == eos_) --end;
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    std::string piece = token_to_piece(tokens[i], unparse_special);
    if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space = false;
    out += piece;
  }
  if (clean_spaces_) clean_spaces(out);
  return out;
}

}  // namespace nnb::vocab_detail

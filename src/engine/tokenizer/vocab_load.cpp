// Vocab::from_gguf: reads tokenizer.ggml.* the way llama.cpp's llama_vocab::load does, so that
// defaults (BOS/EOS ids, add_bos, the leading space), special-token detection and end-of-
// generation tokens come out the same.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb {
namespace vocab_detail {
namespace {

void warn(const std::string& msg) { std::cerr << "nnbridge: warning: vocab: " << msg << "\n"; }

uint32_t attr_from_type(int32_t type) {
  switch (type) {
    case Vocab::UNKNOWN: return ATTR_UNKNOWN;
    case Vocab::UNUSED: return ATTR_UNUSED;
    case Vocab::NORMAL: return ATTR_NORMAL;
    case Vocab::CONTROL: return ATTR_CONTROL;
    case Vocab::USER_DEFINED: return ATTR_USER_DEFINED;
    case Vocab::BYTE: return ATTR_BYTE;
    default: return ATTR_UNDEFINED;
  }
}

// Token texts that mark an end of turn / generation, recognised by text because converters do
// not always record them (llama.cpp's lists).
bool is_eot_text(std::string_view t) {
  return t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" ||
         t == "<|endoftext|>" || t == "<EOT>" || t == "_<EOT>" || t == "<｜end▁of▁sentence｜>";
}
bool is_eog_text(std::string_view t) {
  return t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" ||
         t == "<|endoftext|>" || t == "<|eom_id|>" || t == "<EOT>" || t == "_<EOT>";
}
bool is_fim_pad_text(std::string_view t) {
  return t == "<|fim_pad|>" || t == "<fim-pad>" || t == "<fim_pad>" || t == "<PAD>";
}
bool is_fim_rep_text(std::string_view t) {
  return t == "<|fim_repo|>" || t == "<|repo_name|>" || t == "<fim-repo>" || t == "<REPO>" || t == "<reponame>";
}
bool is_fim_sep_text(std::string_view t) { return t == "<|file_sep|>"; }

// Special token ids: (key suffix, slot). A default that is outside the vocabulary is dropped;
// a key whose value is outside it is ignored with a warning (stories260K has 0xFFFFFFFF).
void read_special_id(const gguf::File& f, VocabImpl& v, const char* key, Token& id) {
  const int64_t n = v.n_tokens();
  const std::string full = std::string("tokenizer.ggml.") + key;
  if (id >= n) {
    warn("default " + full + " = " + std::to_string(id) + " is outside the vocabulary, disabling it");
    id = -1;
  }
  const gguf::Value* val = f.find(full);
  if (!val) return;
  std::optional<int64_t> x = val->is_integer() ? val->as_i64() : std::nullopt;
  if (!x && val->is_integer()) {  // a u64 too large for i64
    warn("ignoring " + full + " = " + val->to_string() + ": outside the vocabulary of " + std::to_string(n));
    return;
  }
  if (!x) {
    warn("ignoring " + full + ": not an integer (" + val->to_string() + ")");
    return;
  }
  if (*x < 0 || *x >= n) {
    warn("ignoring " + full + " = " + std::to_string(*x) + ": outside the vocabulary of " + std::to_string(n) +
         (id >= 0 ? ", keeping the default " + std::to_string(id) : std::string()));
    return;
  }
  id = Token(*x);
}

void load_tokens(const gguf::File& f, VocabImpl& v) {
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) throw std::runtime_error("vocab: tokenizer.ggml.tokens is missing");
  if (tokens->empty()) throw std::runtime_error("vocab: tokenizer.ggml.tokens is empty");
  if (tokens->size() > size_t(INT32_MAX)) throw std::runtime_error("vocab: too many tokens");
  const size_t n = tokens->size();
  auto scores = f.get_f32_array("tokenizer.ggml.scores");
  if (scores && scores->size() < n)
    throw std::runtime_error("vocab: tokenizer.ggml.scores has " + std::to_string(scores->size()) + " entries for " +
                             std::to_string(n) + " tokens");
  auto types = f.get_i32_array("tokenizer.ggml.token_type");
  if (types && types->size() < n)
    throw std::runtime_error("vocab: tokenizer.ggml.token_type has " + std::to_string(types->size()) +
                             " entries for " + std::to_string(n) + " tokens");

  v.text_ = std::move(*tokens);
  v.score_.assign(n, 0.0f);
  v.attr_.assign(n, ATTR_NORMAL);
  v.to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string& word = v.text_[i];
    if (word.empty()) {  // an empty text could never be found; llama.cpp renames it the same way
      warn("empty token at index " + std::to_string(i));
      word = "[EMPTY_" + std::to_string(i) + "]";
    }
    auto [it, inserted] = v.to_id_.emplace(word, Token(i));
    if (!inserted)
      throw std::runtime_error("vocab: duplicate token '" + word + "' (ids " + std::to_string(it->second) + " and " +
                               std::to_string(i) + ")");
    if (scores) v.score_[i] = (*scores)[i];
    if (types) v.attr_[i] = attr_from_type((*types)[i]);
  }
}

void load_merges(const gguf::File& f, VocabImpl& v) {
  auto merges = f.get_string_array("tokenizer.ggml.merges");
  if (!merges) throw std::runtime_error("vocab: BPE tokenizer without tokenizer.ggml.merges");
  v.merges_.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const std::string& m = (*merges)[i];
    // "left right", split at the first space after the first byte (a left part may be " ").
    const size_t sp = m.find(' ', 1);
    const std::string key = sp == std::string::npos ? std::string(" ") : m.substr(0, sp) + " " + m.substr(sp + 1);
    v.merges_.emplace(key, int32_t(i));  // the first rank of a repeated merge wins
  }
}

// Recognises control tokens by text (EOT, EOM, FIM) and builds the end-of-generation set.
void detect_special_tokens(VocabImpl& v, Token& fim_pad, Token& fim_rep, Token& fim_sep) {
  auto make_control = [&](Token t) {
    if (!(v.attr_[t] & ATTR_CONTROL)) {
      warn("token " + std::to_string(t) + " '" + v.text_[t] + "' looks like a control token; treating it as one");
      v.attr_[t] |= ATTR_CONTROL;
    }
  };
  for (Token t = 0; t < v.n_tokens(); ++t) {
    const std::string& s = v.text_[t];
    if (v.eot_ < 0 && is_eot_text(s)) { v.eot_ = t; make_control(t); }
    if (v.eom_ < 0 && s == "<|eom_id|>") { v.eom_ = t; make_control(t); }
    if (fim_pad < 0 && is_fim_pad_text(s)) { fim_pad = t; make_control(t); }
    if (fim_rep < 0 && is_fim_rep_text(s)) { fim_rep = t; make_control(t); }
    if (fim_sep < 0 && is_fim_sep_text(s)) { fim_sep = t; make_control(t); }
  }
  // Control tokens named "...unused..." are placeholders.
  for (Token t = 0; t < v.n_tokens(); ++t)
    if ((v.attr_[t] & ATTR_CONTROL) && v.text_[t].find("unused") != std::string::npos) v.attr_[t] |= ATTR_UNUSED;

  std::vector<Token> eog;
  for (Token t : {fim_pad, fim_rep, fim_sep, v.eos_, v.eot_, v.eom_})
    if (t >= 0) eog.push_back(t);
  for (Token t = 0; t < v.n_tokens(); ++t) {
    if (is_eog_text(v.text_[t])) {
      eog.push_back(t);
      make_control(t);
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog_ = std::move(eog);
}

// Per-model token attributes llama.cpp sets by name (the files do not carry them).
void set_model_attributes(const gguf::File& f, VocabImpl& v) {
  std::string name = f.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const std::string pre = f.get_string("tokenizer.ggml.pre").value_or("");
  auto set = [&](std::string_view text, uint32_t attr, bool on) {
    const Token t = v.find(text);
    if (t < 0) return;
    v.attr_[t] = on ? (v.attr_[t] | attr) : (v.attr_[t] & ~attr);
  };
  if (pre.find("jina-v2-de") != std::string::npos || pre.find("jina-v2-es") != std::string::npos ||
      pre.find("jina-v2-code") != std::string::npos) {
    set("<mask>", ATTR_LSTRIP, true);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    // Phi-3's special tokens swallow the white space after them.
    for (Token t : v.special_tokens_) v.attr_[t] |= ATTR_RSTRIP;
    set("</s>", ATTR_RSTRIP, true);
    for (const char* s : {"<unk>", "<s>", "<|endoftext|>"}) set(s, ATTR_RSTRIP, false);
  }
}

}  // namespace
}  // namespace vocab_detail

std::unique_ptr<Vocab> Vocab::from_gguf(const gguf::File& f) {
  using namespace vocab_detail;
  auto v = std::make_unique<VocabImpl>();

  const std::optional<std::string> model = f.get_string("tokenizer.ggml.model");
  if (!model) throw std::runtime_error("vocab: tokenizer.ggml.model is missing (no tokenizer in this file)");
  const std::string pre = f.get_string("tokenizer.ggml.pre").value_or("");

  // Defaults per tokenizer type, before any key overrides them.
  if (*model == "llama") {
    v->kind_ = Kind::SPM;
    v->pre_name_ = "default";
    v->bos_ = 1, v->eos_ = 2, v->unk_ = 0;
    v->add_space_prefix_ = true;
    v->add_bos_ = true;
    v->add_eos_ = false;
    v->clean_spaces_ = false;
  } else if (*model == "gpt2") {
    v->kind_ = Kind::BPE;
    v->bos_ = 11, v->eos_ = 11, v->unk_ = -1;
    v->add_space_prefix_ = false;
    v->pre_name_ = pre.empty() ? "default" : pre;
    if (pre.empty()) warn("tokenizer.ggml.pre is missing, using the 'default' pre-tokenizer (quality may suffer)");
    const PreTokenizer* p = find_pre_tokenizer(v->pre_name_);
    if (!p) throw std::runtime_error("vocab: unknown pre-tokenizer type: '" + v->pre_name_ + "'");
    v->ignore_merges_ = p->ignore_merges;
    v->add_bos_ = p->add_bos;
    v->clean_spaces_ = p->clean_spaces;
    if (p->no_bos) v->bos_ = -1;
    v->splitter_ = std::make_unique<unicode::RegexSplitter>(p->regexes);
  } else {
    throw std::runtime_error("vocab: unsupported tokenizer model '" + *model +
                             "' (supported: 'llama' SentencePiece, 'gpt2' byte-level BPE)");
  }
  if (auto b = f.get_bool("tokenizer.ggml.add_space_prefix")) v->add_space_prefix_ = *b;

  load_tokens(f, *v);
  if (v->kind_ == Kind::BPE) load_merges(f, *v);

  Token mask = -1, fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  const std::pair<const char*, Token*> ids[] = {
      {"bos_token_id", &v->bos_},        {"eos_token_id", &v->eos_},         {"eot_token_id", &v->eot_},
      {"eom_token_id", &v->eom_},        {"unknown_token_id", &v->unk_},     {"seperator_token_id", &v->sep_},
      {"padding_token_id", &v->pad_},    {"mask_token_id", &mask},           {"fim_pre_token_id", &fim_pre},
      {"fim_suf_token_id", &fim_suf},    {"fim_mid_token_id", &fim_mid},     {"fim_pad_token_id", &fim_pad},
      {"fim_rep_token_id", &fim_rep},    {"fim_sep_token_id", &fim_sep},     {"prefix_token_id", &fim_pre},
      {"suffix_token_id", &fim_suf},     {"middle_token_id", &fim_mid},
  };
  for (const auto& [key, slot] : ids) read_special_id(f, *v, key, *slot);

  if (auto b = f.get_bool("tokenizer.ggml.add_bos_token")) v->add_bos_ = *b;
  if (auto b = f.get_bool("tokenizer.ggml.add_eos_token")) v->add_eos_ = *b;
  if (v->add_bos_ && v->bos_ < 0)
    throw std::runtime_error("vocab: tokenizer.ggml.add_bos_token is true, but there is no valid bos_token_id");
  if (v->add_eos_ && v->eos_ < 0)
    throw std::runtime_error("vocab: tokenizer.ggml.add_eos_token is true, but there is no valid eos_token_id");

  detect_special_tokens(*v, fim_pad, fim_rep, fim_sep);

  // Special tokens are searched for in the text longest first (same sort as llama.cpp, so
  // equal lengths keep the same relative order too).
  for (Token t = 0; t < v->n_tokens(); ++t)
    if (v->attr_[t] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) v->special_tokens_.push_back(t);
  std::sort(v->special_tokens_.begin(), v->special_tokens_.end(),
            [&](Token a, Token b) { return v->text_[a].size() > v->text_[b].size(); });

  v->pieces_.reserve(v->text_.size());
  for (Token t = 0; t < v->n_tokens(); ++t) v->pieces_.push_back(v->make_piece(t));

  set_model_attributes(f, *v);
  return v;
}

}  // namespace nnb

// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm): start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the highest-scoring
// vocabulary token (leftmost on ties), then map each symbol to its token, falling back to
// byte tokens for symbols that are not in the vocabulary.
#include <algorithm>
#include <queue>
#include <unordered_map>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb::vocab_detail {
namespace {

struct Symbol {
  int prev, next;  // neighbours in the linked list, -1 at the ends
  size_t offset, n;  // bytes of the text; n == 0 once merged into the left neighbour
};

struct Bigram {
  int left, right;
  float score;
  size_t size;  // byte length of the merged text, to detect stale entries
};

// Highest score first; on equal scores the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmSession {
 public:
  SpmSession(const VocabImpl& v, const std::string& text) : v_(v), text_(text) {}

  void run(std::vector<Token>& out) {
    for (size_t off = 0; off < text_.size();) {
      const size_t n = std::min(unicode::utf8_len(text_[off]), text_.size() - off);
      const int idx = int(symbols_.size());
      symbols_.push_back({idx - 1, off + n == text_.size() ? -1 : idx + 1, off, n});
      off += n;
    }
    for (int i = 1; i < int(symbols_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // one side changed since
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[i].next) resegment(symbols_[i], out);
  }

 private:
  std::string_view text_of(size_t offset, size_t n) const { return std::string_view(text_).substr(offset, n); }

  void try_add(int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols_[left];
    const std::string_view s = text_of(l.offset, l.n + symbols_[right].n);
    const Token t = v_.find(s);
    if (t < 0) return;
    queue_.push({left, right, v_.score_[t], s.size()});
    rev_merge_[std::string(s)] = {left, right};
  }

  void resegment(const Symbol& sym, std::vector<Token>& out) {
    const std::string_view s = text_of(sym.offset, sym.n);
    const Token t = v_.find(s);
    if (t >= 0) {
      out.push_back(t);
      return;
    }
    auto it = rev_merge_.find(std::string(s));
    if (it == rev_merge_.end()) {
      for (char c : s) out.push_back(v_.spm_byte_token(uint8_t(c)));
      return;
    }
    resegment(symbols_[it->second.first], out);
    resegment(symbols_[it->second.second], out);
  }

  const VocabImpl& v_;
  const std::string& text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
  std::unordered_map<std::string, std::pair<int, int>> rev_merge_;
};

}  // namespace

void VocabImpl::tokenize_spm(const std::string& text, std::vector<Token>& out) const {
  SpmSession(*this, text).run(out);
}

}  // namespace nnb::vocab_detail

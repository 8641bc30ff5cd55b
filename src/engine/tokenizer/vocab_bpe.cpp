// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): the pre-tokenizer splits the text into words,
// each word's UTF-8 bytes are written with GPT-2's printable stand-ins, then the adjacent pair
// with the lowest merge rank (leftmost on ties) is merged until no listed merge applies.
#include <algorithm>
#include <queue>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb::vocab_detail {
namespace {

struct Symbol {
  int prev, next;
  size_t offset, n;  // bytes of the word; n == 0 once merged into the left neighbour
};

struct Bigram {
  int left, right;
  int rank;
  std::string text;  // the merged text, to detect stale entries
};

// Lowest rank first; on equal ranks the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class BpeWord {
 public:
  BpeWord(const VocabImpl& v, const std::string& word) : v_(v), word_(word) {}

  void run(std::vector<Token>& out) {
    if (v_.ignore_merges_ && v_.find(word_) >= 0) {
      symbols_.push_back({-1, -1, 0, word_.size()});
    } else {
      for (size_t off = 0; off < word_.size();) {
        const size_t n = std::min(unicode::utf8_len(word_[off]), word_.size() - off);
        const int idx = int(symbols_.size());
        symbols_.push_back({idx - 1, off + n == word_.size() ? -1 : idx + 1, off, n});
        off += n;
      }
    }
    for (int i = 1; i < int(symbols_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      if (l.n == 0 || r.n == 0) continue;
      if (l.n + r.n != b.text.size() || text(l.offset, l.n + r.n) != b.text) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (const Symbol& s : symbols_) {
      if (s.n == 0) continue;
      const std::string_view piece = text(s.offset, s.n);
      const Token t = v_.find(piece);
      if (t >= 0) {
        out.push_back(t);
        continue;
      }
      // Not a token: llama.cpp looks each byte up on its own and drops those that are missing.
      for (char c : piece) {
        const Token bt = v_.find(std::string_view(&c, 1));
        if (bt >= 0) out.push_back(bt);
      }
    }
  }

 private:
  std::string_view text(size_t offset, size_t n) const { return std::string_view(word_).substr(offset, n); }

  void try_add(int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols_[left];
    const Symbol& r = symbols_[right];
    const int rank = v_.merge_rank(text(l.offset, l.n), text(r.offset, r.n));
    if (rank < 0) return;
    queue_.push({left, right, rank, std::string(text(l.offset, l.n + r.n))});
  }

  const VocabImpl& v_;
  const std::string& word_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void VocabImpl::tokenize_bpe(std::string_view text, std::vector<Token>& out) const {
  for (const std::string& word : splitter_->split(text)) {
    std::string encoded;
    encoded.reserve(word.size() * 2);
    for (unsigned char c : word) encoded += unicode::byte_to_gpt2(c);
    BpeWord(*this, encoded).run(out);
  }
}

}  // namespace nnb::vocab_detail

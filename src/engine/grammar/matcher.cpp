#include "engine/grammar/matcher.h"

#include <algorithm>
#include <stdexcept>

namespace nnb::grammar {
namespace {

// Past these the grammar is hopelessly ambiguous for this text; stop rather than eat memory.
constexpr size_t kMaxNodes = size_t(1) << 22;
constexpr size_t kMaxStacks = 1 << 14;

bool ends_sequence(Op op) { return op == Op::End || op == Op::Alt; }

void sort_unique(StackSet& s) {
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
}

}  // namespace

Matcher::Matcher(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  nodes_.push_back({kNoPos, 0});  // id 0: the empty stack
  memo_off_.push_back(kNoPos);
  memo_len_.push_back(0);
  // The root's alternatives, each a stack of its own.
  const uint32_t root = g_->rule_start[g_->root];
  std::vector<uint32_t> starts;
  for (uint32_t pos = root;; ++pos) {
    if (pos == root || g_->elems[pos - 1].op == Op::Alt) starts.push_back(pos);
    if (g_->elems[pos].op == Op::End) break;
  }
  for (uint32_t a : starts) {
    auto [p, n] = expand(push(a, 0));
    initial_.insert(initial_.end(), p, p + n);
  }
  sort_unique(initial_);
  reset();
}

void Matcher::reset() {
  stacks_ = initial_;
  partial_ = {};
}

uint32_t Matcher::intern(uint32_t pos, uint32_t parent) {
  const uint64_t key = (uint64_t(pos) << 32) | parent;
  auto [it, fresh] = ids_.try_emplace(key, uint32_t(nodes_.size()));
  if (fresh) {
    if (nodes_.size() >= kMaxNodes) {
      ids_.erase(it);
      throw std::runtime_error("grammar: too many parse states (the grammar is too ambiguous for this text)");
    }
    nodes_.push_back({pos, parent});
    memo_off_.push_back(kNoPos);
    memo_len_.push_back(0);
  }
  return it->second;
}

uint32_t Matcher::push(uint32_t pos, uint32_t parent) {
  return ends_sequence(g_->elems[pos].op) ? parent : intern(pos, parent);
}

std::pair<const uint32_t*, size_t> Matcher::expand(uint32_t id) {
  if (memo_off_[id] == kNoPos) {
    // Depth-first over rule references with an explicit worklist: a long chain of rules must
    // not recurse. The grammar has no left recursion (gbnf_check.cpp), so this ends.
    found_.clear();
    work_.clear();
    work_.push_back(id);
    seen_list_.clear();
    while (!work_.empty()) {
      const uint32_t s = work_.back();
      work_.pop_back();
      if (seen_.size() < nodes_.size()) seen_.resize(nodes_.size() * 2, 0);
      if (seen_[s]) continue;
      seen_[s] = 1;
      seen_list_.push_back(s);
      const Node n = nodes_[s];
      if (s == 0 || g_->elems[n.pos].op != Op::RuleRef) {
        found_.push_back(s);  // empty stack or a terminal on top
        continue;
      }
      const uint32_t rest = push(n.pos + 1, n.parent);
      const uint32_t rule = g_->elems[n.pos].value;
      for (uint32_t pos = g_->rule_start[rule];; ++pos) {
        const bool alt_start = pos == g_->rule_start[rule] || g_->elems[pos - 1].op == Op::Alt;
        if (alt_start) work_.push_back(push(pos, rest));  // an empty alternative is `rest` itself
        if (g_->elems[pos].op == Op::End) break;
      }
    }
    for (uint32_t s : seen_list_) seen_[s] = 0;
    sort_unique(found_);
    memo_off_[id] = uint32_t(memo_.size());
    memo_len_[id] = uint32_t(found_.size());
    memo_.insert(memo_.end(), found_.begin(), found_.end());
  }
  return {memo_.data() + memo_off_[id], memo_len_[id]};
}

void Matcher::step(const StackSet& from, uint32_t c, StackSet& out) {
  out.clear();
  for (uint32_t s : from) {
    if (s == 0) continue;
    const Node n = nodes_[s];
    if (!class_matches(*g_, n.pos, c)) continue;
    auto [p, len] = expand(push(class_end(*g_, n.pos), n.parent));
    out.insert(out.end(), p, p + len);
  }
  if (out.size() > 1) sort_unique(out);
  if (out.size() > kMaxStacks) throw std::runtime_error("grammar: too many parse stacks (the grammar is too ambiguous)");
}

bool Matcher::partial_fits(const StackSet& from, const PartialUtf8& p) const {
  if (p.n_remain == 0) return true;
  uint32_t lo, hi;
  if (!partial_range(p, lo, hi)) return false;
  for (uint32_t s : from)
    if (s != 0 && class_matches_range(*g_, nodes_[s].pos, lo, hi)) return true;
  return false;
}

bool Matcher::run(std::string_view bytes, StackSet& stacks, PartialUtf8& partial) {
  cps_.clear();
  if (!decode_utf8(bytes, partial, cps_)) return false;
  for (uint32_t c : cps_) {
    step(stacks, c, tmp_);
    if (tmp_.empty()) return false;
    stacks.swap(tmp_);
  }
  return partial_fits(stacks, partial);
}

bool Matcher::accept(std::string_view bytes) {
  StackSet s = stacks_;
  PartialUtf8 p = partial_;
  if (!run(bytes, s, p)) return false;
  stacks_ = std::move(s);
  partial_ = p;
  return true;
}

bool Matcher::accepts(std::string_view bytes) {
  StackSet s = stacks_;
  PartialUtf8 p = partial_;
  return run(bytes, s, p);
}

bool Matcher::can_end() const {
  return partial_.n_remain == 0 && !stacks_.empty() && stacks_[0] == 0;
}

}  // namespace nnb::grammar

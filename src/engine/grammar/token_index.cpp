#include "engine/grammar/token_index.h"

#include <algorithm>
#include <numeric>

namespace nnb::grammar {

TokenIndex::TokenIndex(std::vector<std::string> pieces, const std::vector<bool>& eog) : pieces_(std::move(pieces)) {
  const size_t n = pieces_.size();
  kind_.assign(n, Kind::Never);
  std::vector<std::vector<uint32_t>> cps(n);
  std::vector<PartialUtf8> tails(n);
  std::vector<int32_t> text;
  for (size_t t = 0; t < n; ++t) {
    const std::string& p = pieces_[t];
    if (t < eog.size() && eog[t]) {
      kind_[t] = Kind::Eog;
      eog_.push_back(int32_t(t));
      continue;
    }
    // As llama.cpp: an empty piece (a control token) or one starting with NUL is never text.
    if (p.empty() || p[0] == '\0') continue;
    if ((static_cast<unsigned char>(p[0]) & 0xC0) == 0x80) {
      // Text only after a token that ended mid-character: not in the trie, which starts
      // between characters.
      cont_.push_back(int32_t(t));
      kind_[t] = Kind::Text;
      continue;
    }
    if (!decode_utf8(p, tails[t], cps[t])) continue;
    kind_[t] = Kind::Text;
    text.push_back(int32_t(t));
  }

  // Sorted by code points, the tokens sharing a prefix are contiguous; the trie is built in one
  // depth-first pass over that order, which is also the order nodes are numbered in.
  std::sort(text.begin(), text.end(), [&](int32_t a, int32_t b) { return cps[size_t(a)] < cps[size_t(b)]; });
  struct Build {
    std::vector<std::pair<uint32_t, uint32_t>> edges;  // (code point, child)
    std::vector<int32_t> tokens;
  };
  std::vector<Build> b(1);
  std::vector<uint32_t> path{0};  // node per depth along the current token
  std::vector<uint32_t> prev;     // the previous token's code points
  for (int32_t t : text) {
    const auto& c = cps[size_t(t)];
    size_t common = 0;
    while (common < c.size() && common < prev.size() && c[common] == prev[common]) ++common;
    path.resize(common + 1);
    for (size_t d = common; d < c.size(); ++d) {
      const uint32_t child = uint32_t(b.size());
      b.emplace_back();
      b[path[d]].edges.push_back({c[d], child});
      path.push_back(child);
    }
    b[path[c.size()]].tokens.push_back(t);
    max_depth_ = std::max(max_depth_, c.size());
    prev = c;
  }
  nodes_.resize(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    Node& nd = nodes_[i];
    nd.first_edge = uint32_t(edge_cp_.size());
    nd.n_edges = uint32_t(b[i].edges.size());
    for (auto [cp, child] : b[i].edges) {  // appended in sorted code-point order already
      edge_cp_.push_back(cp);
      edge_node_.push_back(child);
    }
    nd.first_token = uint32_t(node_tokens_.size());
    nd.n_tokens = uint32_t(b[i].tokens.size());
    for (int32_t t : b[i].tokens) {
      node_tokens_.push_back(t);
      node_partials_.push_back(tails[size_t(t)]);
    }
  }
}

}  // namespace nnb::grammar

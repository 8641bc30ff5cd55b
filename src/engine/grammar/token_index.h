// A vocabulary as the grammar sees it, computed once per vocabulary: each token's text decoded
// to code points, and a trie of those code-point sequences. Filtering a whole vocabulary then
// walks the trie with the matcher's stacks: tokens sharing a prefix share its matching, and a
// prefix the grammar rejects drops every token below it at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/grammar/utf8.h"

namespace nnb::grammar {

class TokenIndex {
 public:
  enum class Kind : uint8_t {
    Text,   // ordinary text: allowed when the grammar accepts it
    Eog,    // end of generation: allowed only when the grammar can end
    Never,  // empty text (control tokens), text starting with NUL, or bytes that are not UTF-8
  };

  // pieces[t]: token t's text as bytes (what generation appends); eog[t]: ends generation.
  TokenIndex(std::vector<std::string> pieces, const std::vector<bool>& eog);

  int32_t n_vocab() const { return int32_t(pieces_.size()); }
  const std::string& piece(int32_t t) const { return pieces_[size_t(t)]; }
  Kind kind(int32_t t) const { return kind_[size_t(t)]; }
  const std::vector<int32_t>& eog_tokens() const { return eog_; }
  // Tokens whose first byte is a UTF-8 continuation byte: the only ones that can follow a token
  // that ended in the middle of a character.
  const std::vector<int32_t>& continuation_tokens() const { return cont_; }

  // The trie, nodes in depth-first order, node 0 the root (the empty prefix).
  struct Node {
    uint32_t first_edge, n_edges;    // into edge_cp / edge_node, sorted by code point
    uint32_t first_token, n_tokens;  // tokens whose complete code points end here
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<uint32_t>& edge_cp() const { return edge_cp_; }
  const std::vector<uint32_t>& edge_node() const { return edge_node_; }
  // Per trie token slot: the token and the unfinished character its text ends with.
  const std::vector<int32_t>& node_tokens() const { return node_tokens_; }
  const std::vector<PartialUtf8>& node_partials() const { return node_partials_; }
  size_t max_depth() const { return max_depth_; }

 private:
  std::vector<std::string> pieces_;
  std::vector<Kind> kind_;
  std::vector<int32_t> eog_, cont_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> edge_cp_, edge_node_;
  std::vector<int32_t> node_tokens_;
  std::vector<PartialUtf8> node_partials_;
  size_t max_depth_ = 0;
};

}  // namespace nnb::grammar

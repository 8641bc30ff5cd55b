// The grammar's view of a model's vocabulary (grammar::TokenIndex), built once per vocabulary
// and shared by every generation that uses it while any of them holds it.
#pragma once

#include <memory>
#include <string_view>

#include "engine/grammar/token_filter.h"
#include "engine/tokenizer/vocab.h"

namespace nnb {

// Token pieces as generation appends them, except control tokens, which are never grammar text
// (a grammar constrains what the text says; a <s> inside a JSON string is not that).
std::shared_ptr<const grammar::TokenIndex> grammar_token_index(const Vocab& vocab);

// A token filter for a grammar over this vocabulary, for Sampler::set_grammar.
std::unique_ptr<grammar::TokenFilter> make_grammar_filter(std::shared_ptr<const grammar::Grammar> g,
                                                          const Vocab& vocab);

}  // namespace nnb

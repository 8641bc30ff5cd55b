// One sequence of tokens being evaluated: what the token loop (generation.h) needs from a KV
// cache, whether the sequence is a private Context's sequence 0 (context.h) or a slot of a
// Context shared by several clients and stepped by a scheduler (batcher.h). The loop is the same
// in both cases, so streaming, whole-text and batched generation obey the same stop rules.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "engine/model/model.h"

namespace nnb {

class Sequence {
 public:
  virtual ~Sequence() = default;

  // Evaluates `tokens` at positions n_past() .. n_past()+n-1 and appends them; logits() is then
  // the last token's. Throws ContextFullError (nothing appended) when they would pass n_ctx(),
  // std::invalid_argument for a bad token id, CancelledError when the abort check asks to stop
  // between batches (the sequence keeps what was evaluated before).
  virtual void decode(std::span<const Token> tokens) = 0;
  // Logits of the last token of the last decode() (n_vocab floats).
  virtual const float* logits() const = 0;
  virtual int32_t n_past() const = 0;
  // Positions this sequence may hold.
  virtual int32_t n_ctx() const = 0;
  // Keeps positions 0 .. n-1 (n >= n_past(): no change).
  virtual void truncate(int32_t n) = 0;
  virtual const Model& model() const = 0;
  // Polled before every batch of decode(), on the thread calling decode(). Empty: never stop.
  virtual void set_abort_check(std::function<bool()> check) = 0;
};

}  // namespace nnb

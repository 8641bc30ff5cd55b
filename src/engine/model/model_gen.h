// Writes GGUF files of any architecture the engine accepts (arch.h: llama, qwen2, gemma, whose
// output is always tied: no output.weight, phi3 with fused QKV and gate/up, gemma2 with post
// norms, soft-capping 8 / 12 and a sliding window on even layers, starcoder2 with LayerNorms and
// biases everywhere, command-r with weight-only LayerNorms, a parallel FFN, logit scale 0.5 and
// the output tied) with seeded
// random weights and a small SentencePiece vocabulary, so that tests and benchmarks need no
// downloaded model. Output is deterministic for a given spec, whatever the thread count (same
// seed -> same bytes; a llama file is byte-identical to what the generator wrote before it knew
// other architectures, except matrices of more than 4 Mi values, which draw each block of 64
// rows from its own seeded generator so that a 7B-shaped file is written in parallel).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/quant/ggml_types.h"

namespace nnb {

struct ModelSpec {
  std::string name = "nnbridge-synthetic";
  // general.architecture: a row of arch.h whose tensors are written as that row says (qwen2:
  // attn_q/k/v.bias; its NEOX rope needs no metadata). Others are refused naming the list.
  std::string arch = "llama";
  int32_t n_vocab = 512;  // >= 259: <unk>, <s>, </s>, 256 byte tokens, then word pieces
  int32_t n_embd = 64;
  int32_t n_layer = 2;
  int32_t n_head = 4;
  int32_t n_head_kv = 2;
  int32_t n_ff = 192;
  int32_t n_ctx_train = 2048;
  GgmlType type = GgmlType::F32;  // type of the 2-D weight matrices (norms stay F32)
  GgmlType output_type = GgmlType::F32;  // output.weight (llama-quantize uses Q6_K for k-quants)
  bool tied_output = false;  // no output.weight: logits use token_embd
  int32_t sliding_window = 0;  // <arch>.attention.sliding_window where the row reads it (phi3)
  uint64_t seed = 42;
  float weight_std = 0.02f;
  float output_std = 1.0f;  // large enough that greedy decoding is not degenerate
  // Q/K/V biases (where the architecture has them): N(0, 1) * bias_std. The draws are made
  // whatever the value, so bias_std = 0 writes zero biases and leaves every other tensor
  // byte-identical.
  float bias_std = 0.5f;
  int32_t n_threads = 0;    // for quantization
};

// Parses "F32", "f16", "q4_k", "Q4_K_M" ... into a matrix type; throws std::invalid_argument.
GgmlType parse_weight_type(const std::string& s);

// The spec of the ~220M-parameter model the speed figures use (n_embd 1024, 12 layers,
// 16 heads, n_ff 2816, 32000 tokens, untied output).
ModelSpec bench_model_spec(GgmlType type);

// Writes the model; throws std::runtime_error on an invalid spec or I/O failure.
void write_model(const ModelSpec& spec, const std::filesystem::path& path);

}  // namespace nnb

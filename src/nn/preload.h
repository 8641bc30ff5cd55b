// --nn-preload NAME:ENCODING:TARGET:PATH (COMPAT §2). The path may itself contain ':'
// (everything after the third colon belongs to it).
// nnbridge adds the encoding OPENAI: NAME:OPENAI:AUTO:BASE_URL#MODEL_ID names a model served by
// an OpenAI-compatible server (the OpenAI backend parses the PATH); the same NAME may then be
// given several times, one upstream each. It is not a WASI-NN graph encoding (no guest or wire
// number stands for it), so it is a kind of preload, not a GraphEncoding.
#pragma once

#include <string>
#include <string_view>

#include "nn/types.h"

namespace nnb::nn {

enum class PreloadKind {
  Model,           // a model file for a local backend (ENCODING names its format)
  // ENCODING was OPENAI: `path` is BASE_URL#MODEL_ID. `encoding` is then Autodetect, so that a
  // backend of model files given such a spec refuses it at start-up instead of loading a URL.
  OpenAIUpstream,
};

struct PreloadSpec {
  std::string name;
  GraphEncoding encoding = GraphEncoding::GGML;
  ExecutionTarget target = ExecutionTarget::AUTO;
  std::string path;
  // Last, so that {name, encoding, target, path} initialises a model file's spec as before.
  PreloadKind kind = PreloadKind::Model;
};

// Throws std::invalid_argument with a message quoting the spec and saying what is wrong.
PreloadSpec parse_preload(std::string_view spec);

}  // namespace nnb::nn

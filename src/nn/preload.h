// --nn-preload NAME:ENCODING:TARGET:PATH (COMPAT §2). The path may itself contain ':'
// (everything after the third colon belongs to it).
#pragma once

#include <string>
#include <string_view>

#include "nn/types.h"

namespace nnb::nn {

struct PreloadSpec {
  std::string name;
  GraphEncoding encoding = GraphEncoding::GGML;
  ExecutionTarget target = ExecutionTarget::AUTO;
  std::string path;
};

// Throws std::invalid_argument with a message quoting the spec and saying what is wrong.
PreloadSpec parse_preload(std::string_view spec);

}  // namespace nnb::nn

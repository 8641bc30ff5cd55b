// The compiled compute shaders (SPIR-V), embedded in the binary at build time from
// vulkan/shaders/*.comp (src/engine/CMakeLists.txt lists each variant and its defines).
#pragma once

#include <cstdint>
#include <string_view>

namespace nnb::vk {

struct ShaderBlob {
  std::string_view name;  // e.g. "matvec_sg_q4_0", "rms_norm"
  const uint32_t* words;
  uint32_t n_words;
};

// nullptr when no shader has that name.
const ShaderBlob* vk_shader(std::string_view name);

}  // namespace nnb::vk

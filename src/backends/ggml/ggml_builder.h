// How the GGML backend reads a `load` builder: WasmEdge apps pass either the GGUF bytes
// themselves or a path to the model file. Bytes are written to a private temporary file,
// because the engine maps models from files; the file is unlinked as soon as it is mapped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>

#include "engine/model/model.h"

namespace nnb::ggml {

// True when the builder starts with the GGUF magic.
bool is_gguf_bytes(std::span<const uint8_t> builder);

// The file a "preload:PATH" builder names (WasmEdge's convention); nullopt for any other
// builder (no prefix, too long, NUL inside).
std::optional<std::filesystem::path> builder_path(std::span<const uint8_t> builder);

// Loads a model from in-memory GGUF bytes. Throws nn::Error: InvalidArgument for bytes the
// engine refuses, RuntimeError when the temporary file cannot be written.
std::shared_ptr<const Model> load_model_bytes(std::span<const uint8_t> gguf);

}  // namespace nnb::ggml

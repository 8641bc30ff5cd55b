// WASI-NN's vocabulary (COMPAT.md §1): error numbers, graph encodings, execution targets and
// the tensor a caller hands to set_input. Shared by every backend and adapter.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nnb::nn {

enum class Errno : uint32_t {
  Success = 0,
  InvalidArgument = 1,
  InvalidEncoding = 2,
  MissingMemory = 3,
  Busy = 4,
  RuntimeError = 5,
  UnsupportedOperation = 6,
  TooLarge = 7,
  NotFound = 8,
  EndOfSequence = 100,
  ContextFull = 101,
  PromptTooLong = 102,
  ModelNotFound = 103,
};
std::string_view errno_name(Errno e);
// Maps a number received from outside (wire, guest) to Errno; unknown numbers → RuntimeError.
Errno errno_from_number(uint32_t n);

enum class GraphEncoding : uint32_t {
  OpenVINO = 0, ONNX = 1, TensorFlow = 2, PyTorch = 3, TensorFlowLite = 4, Autodetect = 5, GGML = 6,
};
enum class ExecutionTarget : uint32_t { CPU = 0, GPU = 1, TPU = 2, AUTO = 3 };

// Case-insensitive names as WasmEdge's --nn-preload accepts them ("GGML", "auto" ...).
// Throw std::invalid_argument naming the value and the accepted ones.
GraphEncoding parse_encoding(std::string_view s);
ExecutionTarget parse_target(std::string_view s);
std::string_view encoding_name(GraphEncoding e);
std::string_view target_name(ExecutionTarget t);

// A failed WASI-NN call: the errno the caller receives and a message for logs / RPC status.
class Error : public std::runtime_error {
 public:
  Error(Errno code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errno code() const { return code_; }

 private:
  Errno code_;
};

// What set_input receives. `type` is the caller's raw tensor-type number, passed through
// unchanged (its numbering differs between crate versions, COMPAT §1/§3); backends that do
// not need it ignore it. The views are valid for the duration of the call only.
struct TensorView {
  std::span<const uint32_t> dims;
  uint32_t type = 0;
  std::span<const uint8_t> data;
};

}  // namespace nnb::nn

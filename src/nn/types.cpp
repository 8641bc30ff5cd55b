#include "nn/types.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace nnb::nn {
namespace {

std::string upper(std::string_view s) {
  std::string u(s);
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return u;
}

constexpr std::pair<std::string_view, GraphEncoding> kEncodings[] = {
    {"OPENVINO", GraphEncoding::OpenVINO}, {"ONNX", GraphEncoding::ONNX},
    {"TENSORFLOW", GraphEncoding::TensorFlow}, {"PYTORCH", GraphEncoding::PyTorch},
    {"TENSORFLOWLITE", GraphEncoding::TensorFlowLite}, {"AUTODETECT", GraphEncoding::Autodetect},
    {"GGML", GraphEncoding::GGML},
};
constexpr std::pair<std::string_view, ExecutionTarget> kTargets[] = {
    {"CPU", ExecutionTarget::CPU}, {"GPU", ExecutionTarget::GPU}, {"TPU", ExecutionTarget::TPU},
    {"AUTO", ExecutionTarget::AUTO},
};

}  // namespace

std::string_view errno_name(Errno e) {
  switch (e) {
    case Errno::Success: return "success";
    case Errno::InvalidArgument: return "invalid argument";
    case Errno::InvalidEncoding: return "invalid encoding";
    case Errno::MissingMemory: return "missing memory";
    case Errno::Busy: return "busy";
    case Errno::RuntimeError: return "runtime error";
    case Errno::UnsupportedOperation: return "unsupported operation";
    case Errno::TooLarge: return "too large";
    case Errno::NotFound: return "not found";
    case Errno::EndOfSequence: return "end of sequence";
    case Errno::ContextFull: return "context full";
    case Errno::PromptTooLong: return "prompt too long";
    case Errno::ModelNotFound: return "model not found";
  }
  return "unknown";
}

Errno errno_from_number(uint32_t n) {
  if (n <= 8 || (n >= 100 && n <= 103)) return Errno(n);
  return Errno::RuntimeError;
}

GraphEncoding parse_encoding(std::string_view s) {
  const std::string u = upper(s);
  for (const auto& [name, e] : kEncodings)
    if (u == name) return e;
  throw std::invalid_argument("unknown graph encoding '" + std::string(s) +
                              "' (expected GGML, ONNX, OpenVINO, TensorFlow, PyTorch, TensorFlowLite or Autodetect)");
}

ExecutionTarget parse_target(std::string_view s) {
  const std::string u = upper(s);
  for (const auto& [name, t] : kTargets)
    if (u == name) return t;
  throw std::invalid_argument("unknown execution target '" + std::string(s) + "' (expected CPU, GPU, TPU or AUTO)");
}

std::string_view encoding_name(GraphEncoding e) {
  for (const auto& [name, v] : kEncodings)
    if (v == e) return name;
  return "UNKNOWN";
}

std::string_view target_name(ExecutionTarget t) {
  for (const auto& [name, v] : kTargets)
    if (v == t) return name;
  return "UNKNOWN";
}

}  // namespace nnb::nn

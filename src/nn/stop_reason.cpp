#include "nn/stop_reason.h"

namespace nnb::nn {

namespace {
constexpr StopReason kAll[] = {StopReason::EndOfGeneration, StopReason::NPredict, StopReason::ReversePrompt,
                               StopReason::ContextFull, StopReason::Cancelled};
}

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::EndOfGeneration: return "end_of_generation";
    case StopReason::NPredict: return "n_predict";
    case StopReason::ReversePrompt: return "reverse_prompt";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<StopReason> parse_stop_reason(std::string_view name) {
  for (StopReason r : kAll)
    if (stop_reason_name(r) == name) return r;
  return std::nullopt;
}

}  // namespace nnb::nn

// Why a generation ended, as data from the engine through the backends to the wire
// (nnbridge.v1.StopReason) and back into RemoteBackend::generate's result. WASI-NN itself only
// has errno 100 (end of sequence) and 101 (context full); this says which rule stopped it.
#pragma once

#include <optional>
#include <string_view>

namespace nnb::nn {

enum class StopReason {
  EndOfGeneration,  // the model produced an end-of-generation token (EOS/EOT)
  NPredict,         // n-predict tokens were generated
  ReversePrompt,    // the text ended with the reverse prompt
  ContextFull,      // the context had no room for another token
  Cancelled,        // stopped early: the abort check fired, or the consumer of the pieces stopped
};

// "end_of_generation", "n_predict", "reverse_prompt", "context_full", "cancelled": the names
// the log line, the Final message's string field and the CLI use.
std::string_view stop_reason_name(StopReason r);
// The reason a name stands for (exactly as stop_reason_name spells it); nullopt otherwise.
std::optional<StopReason> parse_stop_reason(std::string_view name);

}  // namespace nnb::nn

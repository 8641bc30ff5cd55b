// The streaming loop over an execution context, written once: nnbridge's Generate (server)
// and RemoteBackend::generate's WASI-NN fallback (client, against a WasmEdge server) both run
// it, so both report the same stop reasons, token counts and timings for the same generation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "nn/backend.h"
#include "nn/stop_reason.h"

namespace nnb::nn {

// What a streamed generation came to.
struct Outcome {
  StopReason stop = StopReason::EndOfGeneration;
  // From the backend's metadata (output 1) when it has the counts; output_tokens falls back
  // to `produced`. When cancelled, no metadata is read: input_tokens 0, output_tokens = produced.
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint32_t produced = 0;          // tokens compute_single produced here, each handed to on_piece
  double prompt_seconds = 0;      // the first compute_single: prompt evaluation + first token
  double generation_seconds = 0;  // the other compute_single calls (not the time in on_piece)
  std::string metadata_json;      // output 1 once the stream has ended; "" when cancelled
};

// Receives each token's piece (raw bytes, possibly partial UTF-8); false stops the stream.
using PieceSink = std::function<bool(std::string_view piece)>;

// Runs compute_single / get_output_single(0) on `ctx` (whose prompt and options are set)
// until it ends: EndOfSequence or ContextFull from the backend end it with the context's
// stop_reason(), else the metadata's "stop_reason" (how an nnbridge server's GGML backend tells
// a remote context), else end_of_generation / context_full by errno (a WasmEdge server). `should_stop` (may be empty) is polled before each token and when compute_single
// fails; true, or on_piece returning false, ends it as Cancelled — a failure that happened
// because of it is not rethrown. Other failures propagate as they are. The stream is not
// finished (fini_single) here: that is the caller's choice.
Outcome stream_generation(ExecutionContext& ctx, const PieceSink& on_piece,
                          const std::function<bool()>& should_stop = {});

}  // namespace nnb::nn

#include "nn/stream.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace nnb::nn {

Outcome stream_generation(ExecutionContext& ctx, const PieceSink& on_piece, const std::function<bool()>& should_stop) {
  using Clock = std::chrono::steady_clock;
  Outcome o;
  Errno end = Errno::EndOfSequence;
  auto stopped = [&] { return should_stop && should_stop(); };
  for (;;) {
    if (stopped()) {
      o.stop = StopReason::Cancelled;
      return o;
    }
    const auto t0 = Clock::now();
    try {
      ctx.compute_single();
    } catch (const Error& e) {
      if (stopped()) {  // stopped by the abort check mid-prompt or mid-token
        o.stop = StopReason::Cancelled;
        return o;
      }
      if (e.code() != Errno::EndOfSequence && e.code() != Errno::ContextFull) throw;
      end = e.code();
      break;
    }
    (o.produced == 0 ? o.prompt_seconds : o.generation_seconds) +=
        std::chrono::duration<double>(Clock::now() - t0).count();
    ++o.produced;
    const auto piece = ctx.get_output_single(0);
    if (!on_piece(std::string_view(reinterpret_cast<const char*>(piece.data()), piece.size()))) {
      o.stop = StopReason::Cancelled;
      o.output_tokens = o.produced;
      return o;
    }
  }
  o.output_tokens = o.produced;
  const auto meta = ctx.get_output(1);
  o.metadata_json.assign(meta.begin(), meta.end());
  std::optional<StopReason> reason = ctx.stop_reason();
  const auto j = nlohmann::json::parse(o.metadata_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (auto it = j.find("input_tokens"); it != j.end() && it->is_number_unsigned()) o.input_tokens = it->get<uint32_t>();
    if (auto it = j.find("output_tokens"); it != j.end() && it->is_number_unsigned())
      o.output_tokens = it->get<uint32_t>();
    // A remote context cannot tell by itself: an nnbridge server's GGML backend puts it in
    // the metadata (a WasmEdge server does not, and only the errno is left).
    if (auto it = j.find("stop_reason"); !reason && it != j.end() && it->is_string())
      reason = parse_stop_reason(it->get<std::string>());
  }
  o.stop = reason ? *reason : end == Errno::ContextFull ? StopReason::ContextFull : StopReason::EndOfGeneration;
  return o;
}

}  // namespace nnb::nn

// RemoteBackend::generate: nnbridge's server-streaming Generate, or, against a server without
// the Nnbridge service (WasmEdge's wasi_nn_rpcserver), the WASI-NN streaming loop
// set_input / compute_single / get_output_single — the same pieces, one round trip each.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "nn/stream.h"
#include "rpc/client_objects.h"

namespace nnb::rpc {
namespace {

// Type number for text tensors in the fallback: U8 in wasmedge-wasi-nn 0.7+ numbering, which
// WasmEdge 0.14 servers accept (they reject 4, the proto's "U8"; COMPAT §3). dims [1], as
// every prebuilt GGML app sends.
constexpr uint32_t kTextTensorType = 3;

nn::TensorView text_tensor(std::string_view s, const uint32_t& one) {
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&one, 1);
  t.type = kTextTensorType;
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

// Polls `should_stop` every 20 ms on a thread of its own until stop() (or destruction); calls
// `on_stop` once when it returns true. Nothing runs when should_stop is empty.
class StopWatcher {
 public:
  StopWatcher(const std::function<bool()>& should_stop, std::function<void()> on_stop) {
    if (!should_stop) return;
    thread_ = std::thread([this, &should_stop, on_stop = std::move(on_stop)] {
      std::unique_lock<std::mutex> lk(mu_);
      while (!done_) {
        if (should_stop()) {
          on_stop();
          return;
        }
        cv_.wait_for(lk, std::chrono::milliseconds(20));
      }
    });
  }
  ~StopWatcher() { stop(); }
  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

void set_stop(GenerateResult& r, nn::StopReason stop) {
  r.stop = stop;
  r.stop_reason = std::string(nn::stop_reason_name(stop));
}

// The Final message's reason: its enum, or from an older nnbridge server (which sends only
// the string) the name; an unknown name is kept as the string with end_of_generation.
void set_stop(GenerateResult& r, const nnbridge::v1::Final& f) {
  switch (f.stop()) {
    case nnbridge::v1::STOP_REASON_END_OF_GENERATION: return set_stop(r, nn::StopReason::EndOfGeneration);
    case nnbridge::v1::STOP_REASON_N_PREDICT: return set_stop(r, nn::StopReason::NPredict);
    case nnbridge::v1::STOP_REASON_REVERSE_PROMPT: return set_stop(r, nn::StopReason::ReversePrompt);
    case nnbridge::v1::STOP_REASON_CONTEXT_FULL: return set_stop(r, nn::StopReason::ContextFull);
    case nnbridge::v1::STOP_REASON_CANCELLED: return set_stop(r, nn::StopReason::Cancelled);
    default: break;
  }
  if (auto parsed = nn::parse_stop_reason(f.stop_reason())) return set_stop(r, *parsed);
  r.stop = nn::StopReason::EndOfGeneration;
  r.stop_reason = f.stop_reason().empty() ? std::string(nn::stop_reason_name(r.stop)) : f.stop_reason();
}

// The WASI-NN streaming loop (nn::stream_generation, the same one the server's Generate
// runs), one round trip per call. Timings are client-side: prompt_seconds is the first
// compute_single (prompt + first token), generation_seconds the other compute_single calls.
// On `ctx` (its options and prompt replaced by these).
GenerateResult fallback_on(nn::ExecutionContext& ctx, std::string_view prompt, std::string_view options_json,
                           const PieceFn& on_piece, const std::function<bool()>& should_stop) {
  const uint32_t one = 1;
  if (!options_json.empty()) ctx.set_input(1, text_tensor(options_json, one));
  ctx.set_input(0, text_tensor(prompt, one));
  ctx.set_abort_check(should_stop);
  const nn::Outcome o = nn::stream_generation(ctx, on_piece, should_stop);
  GenerateResult r;
  set_stop(r, o.stop);
  r.input_tokens = o.input_tokens;
  r.output_tokens = o.output_tokens;
  r.prompt_seconds = o.prompt_seconds;
  r.generation_seconds = o.generation_seconds;
  r.metadata_json = o.metadata_json;
  try {
    ctx.fini_single();  // frees the stream's state on servers that keep the context
  } catch (const nn::Error&) {
  }
  return r;
}

GenerateResult fallback_generate(nn::Graph& graph, std::string_view prompt, std::string_view options_json,
                                 const PieceFn& on_piece, const std::function<bool()>& should_stop) {
  auto ctx = graph.init_execution_context();
  return fallback_on(*ctx, prompt, options_json, on_piece, should_stop);
}

}  // namespace

GenerateResult RemoteBackend::generate(const std::shared_ptr<nn::Graph>& graph, std::string_view prompt,
                                       std::string_view options_json, const PieceFn& on_piece,
                                       const std::function<bool()>& should_stop) {
  auto* g = dynamic_cast<RemoteGraph*>(graph.get());
  if (!g || g->core() != core_.get())
    throw nn::Error(nn::Errno::InvalidArgument, "generate: the graph does not belong to this remote backend");
  return generate_impl(graph, {}, nullptr, prompt, options_json, on_piece, should_stop);
}

GenerateResult RemoteBackend::generate(nn::ExecutionContext& context, std::string_view prompt,
                                       std::string_view options_json, const PieceFn& on_piece,
                                       const std::function<bool()>& should_stop) {
  auto* c = dynamic_cast<RemoteContext*>(&context);
  if (!c || c->core() != core_.get())
    throw nn::Error(nn::Errno::InvalidArgument, "generate: the context does not belong to this remote backend");
  return generate_impl(nullptr, {}, c, prompt, options_json, on_piece, should_stop);
}

GenerateResult RemoteBackend::generate(std::string_view model_name, std::string_view prompt,
                                       std::string_view options_json, const PieceFn& on_piece,
                                       const std::function<bool()>& should_stop) {
  if (model_name.empty()) throw nn::Error(nn::Errno::InvalidArgument, "generate: empty model name");
  return generate_impl(nullptr, model_name, nullptr, prompt, options_json, on_piece, should_stop);
}

GenerateResult RemoteBackend::generate_impl(const std::shared_ptr<nn::Graph>& graph, std::string_view model_name,
                                            RemoteContext* context, std::string_view prompt, std::string_view options_json,
                                            const PieceFn& on_piece, const std::function<bool()>& should_stop) {
  if (core_->may_use_nnbridge()) {
    nnbridge::v1::GenerateRequest req;
    if (context) req.set_ctx_handle(context->handle());
    else if (graph) req.set_graph_handle(static_cast<RemoteGraph&>(*graph).handle());
    else req.set_model(std::string(model_name));
    req.set_prompt(std::string(prompt));
    req.set_options_json(std::string(options_json));
    grpc::ClientContext ctx;
    core_->prepare(ctx, core_->opts.compute_timeout, "Generate");
    auto reader = core_->nnbridge->Generate(&ctx, req);
    // should_stop is polled beside the blocking reads (a long prompt sends nothing for a
    // while): when it fires, the call is cancelled and the server stops at its next step.
    std::atomic<bool> stop_asked{false};
    StopWatcher watcher(should_stop, [&] {
      stop_asked = true;
      ctx.TryCancel();
    });
    nnbridge::v1::GenerateResponse msg;
    GenerateResult r;
    r.native = true;
    bool got_any = false, got_final = false, cancelled = false;
    uint32_t pieces = 0;
    // Ends the call early: the server sees the cancellation and stops generating. The stream
    // is drained and finished so that the call is released cleanly.
    auto cancel = [&] {
      ctx.TryCancel();
      while (reader->Read(&msg)) {
      }
      reader->Finish();
    };
    while (reader->Read(&msg)) {
      got_any = true;
      if (msg.event_case() == nnbridge::v1::GenerateResponse::kPiece) {
        ++pieces;
        bool go_on = false;
        try {
          go_on = on_piece(msg.piece());
        } catch (...) {
          cancel();
          throw;
        }
        if (!go_on) {
          cancelled = true;
          break;
        }
      } else if (msg.event_case() == nnbridge::v1::GenerateResponse::kFinal) {
        const auto& f = msg.final();
        r.input_tokens = f.input_tokens();
        r.output_tokens = f.output_tokens();
        set_stop(r, f);
        r.prompt_seconds = f.prompt_seconds();
        r.generation_seconds = f.generation_seconds();
        r.metadata_json = f.metadata_json();
        got_final = true;
      }
    }
    watcher.stop();
    if (cancelled || (stop_asked.load() && !got_final)) {
      if (cancelled) cancel();
      else reader->Finish();
      set_stop(r, nn::StopReason::Cancelled);
      r.output_tokens = pieces;
      return r;
    }
    const grpc::Status st = reader->Finish();
    if (st.ok()) {
      core_->service = Core::Service::Present;
      if (!got_final)
        throw TransportError("Generate stream from server at " + core_->endpoint.to_string() +
                                 " ended without its final message",
                             int(grpc::StatusCode::DATA_LOSS));
      return r;
    }
    if (!is_unimplemented(st, ctx) || got_any) core_->fail(st, ctx, "Generate");
    core_->service = Core::Service::Absent;  // a WasmEdge server: fall through to WASI-NN
  }
  if (context) return fallback_on(*context, prompt, options_json, on_piece, should_stop);
  if (graph) return fallback_generate(*graph, prompt, options_json, on_piece, should_stop);
  auto loaded = load_by_name(model_name, "");
  return fallback_generate(*loaded, prompt, options_json, on_piece, should_stop);
}

}  // namespace nnb::rpc

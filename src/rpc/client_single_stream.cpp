// RemoteContext's compute_single over one nnbridge Generate stream (issue 11: a streaming wasm
// app through `ssh -R` paid one round trip per call, two calls per token). The server runs the
// same compute_single loop on the same context (nn::stream_generation) and sends each piece as
// it is made; here each compute_single takes the next one, get_output_single(0) returns it
// without a call, and the stream's Final becomes the errno the unary loop would have returned
// at that same call (100 at the end of generation, n-predict or the reverse prompt; 101 when
// the context is full). A failure before the first piece (102, a bad prompt ...) is the
// stream's status with its errno trailer, as the unary call would have answered.
#include "rpc/client_single_stream.h"

namespace nnb::rpc {

namespace {

enum class Event { Piece, End, NoService };

// The next event of the stream: a piece (in `piece`), its end (the errno in s.end), or the
// server has no Nnbridge service (a WasmEdge server). A failure throws the server's errno.
Event read_event(RemoteContext::SingleStream& s, RemoteBackend::Core& core, std::string& piece) {
  if (!s.reader) return Event::End;
  if (s.reader->Read(&s.msg)) {
    core.service = RemoteBackend::Core::Service::Present;
    if (s.msg.event_case() == nnbridge::v1::GenerateResponse::kPiece) {
      piece = s.msg.piece();
      return Event::Piece;
    }
    const auto stop = s.msg.final().stop();
    while (s.reader->Read(&s.msg)) {
    }
    const grpc::Status st = s.reader->Finish();
    s.reader.reset();
    core.check(st, s.call, "Generate");
    s.end = stop == nnbridge::v1::STOP_REASON_CONTEXT_FULL ? nn::Errno::ContextFull : nn::Errno::EndOfSequence;
    return Event::End;
  }
  const grpc::Status st = s.reader->Finish();
  s.reader.reset();
  if (core.learn_service_absent(st, s.call)) return Event::NoService;
  core.fail(st, s.call, "Generate");
}

}  // namespace

bool RemoteContext::stream_next() {
  if (!core_->may_use_nnbridge()) return false;
  if (!stream_) {
    auto s = std::make_unique<SingleStream>();
    core_->prepare(s->call, core_->opts.compute_timeout, "Generate");
    nnbridge::v1::GenerateRequest req;
    req.set_ctx_handle(handle_);
    req.set_use_context_input(true);
    s->reader = core_->nnbridge->Generate(&s->call, req);
    stream_ = std::move(s);
  }
  SingleStream& s = *stream_;
  if (!s.queued.empty()) {
    last_piece_ = std::move(s.queued.front());
    s.queued.pop_front();
    return true;
  }
  if (s.failure) {
    const nn::Error e = *s.failure;
    stream_.reset();
    throw e;
  }
  if (!s.end) {
    Event ev;
    try {
      ev = read_event(s, *core_, last_piece_);
    } catch (...) {
      stream_.reset();
      throw;
    }
    if (ev == Event::Piece) return true;
    if (ev == Event::NoService) {
      stream_.reset();
      return false;  // the unary call it is
    }
  }
  // The end, once; after it compute_single asks the server's context, as the unary call does.
  const nn::Errno e = s.end.value_or(nn::Errno::EndOfSequence);
  stream_.reset();
  throw nn::Error(e, e == nn::Errno::ContextFull ? "context full" : "end of sequence");
}

void RemoteContext::drain_stream() {
  if (!stream_) return;
  SingleStream& s = *stream_;
  try {
    std::string piece;
    while (!s.end && read_event(s, *core_, piece) == Event::Piece) s.queued.push_back(std::move(piece));
  } catch (const nn::Error& e) {
    s.failure = e;
  }
}

void RemoteContext::end_stream() { stream_.reset(); }

}  // namespace nnb::rpc

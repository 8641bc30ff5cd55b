// Internal to the remote backend: the graph and execution context it hands out, each a server
// handle plus the shared core. A context keeps its graph alive, so a graph is unloaded on the
// server only after its contexts are finalized.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string_view>
#include <string>

#include "rpc/client_core.h"

namespace nnb::rpc {

class RemoteGraph : public nn::Graph, public std::enable_shared_from_this<RemoteGraph> {
 public:
  RemoteGraph(std::shared_ptr<RemoteBackend::Core> core, uint32_t handle, std::string name, bool stream_stdout)
      : core_(std::move(core)), handle_(handle), name_(std::move(name)), stream_stdout_(stream_stdout) {}
  // Frees the server handle (nnbridge Unload, best effort) unless unload() already did.
  ~RemoteGraph() override;

  std::unique_ptr<nn::ExecutionContext> init_execution_context() override;
  const std::string& name() const override { return name_; }
  // nnbridge GraphInfo; all empty against a WasmEdge server (it cannot tell).
  nn::ModelInfo info() const override;

  uint32_t handle() const { return handle_; }
  const RemoteBackend::Core* core() const { return core_.get(); }

  struct SingleStream;  // internal: client_single_stream.h
  // The load config asked for stream-stdout (contexts start with that setting).
  bool stream_stdout() const { return stream_stdout_; }
  // nnbridge Unload; UnsupportedOperation against a WasmEdge server.
  void unload();

 private:
  std::shared_ptr<RemoteBackend::Core> core_;
  uint32_t handle_;
  std::string name_;
  bool stream_stdout_;
  std::atomic<bool> unloaded_{false};
};

class RemoteContext : public nn::ExecutionContext {
 public:
  RemoteContext(std::shared_ptr<RemoteBackend::Core> core, std::shared_ptr<RemoteGraph> graph, uint32_t handle);
  // Frees the server handle (nnbridge FinalizeContext, best effort).
  ~RemoteContext() override;

  void set_input(uint32_t index, const nn::TensorView& tensor) override;
  void compute() override;
  std::vector<uint8_t> get_output(uint32_t index) override;
  void compute_single() override;
  std::vector<uint8_t> get_output_single(uint32_t index) override;
  void fini_single() override;

  uint32_t handle() const { return handle_; }
  const RemoteBackend::Core* core() const { return core_.get(); }

  struct SingleStream;  // internal: client_single_stream.h

 private:
  std::vector<uint8_t> output(uint32_t index, bool single);
  // compute_single against an nnbridge server: the first call opens a Generate stream on this
  // context's own input (use_context_input) and each call takes the next piece from it, so a
  // token costs no round trip; the stream's end is the errno WasmEdge's loop would have given
  // at the same token. Against a WasmEdge server: the unary ComputeSingle.
  bool stream_next();   // false: the server has no Nnbridge service (use the unary call)
  void end_stream();    // cancels a stream still open (a new input or compute, fini_single)
  // Reads the rest of an open stream into a queue (the server's context is free afterwards) so
  // that an output asked for mid-stream can be answered without losing pieces.
  void drain_stream();
  std::unique_ptr<SingleStream> stream_;
  std::string last_piece_;     // the piece of the last compute_single that came from stream_
  bool piece_local_ = false;   // whether get_output_single's piece is last_piece_

  std::shared_ptr<RemoteBackend::Core> core_;
  std::shared_ptr<RemoteGraph> graph_;
  uint32_t handle_;
  // stream-stdout is honoured on THIS side: the text is printed to the local stdout, where
  // the guest's user is, not on the server's.
  bool stream_stdout_;
};

// The value of "stream-stdout" in GGML options JSON, when the JSON sets it as a bool.
std::optional<bool> stream_stdout_option(std::string_view options_json);

}  // namespace nnb::rpc

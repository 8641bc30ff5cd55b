// Internal to the remote backend: the Generate stream a RemoteContext's compute_single calls
// read from (client_objects.h says why).
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "nnbridge.grpc.pb.h"
#include "rpc/client_objects.h"

namespace nnb::rpc {

struct RemoteContext::SingleStream {
  grpc::ClientContext call;
  std::unique_ptr<grpc::ClientReader<nnbridge::v1::GenerateResponse>> reader;  // null once finished
  nnbridge::v1::GenerateResponse msg;
  // Read ahead by drain() (an output asked for mid-stream): pieces not yet handed out, and the
  // errno the stream ended with (nullopt: ended with a failure already thrown, or not ended).
  std::deque<std::string> queued;
  std::optional<nn::Errno> end;
  std::optional<nn::Error> failure;  // a failure met while draining, thrown when reached

  ~SingleStream() {
    if (!reader) return;
    call.TryCancel();
    while (reader->Read(&msg)) {
    }
    reader->Finish();
  }
};

}  // namespace nnb::rpc

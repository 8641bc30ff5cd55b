#include "rpc/client_session.h"

#include <algorithm>

namespace nnb::rpc {

SessionKeeper::SessionKeeper(RemoteBackend::Core& core) : core_(core), thread_([this] { run(); }) {}

SessionKeeper::~SessionKeeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (current_) current_->TryCancel();
  }
  cv_.notify_all();
  thread_.join();
}

void SessionKeeper::run() {
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    grpc::ClientContext ctx;
    core_.prepare(ctx, std::chrono::milliseconds(0));  // open for the backend's lifetime
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      current_ = &ctx;
    }
    auto reader = core_.nnbridge->Session(&ctx, nnbridge::v1::SessionRequest());
    nnbridge::v1::SessionEvent ev;
    if (reader->Read(&ev)) {
      attached_ = true;
      core_.service = RemoteBackend::Core::Service::Present;
      backoff = std::chrono::milliseconds(100);
      while (reader->Read(&ev)) {
      }
    }
    const grpc::Status st = reader->Finish();
    attached_ = false;
    std::unique_lock<std::mutex> lock(mu_);
    current_ = nullptr;
    if (stop_) return;
    if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      // A WasmEdge wasi_nn_rpcserver: plain WASI-NN calls only, nothing to hold open.
      core_.service = RemoteBackend::Core::Service::Absent;
      return;
    }
    // A wrong token will not become right: the calls themselves report it.
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED || st.error_code() == grpc::StatusCode::PERMISSION_DENIED)
      return;
    // Down or restarting: try again, more slowly each time (at most every 5 s).
    cv_.wait_for(lock, backoff, [this] { return stop_; });
    if (stop_) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace nnb::rpc

// Internal to the remote backend: holds the nnbridge Session stream open for the backend's
// lifetime, on its own thread, so that the server frees this process's graphs and contexts
// when it exits, crashes or loses the connection. Reopens the stream after a broken connection
// (a restarted server); stops for good against a server without the Nnbridge service.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "rpc/client_core.h"

namespace nnb::rpc {

class SessionKeeper {
 public:
  explicit SessionKeeper(RemoteBackend::Core& core);
  ~SessionKeeper();  // cancels the stream and joins the thread
  bool attached() const { return attached_.load(); }

 private:
  void run();

  RemoteBackend::Core& core_;
  std::atomic<bool> attached_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                       // guarded by mu_
  grpc::ClientContext* current_ = nullptr;  // the open stream's context, guarded by mu_
  std::thread thread_;
};

}  // namespace nnb::rpc

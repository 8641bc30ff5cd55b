// How the long-running commands (serve, gateway) take SIGINT / SIGTERM: synchronously, by one
// thread calling sigwait on the returned set, so that shutdown runs as ordinary code. Call it
// before any other thread exists: threads inherit the blocked mask. SIGPIPE is ignored (a
// client that vanished mid-write is an error return, not the end of the server).
#pragma once

#include <pthread.h>
#include <signal.h>

namespace nnb::cli {

inline sigset_t block_shutdown_signals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return sigs;
}

}  // namespace nnb::cli

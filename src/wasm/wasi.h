// WASI preview1 (`wasi_snapshot_preview1`) for guest programs, written for nnbridge: args,
// environment, clocks, random, stdio, poll_oneoff, proc_exit, and a filesystem confined to the
// directories given with --dir. Every other preview1 function a module may import resolves to
// one that returns ENOSYS (52), so apps that import but never call them still start.
//
// Sandbox: guest paths are resolved beneath a preopened directory one component at a time,
// each step opened with O_NOFOLLOW; `..` may not climb above the preopen, absolute paths are
// refused, and symlinks are followed only when their target stays inside (relative targets).
// Escapes fail with ENOTCAPABLE (76). Bad guest pointers fail with EFAULT (21), never a trap.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/runtime.h"

namespace nnb::wasm {

struct PreopenDir {
  std::string guest;  // the name the guest sees (e.g. "/data" or ".")
  std::string host;   // the host directory behind it
  bool readonly = false;
};

// WasmEdge's --dir syntax: GUEST:HOST, GUEST:HOST:readonly, or DIR (the same path on both
// sides). Throws std::invalid_argument on an empty part.
PreopenDir parse_dir_spec(std::string_view spec);

struct WasiOptions {
  std::vector<std::string> args;  // argv as the guest sees it; args[0] is the program name
  std::vector<std::string> env;   // "KEY=VALUE" strings
  std::vector<PreopenDir> preopens;
  // Host descriptors behind guest fds 0, 1, 2 (not closed by the runtime).
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
};

// The state of one guest's WASI: its descriptor table and options. Must outlive the
// HostFunctions made from it.
class WasiHost {
 public:
  // Opens every preopen (std::runtime_error naming the directory if one cannot be opened).
  explicit WasiHost(WasiOptions options);
  ~WasiHost();
  WasiHost(const WasiHost&) = delete;
  WasiHost& operator=(const WasiHost&) = delete;

  const WasiOptions& options() const;

  struct State;  // descriptor table etc. (wasi_state.h)
  State& state() { return *state_; }

 private:
  std::unique_ptr<State> state_;
};

// Every function of wasi_snapshot_preview1 (implemented or ENOSYS) bound to `host`.
std::vector<HostFunction> wasi_functions(WasiHost& host);

}  // namespace nnb::wasm

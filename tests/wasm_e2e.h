// What the wasm end-to-end tests share: running a command with a time limit and capturing
// its stdout and stderr apart, and a REAL `nnbridge serve` process on a temporary UNIX socket
// (NNB_CLI_PATH), killed when the test ends (or when the test process dies); both from
// child_process.h.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"

namespace nnb::wasmtest {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Runs a command to its end with a time limit, stdout and stderr apart (child_process.h).
using test::RunResult;
using test::run_command;

// `nnbridge serve --nn-rpc-uri unix://DIR/NAME.sock` plus extra args, its output in DIR/NAME.log.
class ServeProcess {
 public:
  ServeProcess(const fs::path& dir, const std::string& name, const std::vector<std::string>& extra) {
    sock_ = (dir / (name + ".sock")).string();
    log_ = dir / (name + ".log");
    fs::remove(sock_);
    std::vector<std::string> args{NNB_CLI_PATH, "serve", "--nn-rpc-uri", uri()};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<test::ChildProcess>(args, log_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  std::string uri() const { return "unix://" + sock_; }
  std::string log() const {
    std::ifstream in(log_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Waits until the socket accepts (the server says "listening on"); false if it died.
  bool wait_ready(double timeout_s = 20) {
    const auto t0 = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - t0).count() < timeout_s) {
      if (log().find("listening on") != std::string::npos) return true;
      if (!proc_->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::string sock_;
  fs::path log_;
  std::unique_ptr<test::ChildProcess> proc_;  // killed (SIGKILL) and reaped on destruction
};

}  // namespace nnb::wasmtest

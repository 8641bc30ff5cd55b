// Flags every client command shares (run --nn-rpc-uri, chat, bench --nn-rpc-uri).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace nnb::cli {

// --connect-timeout SECONDS (rpc::ClientOptions::connect_timeout): how long a call waits for
// the connection to the server before it fails. 0.1 s is gRPC's smallest connect attempt.
inline CLI::Option* add_connect_timeout_option(CLI::App* cmd, double& seconds) {
  return cmd
      ->add_option("--connect-timeout", seconds,
                   "Seconds a call waits for the connection to the server (starting, restarting or busy) "
                   "before failing with errno 5")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
}

inline std::chrono::milliseconds connect_timeout_of(double seconds) {
  return std::chrono::milliseconds(int64_t(std::llround(seconds * 1000.0)));
}

}  // namespace nnb::cli

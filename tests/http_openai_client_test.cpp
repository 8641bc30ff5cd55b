// The official `openai` npm client (test tooling, installed by scripts/test.sh with `npm ci` in
// tests/openai_client) drives both endpoints: `serve --http` on the host and `gateway` in front
// of it, with an API key on each. Skips when Node or the package is absent, unless
// NNB_REQUIRE_OPENAI_CLIENT=1 (set by .ci/run) makes that a failure.
#include <gtest/gtest.h>

#include <regex>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

const fs::path kClientDir = fs::path(NNB_SOURCE_DIR) / "tests" / "openai_client";

int http_port_in(const fs::path& log, double timeout_s = 20) {
  static const std::regex re(R"(HTTP API on http://127\.0\.0\.1:([0-9]+)/v1)");
  const auto t0 = Clock::now();
  while (seconds_since(t0) < timeout_s) {
    std::smatch m;
    const std::string text = slurp(log);
    if (std::regex_search(text, m, re)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

TEST(OpenAIClient, DrivesServeHttpAndTheGateway) {
  const bool have = fs::exists(kClientDir / "node_modules" / "openai" / "package.json") &&
                    test::run_command({"/bin/sh", "-c", "command -v node"}, 10).exit_code == 0;
  if (!have) {
    const char* req = std::getenv("NNB_REQUIRE_OPENAI_CLIENT");
    if (req && std::string(req) != "0") FAIL() << "node or " << kClientDir / "node_modules/openai" << " is missing";
    GTEST_SKIP() << "node or the openai package is missing (scripts/test.sh runs `npm ci` in " << kClientDir << ")";
  }
  const fs::path dir = test::scratch_dir("http_openai_client");
  const fs::path model = generated_model(dir, 9);
  const fs::path sock = dir / "nn.sock";
  std::ofstream(dir / "host.key") << "host-key-0123456789abcdef\n";
  std::ofstream(dir / "guest.key") << "guest-key-0123456789abcdef\n";
  fs::permissions(dir / "host.key", fs::perms::owner_read | fs::perms::owner_write);
  ServeProcess serve({"--nn-rpc-uri", "unix://" + sock.string(), "--nn-preload", "tiny:GGML:AUTO:" + model.string(),
                      "--http", "127.0.0.1:0", "--auth-token-file", (dir / "host.key").string(), "--threads", "2"},
                     dir / "serve.log");
  ASSERT_TRUE(serve.wait_ready()) << serve.log();
  const int host_port = http_port_in(dir / "serve.log");
  ASSERT_GT(host_port, 0) << serve.log();
  test::ChildProcess gateway({NNB_CLI_PATH, "gateway", "--nn-rpc-uri", "unix://" + sock.string(), "--listen",
                              "127.0.0.1:0", "--auth-token-file", (dir / "host.key").string(), "--api-key-file",
                              (dir / "guest.key").string()},
                             dir / "gateway.log");
  const int gw_port = http_port_in(dir / "gateway.log");
  ASSERT_GT(gw_port, 0) << slurp(dir / "gateway.log");

  for (const auto& [name, port, key] : {std::tuple{"serve --http", host_port, "host-key-0123456789abcdef"},
                                        std::tuple{"gateway", gw_port, "guest-key-0123456789abcdef"}}) {
    const auto r = test::run_command({"/usr/bin/env", "node", (kClientDir / "drive.mjs").string(),
                                      "http://127.0.0.1:" + std::to_string(port) + "/v1", key, "tiny"},
                                     180);
    std::printf("---- openai client vs %s\n%s%s", name, r.out.c_str(), r.err.c_str());
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err << "\nserve log:\n" << serve.log();
  }
}

}  // namespace
}  // namespace nnb::rpctest

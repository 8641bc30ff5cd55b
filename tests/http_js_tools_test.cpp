// Node.js test tooling (tests/js, installed by the setup script with `npm ci`) against the HTTP
// API: the official `openai` client drives both endpoints (`serve --http` on the host and
// `gateway` in front of it, with an API key on each), and playwright-core drives the web chat
// page in Debian's headless Chromium. Each skips when its tool is absent, unless
// NNB_REQUIRE_JS_TOOLS=1 (set by .ci/run) makes that a failure.
#include <gtest/gtest.h>


#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

const fs::path kJsDir = fs::path(NNB_SOURCE_DIR) / "tests" / "js";

bool have_node_package(const std::string& pkg) {
  return fs::exists(kJsDir / "node_modules" / pkg / "package.json") &&
         test::run_command({"/bin/sh", "-c", "command -v node"}, 10).exit_code == 0;
}

// GTEST_SKIP, or a failure under NNB_REQUIRE_JS_TOOLS=1.
#define NNB_JS_TOOL_OR_SKIP(ok, what)                                                            \
  do {                                                                                          \
    if (!(ok)) {                                                                                \
      const char* req = std::getenv("NNB_REQUIRE_JS_TOOLS");                                    \
      if (req && std::string(req) != "0") FAIL() << what << " is missing";                      \
      GTEST_SKIP() << what << " is missing (the setup script installs it: scripts/setup.sh)"; \
    }                                                                                           \
  } while (0)

int http_port_in(const fs::path& log) {
  return http_port_from_log([&] { return slurp(log); });
}

TEST(OpenAIClient, DrivesServeHttpAndTheGateway) {
  NNB_JS_TOOL_OR_SKIP(have_node_package("openai"), "node or tests/js/node_modules/openai");
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
    const auto r = test::run_command({"/usr/bin/env", "node", (kJsDir / "openai_drive.mjs").string(),
                                      "http://127.0.0.1:" + std::to_string(port) + "/v1", key, "tiny"},
                                     180);
    std::printf("---- openai client vs %s\n%s%s", name, r.out.c_str(), r.err.c_str());
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err << "\nserve log:\n" << serve.log();
  }
}

TEST(WebChatPage, StreamsAnswersInHeadlessChromium) {
  const char* chromium = "/usr/bin/chromium";
  NNB_JS_TOOL_OR_SKIP(have_node_package("playwright-core"), "node or tests/js/node_modules/playwright-core");
  NNB_JS_TOOL_OR_SKIP(fs::exists(chromium), "Debian's chromium (/usr/bin/chromium)");
  const fs::path dir = test::scratch_dir("http_web_page");
  const fs::path model = generated_model(dir, 4);
  std::ofstream(dir / "host.key") << "web-page-key-0123456789abcdef\n";
  fs::permissions(dir / "host.key", fs::perms::owner_read | fs::perms::owner_write);
  ServeProcess serve({"--nn-rpc-uri", "unix://" + (dir / "nn.sock").string(), "--nn-preload",
                      "tiny:GGML:AUTO:" + model.string(), "--http", "127.0.0.1:0", "--auth-token-file",
                      (dir / "host.key").string(), "--threads", "2"},
                     dir / "serve.log");
  ASSERT_TRUE(serve.wait_ready()) << serve.log();
  const int port = http_port_in(dir / "serve.log");
  ASSERT_GT(port, 0) << serve.log();
  // Kept beside the build's other test output, for people to look at.
  const fs::path shot = fs::path(NNB_BINARY_DIR) / "test-artifacts" / "web_chat.png";
  fs::create_directories(shot.parent_path());
  fs::remove(shot);
  const auto r = test::run_command({"/usr/bin/env", "node", (kJsDir / "web_chat.mjs").string(),
                                    "http://127.0.0.1:" + std::to_string(port), "web-page-key-0123456789abcdef",
                                    "tiny", shot.string(), chromium},
                                   240);
  std::printf("%s%s", r.out.c_str(), r.err.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\nserve log:\n" << serve.log();
  ASSERT_TRUE(fs::exists(shot));
  const std::string png = slurp(shot);
  EXPECT_GT(png.size(), 4000u);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  std::printf("screenshot of the web chat: %s\n", shot.c_str());
}

}  // namespace
}  // namespace nnb::rpctest

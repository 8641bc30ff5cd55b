// End to end through the `nnbridge run` process, the way users run wasm apps: the real
// WasmEdge example apps (fixtures) and nnbridge's own C apps (tests/wasm_apps/nn_*.c), each
// with the model on the guest CPU (--nn-preload) and on a host server (a real `nnbridge serve`
// process on a temporary UNIX socket, --nn-rpc-uri). Both sides run with --nn-options
// {"temp":0,"seed":42,"n-predict":64}: generations are reproducible, so local and remote must
// print the same bytes, and short (llama-stream has no way to ask for fewer tokens itself).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"
#include "vulkan_available.h"
#include "wasm_e2e.h"

namespace nnb::wasmtest {
namespace {

constexpr const char* kPrompt = "Once upon a time";
constexpr const char* kDefaults = "{\"temp\":0,\"seed\":42,\"n-predict\":64}";
constexpr int kDefaultNPredict = 64;
constexpr double kRunTimeout = 120;

enum class Where { Local, Remote };

std::string where_name(Where w) { return w == Where::Local ? "local" : "remote"; }

fs::path app_path(const std::string& name) { return fs::path(NNB_WASM_APPS_DIR) / (name + ".wasm"); }

// The model, its server and the runner; one per test (ctest runs each case as a process).
class WasmApps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = test::fixture("models/stories260K.gguf");
    if (!m) GTEST_SKIP() << "fixture models/stories260K.gguf not found (../shared absent)";
    model_ = *m;
    dir_ = test::scratch_dir("wasm-apps");
  }

  // Starts the server on first use: preload `default` (and `gone`, a missing file).
  ServeProcess& server() {
    if (!server_) {
      server_ = std::make_unique<ServeProcess>(
          dir_, "serve",
          std::vector<std::string>{"--nn-preload", "default:GGML:AUTO:" + model_.string(), "--nn-preload",
                                   "gone:GGML:AUTO:" + (dir_ / "model-not-found.gguf").string(), "--nn-options",
                                   kDefaults, "--threads", "1"});
      EXPECT_TRUE(server_->wait_ready()) << server_->log();
    }
    return *server_;
  }

  // nnbridge run [--env...] [nn flags] APP ARGS...
  RunResult run(Where where, const fs::path& app, const std::vector<std::string>& args,
                const std::vector<std::string>& envs = {}) {
    std::vector<std::string> argv{NNB_CLI_PATH, "run"};
    for (const auto& e : envs) argv.insert(argv.end(), {"--env", e});
    if (where == Where::Local) {
      argv.insert(argv.end(), {"--nn-preload", "default:GGML:AUTO:" + model_.string(), "--nn-preload",
                               "gone:GGML:AUTO:" + (dir_ / "model-not-found.gguf").string(), "--nn-options",
                               kDefaults});
    } else {
      argv.insert(argv.end(), {"--nn-rpc-uri", server().uri()});
    }
    argv.push_back(app.string());
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = run_command(argv, kRunTimeout);
    EXPECT_FALSE(r.timed_out) << app << " " << where_name(where);
    return r;
  }

  fs::path model_, dir_;
  std::unique_ptr<ServeProcess> server_;
};

// The generated text in a fixture app's stdout: the lines after "Response:" (the prompt echo
// comes before it) that are not the app's "[INFO] ..." metadata lines.
std::string response_text(const std::string& out) {
  const auto at = out.find("Response:\n");
  if (at == std::string::npos) return "";
  std::string text;
  size_t pos = at + 10;
  while (pos < out.size()) {
    size_t eol = out.find('\n', pos);
    if (eol == std::string::npos) eol = out.size();
    if (out.compare(pos, 6, "[INFO]") != 0) text += out.substr(pos, eol - pos + 1);
    pos = eol + 1;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout ---\n" + r.out + "\n--- stderr ---\n" + r.err;
}

// ---- The real WasmEdge example apps ---------------------------------------------------------

class FixtureApps : public WasmApps {
 protected:
  fs::path fixture_app(const std::string& name) {
    auto p = test::fixture("wasm/" + name + ".wasm");
    return p ? *p : fs::path();
  }
  // Runs `name default PROMPT` locally and remotely; both must exit 0 with the same stdout.
  std::string run_both(const std::string& name, const std::vector<std::string>& envs) {
    const fs::path app = fixture_app(name);
    if (app.empty()) return "";
    const RunResult local = run(Where::Local, app, {"default", kPrompt}, envs);
    const RunResult remote = run(Where::Remote, app, {"default", kPrompt}, envs);
    EXPECT_EQ(local.exit_code, 0) << name << " local\n" << describe(local);
    EXPECT_EQ(remote.exit_code, 0) << name << " remote\n" << describe(remote) << "\n--- server ---\n" << server().log();
    EXPECT_EQ(local.out, remote.out) << name << ": local and remote differ";
    return local.out;
  }
};

TEST_F(FixtureApps, NnrpcLocalAndRemoteAgree) {
  if (fixture_app("wasmedge-ggml-nnrpc").empty()) GTEST_SKIP() << "fixture apps absent";
  const std::string out = run_both("wasmedge-ggml-nnrpc", {});
  EXPECT_NE(out.find(kPrompt), std::string::npos) << out;
  EXPECT_FALSE(response_text(out).empty()) << out;
  EXPECT_NE(out.find("[INFO] Number of output tokens: "), std::string::npos) << out;
}

TEST_F(FixtureApps, LlamaAndStreamPrintTheSameTextLocallyAndRemotely) {
  if (fixture_app("wasmedge-ggml-llama").empty()) GTEST_SKIP() << "fixture apps absent";
  const std::string plain = run_both("wasmedge-ggml-llama", {});
  const std::string stream = run_both("wasmedge-ggml-llama-stream", {});
  const std::string text = response_text(plain);
  EXPECT_GT(text.size(), 20u) << plain;
  EXPECT_EQ(response_text(stream), text) << "--- llama ---\n" << plain << "\n--- llama-stream ---\n" << stream;
  // n-predict from --nn-options; the apps print what the backend counted.
  for (const std::string* out : {&plain, &stream}) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*out, m, std::regex("Number of output tokens: (\\d+)\n$"))) << *out;
    EXPECT_GT(std::stoi(m[1]), 0);
    EXPECT_LE(std::stoi(m[1]), kDefaultNPredict);
  }
}

// basic asks for temp 0.1 and n-predict 512 itself (512 would fill stories260K's context): its
// env n_predict lowers that, and the seed of --nn-options makes the sampling reproducible. The
// host streams the text (stream-stdout) and the app prints only a newline after it.
TEST_F(FixtureApps, BasicStreamsToStdoutLocally) {
  const fs::path app = fixture_app("wasmedge-ggml-basic");
  if (app.empty()) GTEST_SKIP() << "fixture apps absent";
  const RunResult r = run(Where::Local, app, {"default", kPrompt}, {"n_predict=48"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_GT(response_text(r.out).size(), 20u) << describe(r);
}

// Over RPC the text is generated on the server, but the user runs the app here: the pieces
// must reach THIS process's stdout (WasmEdge prints them on the server's instead).
TEST_F(FixtureApps, BasicStreamsToTheGuestsStdoutRemotely) {
  if (fixture_app("wasmedge-ggml-basic").empty()) GTEST_SKIP() << "fixture apps absent";
  const std::string out = run_both("wasmedge-ggml-basic", {"n_predict=48"});
  EXPECT_GT(response_text(out).size(), 20u) << out;
}

// The GPU device (Vulkan; in CI Mesa's lavapipe) under the unchanged server and guest runtime:
// a server started with --device vulkan and a local run with --device vulkan print the story
// the CPU device prints (greedy; stories260K is F32, where the devices agree to 1e-5).
TEST_F(FixtureApps, VulkanDeviceServesTheSameTextLocallyAndRemotely) {
  const fs::path app = fixture_app("wasmedge-ggml-llama-stream");
  if (app.empty()) GTEST_SKIP() << "fixture apps absent";
  NNB_VULKAN_OR_SKIP();
  const RunResult cpu = run(Where::Local, app, {"default", kPrompt});
  ASSERT_EQ(cpu.exit_code, 0) << describe(cpu);

  ServeProcess gpu_server(dir_, "serve-vulkan",
                          {"--nn-preload", "default:GGML:AUTO:" + model_.string(), "--nn-options", kDefaults,
                           "--device", "vulkan"});
  ASSERT_TRUE(gpu_server.wait_ready()) << gpu_server.log();
  EXPECT_NE(gpu_server.log().find("device vulkan: vulkan:"), std::string::npos) << gpu_server.log();
  const RunResult remote =
      run_command({NNB_CLI_PATH, "run", "--nn-rpc-uri", gpu_server.uri(), app.string(), "default", kPrompt}, kRunTimeout);
  EXPECT_EQ(remote.exit_code, 0) << describe(remote) << "\n--- server ---\n" << gpu_server.log();
  EXPECT_EQ(remote.out, cpu.out) << "server on the Vulkan device";

  const RunResult local = run_command({NNB_CLI_PATH, "run", "--nn-preload", "default:GGML:AUTO:" + model_.string(),
                                       "--nn-options", kDefaults, "--device", "vulkan", app.string(), "default", kPrompt},
                                      kRunTimeout);
  EXPECT_EQ(local.exit_code, 0) << describe(local);
  EXPECT_EQ(local.out, cpu.out) << "local run on the Vulkan device";
  EXPECT_FALSE(response_text(cpu.out).empty()) << cpu.out;
}

TEST_F(FixtureApps, ModelNotFoundLocallyAndRemotely) {
  const fs::path app = fixture_app("wasmedge-ggml-model-not-found");
  if (app.empty()) GTEST_SKIP() << "fixture apps absent";
  for (Where w : {Where::Local, Where::Remote}) {
    // `gone` is preloaded from a file that does not exist: load_by_name must answer 103.
    const RunResult r = run(w, app, {"gone"});
    EXPECT_EQ(r.exit_code, 0) << where_name(w) << "\n" << describe(r);
    EXPECT_NE(r.out.find("Model not found"), std::string::npos) << where_name(w) << "\n" << describe(r);
  }
}

TEST_F(FixtureApps, ModelNotFoundWithWasmEdgesExactCommandLine) {
  const fs::path app = fixture_app("wasmedge-ggml-model-not-found");
  if (app.empty()) GTEST_SKIP() << "fixture apps absent";
  // COMPAT §5: `--nn-preload default:GGML:AUTO:model-not-found.gguf` (relative, missing).
  const RunResult r = run_command({NNB_CLI_PATH, "run", "--nn-preload", "default:GGML:AUTO:model-not-found.gguf",
                                   app.string(), "default"},
                                  kRunTimeout);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("Model not found"), std::string::npos) << describe(r);
}

// ---- nnbridge's own C apps ------------------------------------------------------------------

class OwnApps : public WasmApps, public ::testing::WithParamInterface<Where> {
 protected:
  // Runs the app and requires exit 0, "ALL PASSED" and no FAIL line.
  RunResult expect_pass(const std::string& name, const std::vector<std::string>& args) {
    const fs::path app = app_path(name);
    if (!fs::exists(app)) {
      ADD_FAILURE() << app << " was not built (is clang for wasm32-wasi installed?)";
      return {};
    }
    RunResult r = run(GetParam(), app, args);
    EXPECT_EQ(r.exit_code, 0) << name << " " << where_name(GetParam()) << "\n" << describe(r);
    EXPECT_NE(r.out.find("ALL PASSED"), std::string::npos) << describe(r);
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << describe(r);
    return r;
  }
};

TEST_P(OwnApps, BadPointersAreErrnoOne) {
  const RunResult r = expect_pass("nn_bounds", {"default"});
  EXPECT_NE(r.out.find("PASS load_by_name name past end"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS set_input tensor struct past end"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS get_output out past end"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS load builders_len*8 wraps"), std::string::npos) << r.out;
}

TEST_P(OwnApps, OutputTooLargeSetInputReplacesAndStreamEqualsCompute) {
  const RunResult r = expect_pass("nn_output", {"default"});
  EXPECT_NE(r.out.find("PASS get_output too small"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS bytes_written = needed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS second set_input replaces"), std::string::npos) << r.out;
}

// embedding: true through the guest ABI, locally and on a server: the model's width (64 for
// stories260K), unit norm, deterministic, texts told apart.
TEST_P(OwnApps, EmbeddingsHaveTheModelsWidthAndUnitNorm) {
  const RunResult r = expect_pass("nn_embedding", {"default"});
  EXPECT_NE(r.out.find("n_embedding 64\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS unit norm"), std::string::npos) << r.out;
}

// grammar / json-schema through the guest ABI, locally and on a server: the answers are
// sentences of the grammar (stories260K knows nothing of them), streamed or not.
TEST_P(OwnApps, GrammarAndJsonSchemaConstrainTheAnswer) {
  const RunResult r = expect_pass("nn_grammar", {"default"});
  EXPECT_TRUE(r.out.find("answer yes.\n") != std::string::npos || r.out.find("answer no.\n") != std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS JSON of the schema's shape"), std::string::npos) << r.out;
}

TEST_P(OwnApps, UnloadAndReloadFiveTimes) {
  // `load` from a "preload:PATH" builder (WasmEdge's convention): the local GGML backend opens
  // it; no RPC carries model bytes (6).
  const std::string want_load = GetParam() == Where::Local ? "0" : "6";
  const RunResult r = expect_pass("nn_unload", {"default", "preload:" + model_.string(), want_load});
  EXPECT_NE(r.out.find("PASS round 5 unload"), std::string::npos) << r.out;
}

TEST_P(OwnApps, ContextFullAndPromptTooLong) {
  const RunResult r = expect_pass("nn_limits", {"default"});
  EXPECT_NE(r.out.find("PASS compute fills the context"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS compute prompt too long"), std::string::npos) << r.out;
}

// The guest-side cost of one wasi-nn call (get_output of the metadata), printed and reported as
// a test property; the test asserts only that the calls ran (speed is for benchmarks).
TEST_P(OwnApps, CallCost) {
  const RunResult r = expect_pass("nn_callcost", {"default", "1000"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("us_per_call=([0-9.]+)"))) << r.out;
  const double us = std::stod(m[1]);
  RecordProperty("us_per_call_" + where_name(GetParam()), std::to_string(us));
  std::printf("[ measure ] wasi-nn get_output(1), %s: %.2f us per call\n", where_name(GetParam()).c_str(), us);
  // Behaviour only (speed belongs to benchmarks): the app measured real calls.
  EXPECT_GT(us, 0.0);
  EXPECT_NE(r.out.find("calls=1000"), std::string::npos) << r.out;
}

// A server that is not there: every call fails with RuntimeError (5), never success, and the
// bindings say why on stderr.
TEST_F(WasmApps, UnreachableServerIsErrnoFiveWithALogLine) {
  const RunResult r = run_command({NNB_CLI_PATH, "run", "--nn-rpc-uri", "unix://" + (dir_ / "nobody.sock").string(),
                                   app_path("nn_output").string(), "default"},
                                  kRunTimeout);
  EXPECT_EQ(r.exit_code, 2) << describe(r);  // open_model gives up
  EXPECT_NE(r.out.find("FAIL load_by_name_with_config(default): errno 5"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("nnbridge: wasi-nn load_by_name_with_config failed: errno=5 (runtime error): cannot reach"),
            std::string::npos)
      << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Where, OwnApps, ::testing::Values(Where::Local, Where::Remote),
                         [](const auto& info) { return where_name(info.param); });

}  // namespace
}  // namespace nnb::wasmtest

namespace nnb::wasmtest {
namespace {

// ---- Measurement: end-to-end tokens/s of llama-stream, local vs remote ---------------------
// Opt-in (NNB_WASM_BENCH=1): minutes of CPU on a ≥100M-parameter model. The model is
// NNB_BENCH_MODEL, else /work/models/bench-220M-Q4_0.gguf, else generated here with
// `nnbridge mkmodel --preset bench --type Q4_0`. Each side runs the app generating 1 and
// 1+kTokens tokens (n-predict from --nn-options, greedy); the time difference (median of
// kRepeats pairs) is the cost of kTokens streamed tokens through the guest, with process
// start-up, model load and the prompt excluded.
TEST(WasmAppsBench, LlamaStreamTokensPerSecond) {
  if (!std::getenv("NNB_WASM_BENCH")) GTEST_SKIP() << "set NNB_WASM_BENCH=1 to run the benchmark";
  auto app = test::fixture("wasm/wasmedge-ggml-llama-stream.wasm");
  if (!app) GTEST_SKIP() << "fixture apps absent";
  const fs::path dir = test::scratch_dir("wasm-bench");
  fs::path model = std::getenv("NNB_BENCH_MODEL") ? fs::path(std::getenv("NNB_BENCH_MODEL"))
                                                   : fs::path("/work/models/bench-220M-Q4_0.gguf");
  if (!fs::exists(model)) {
    model = dir / "bench-Q4_0.gguf";
    const RunResult mk = run_command({NNB_CLI_PATH, "mkmodel", "--preset", "bench", "--type", "Q4_0", "-o",
                                      model.string()},
                                     300);
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
  }
  constexpr int kTokens = 256, kRepeats = 3;
  const std::string preload = "default:GGML:AUTO:" + model.string();
  auto options = [](int n) { return "{\"temp\":0,\"seed\":42,\"n-predict\":" + std::to_string(n) + "}"; };
  auto output_tokens = [](const std::string& out) {
    std::smatch m;
    return std::regex_search(out, m, std::regex("Number of output tokens: (\\d+)\\n$")) ? std::stoi(m[1]) : -1;
  };
  for (int w = 0; w < 2; ++w) {
    const char* name = w == 0 ? "local" : "remote";
    // One server per n-predict (it is a server-side default); started once, reused.
    std::unique_ptr<ServeProcess> servers[2];
    std::vector<double> marginal;
    double base = 0;
    for (int rep = 0; rep < kRepeats; ++rep) {
      double seconds[2];
      for (int k = 0; k < 2; ++k) {
        const int n = k == 0 ? 1 : 1 + kTokens;
        std::vector<std::string> argv{NNB_CLI_PATH, "run"};
        if (w == 0) {
          argv.insert(argv.end(), {"--nn-preload", preload, "--nn-options", options(n)});
        } else {
          if (!servers[k]) {
            servers[k] = std::make_unique<ServeProcess>(
                dir, "bench" + std::to_string(k),
                std::vector<std::string>{"--nn-preload", preload, "--nn-options", options(n)});
            ASSERT_TRUE(servers[k]->wait_ready()) << servers[k]->log();
          }
          argv.insert(argv.end(), {"--nn-rpc-uri", servers[k]->uri()});
        }
        argv.insert(argv.end(), {app->string(), "default", kPrompt});
        const RunResult r = run_command(argv, 600);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        ASSERT_EQ(output_tokens(r.out), n) << "generation stopped early\n" << r.out;
        seconds[k] = r.seconds;
      }
      marginal.push_back(seconds[1] - seconds[0]);
      base = seconds[0];
    }
    std::sort(marginal.begin(), marginal.end());
    const double med = marginal[marginal.size() / 2];
    const double tps = kTokens / med;
    std::printf("[ measure ] llama-stream %s on %s: %d more tokens take %.2f s (median of %d; 1-token run %.2f s): "
                "%.1f tokens/s\n",
                name, model.filename().c_str(), kTokens, med, kRepeats, base, tps);
    RecordProperty(std::string("tokens_per_s_") + name, std::to_string(tps));
  }
}

}  // namespace
}  // namespace nnb::wasmtest

// The nnbridge command as users and scripts call it: a real process, real files.
#include <cstdio>
#include <cstdlib>

#include "child_process.h"
#include "vulkan_available.h"
#include "test_util.h"

namespace nnb {
namespace {

struct Proc {
  int status = -1;
  std::string out;  // stdout (stderr too when merged)
};

Proc run_cli(const std::string& args, bool merge_stderr = false) {
  const std::string cmd = std::string("'") + NNB_CLI_PATH + "' " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  const test::RunResult r = test::run_shell(cmd);
  return Proc{r.exit_code, r.out};
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(test::scratch_dir("cli"));
    model_ = new std::string((*dir_ / "tiny-q8.gguf").string());
    const Proc r = run_cli("mkmodel -o '" + *model_ + "' --type Q8_0 --n-embd 128 --n-ff 256 --seed 5", true);
    ASSERT_EQ(r.status, 0) << r.out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete model_;
  }
  static std::filesystem::path* dir_;
  static std::string* model_;
};
std::filesystem::path* Cli::dir_ = nullptr;
std::string* Cli::model_ = nullptr;

TEST_F(Cli, GenerateJsonIsOneLineWithTheDocumentedKeys) {
  const Proc r = run_cli("generate -m '" + *model_ + "' -p 'once upon a time' -n 12 --temp 0 --json");
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"prompt_tokens", "tokens", "text", "pp_tokens_per_s", "tg_tokens_per_s"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["prompt_tokens"][0], 1);  // BOS
  EXPECT_LE(j["tokens"].size(), 12u);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0.0);
  // Greedy is deterministic: the same run gives the same tokens.
  const auto j2 = nlohmann::json::parse(run_cli("generate -m '" + *model_ + "' -p 'once upon a time' -n 12 --temp 0 --json").out);
  EXPECT_EQ(j["tokens"], j2["tokens"]);
}

TEST_F(Cli, StreamedTextEqualsJsonText) {
  const std::string args = "generate -m '" + *model_ + "' -p 'the' -n 10 --temp 0";
  const auto j = nlohmann::json::parse(run_cli(args + " --json").out);
  const Proc streamed = run_cli(args);
  ASSERT_EQ(streamed.status, 0);
  // --json replaces invalid UTF-8 (byte-fallback pieces) with U+FFFD; streaming writes raw bytes.
  const auto replaced = nlohmann::json::parse(
      nlohmann::json(streamed.out).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  EXPECT_EQ(replaced.get<std::string>(), "the" + j["text"].get<std::string>() + "\n");
}

TEST_F(Cli, TokenizeAndInfo) {
  const auto j = nlohmann::json::parse(run_cli("tokenize -m '" + *model_ + "' 'the girl'").out);
  ASSERT_EQ(j["ids"].size(), j["pieces"].size());
  EXPECT_EQ(j["ids"][0], 1);
  EXPECT_EQ(j["pieces"][1], " the");
  const auto nobos = nlohmann::json::parse(run_cli("tokenize --no-bos -m '" + *model_ + "' 'the girl'").out);
  EXPECT_EQ(nobos["ids"].size() + 1, j["ids"].size());
  const Proc info = run_cli("info '" + *model_ + "'");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.out.find("architecture:    llama"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("q8_0 x"), std::string::npos) << info.out;
}

TEST_F(Cli, ModelFromEnvironment) {
  setenv("NNBRIDGE_MODEL", model_->c_str(), 1);
  const Proc r = run_cli("generate -n 3 --temp 0 --json");
  unsetenv("NNBRIDGE_MODEL");
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(nlohmann::json::parse(r.out).contains("tokens"));
}

TEST_F(Cli, BadInputIsAClearErrorWithStatus1) {
  Proc r = run_cli("generate -m /nonexistent/model.gguf", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("/nonexistent/model.gguf"), std::string::npos) << r.out;
  const auto junk = *dir_ / "junk.gguf";
  FILE* f = fopen(junk.c_str(), "wb");
  fputs("this is not a model", f);
  fclose(f);
  r = run_cli("info '" + junk.string() + "'", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("not a GGUF file"), std::string::npos) << r.out;
  r = run_cli("mkmodel -o '" + (*dir_ / "x.gguf").string() + "' --type Q9_9", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("unknown weight type"), std::string::npos) << r.out;
}

// serve's numeric limits are checked before anything starts (no socket is created).
TEST_F(Cli, ServeRefusesImpossibleBatchSettingsByName) {
  const std::string sock = (*dir_ / "never.sock").string();
  for (const std::string bad : {"--batch-prompt-chunk 0", "--batch-parallel -1", "--kv-cells -5"}) {
    const Proc r = run_cli("serve --nn-rpc-uri 'unix://" + sock + "' " + bad, true);
    EXPECT_EQ(r.status, 1) << bad << ": " << r.out;
    EXPECT_NE(r.out.find(bad.substr(0, bad.find(' '))), std::string::npos) << bad << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(sock)) << bad;
  }
}

// --kv-type f16 / q8_0: generation on the CPU with the 16- or 8-bit cache, reported in --json; an
// unknown type is a usage error; a device without it (Vulkan) is refused by name, not silently f32.
TEST_F(Cli, KvTypeF16RunsOnTheCpuAndIsRefusedWhereItIsMissing) {
  Proc r = run_cli("bench -m '" + *model_ + "' -p 8 -n 4 --device cpu --kv-type f16 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["kv_type"], "f16");
  r = run_cli("generate -m '" + *model_ + "' -n 4 --temp 0 --device cpu --kv-type f16 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"].size(), 4u);
  r = run_cli("bench -m '" + *model_ + "' --kv-type f8", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--kv-type"), std::string::npos) << r.out;
  // q8_0: the same on the CPU; a model whose head dimension is not a multiple of 32 (n_embd 96,
  // 4 heads: 24) is refused, naming the reason.
  r = run_cli("generate -m '" + *model_ + "' -n 4 --temp 0 --device cpu --kv-type q8_0 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"].size(), 4u);
  const std::string odd = (*dir_ / "hd24.gguf").string();
  ASSERT_EQ(run_cli("mkmodel -o '" + odd + "' --type Q8_0 --n-embd 96 --n-head 4 --n-head-kv 4 --n-ff 128").status, 0);
  r = run_cli("bench -m '" + odd + "' -p 8 -n 4 --kv-type q8_0", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("KV cache type q8_0 needs a head dimension that is a multiple of 32, at most 512 (this model's is 24)"),
            std::string::npos)
      << r.out;
  if (test::vulkan_available()) {
    r = run_cli("bench -m '" + *model_ + "' -p 8 -n 4 --device vulkan --kv-type f16", true);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("KV cache type f16 is not implemented on vulkan"), std::string::npos) << r.out;
    r = run_cli("bench -m '" + *model_ + "' -p 8 -n 4 --device vulkan --kv-type q8_0", true);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("KV cache type q8_0 is not implemented on vulkan"), std::string::npos) << r.out;
    const std::string sock = (*dir_ / "kv.sock").string();
    r = run_cli("serve --nn-rpc-uri 'unix://" + sock + "' --device vulkan --kv-type f16", true);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("--kv-type f16: only the CPU device has it"), std::string::npos) << r.out;
  }
}

// Linked under WasmEdge's names, the binary takes their place in existing scripts.
TEST_F(Cli, WasmEdgeNamesImplyTheSubcommand) {
  for (const auto& [alias, expect] : {std::pair{"wasi_nn_rpcserver", "Serve WASI-NN over gRPC"},
                                      std::pair{"wasmedge", "Run a WASI app"}}) {
    const auto link = *dir_ / alias;
    std::filesystem::remove(link);
    std::filesystem::create_symlink(NNB_CLI_PATH, link);
    const std::string out = test::run_shell(std::string("'") + link.string() + "' --help 2>&1").out;
    EXPECT_NE(out.find(expect), std::string::npos) << alias << ": " << out;
  }
}

TEST_F(Cli, BenchJson) {
  const Proc r = run_cli("bench -m '" + *model_ + "' -p 16 -n 4 --json");
  ASSERT_EQ(r.status, 0);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["pp_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j.contains("tg_bandwidth_fraction"));  // only with --membw
}

// --membw: the machine's read bandwidth measured in the same run and the share of it that
// generation reaches (bytes per token = the weights, one embedding row). No speed is asserted:
// the figures only have to be what they say (positive, the fraction = tg x bytes / bandwidth).
TEST_F(Cli, BenchMembwReportsTheBandwidthShare) {
  const Proc r = run_cli("bench -m '" + *model_ + "' -p 0 -n 8 -t 1 --json --membw");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const double bw = j["read_bandwidth_bytes_per_s"].get<double>();
  EXPECT_GT(bw, 1e8);  // at least 0.1 GB/s on any machine
  EXPECT_GT(j["tg_bytes_per_token"].get<uint64_t>(), 0u);
  EXPECT_LE(j["tg_bytes_per_token"].get<uint64_t>(), j["weight_bytes"].get<uint64_t>());
  EXPECT_NEAR(j["tg_bandwidth_fraction"].get<double>(),
              j["tg_tokens_per_s"].get<double>() * j["tg_bytes_per_token"].get<double>() / bw, 1e-9);
  const Proc remote = run_cli("bench --nn-rpc-uri unix:///nonexistent.sock --membw", true);
  EXPECT_EQ(remote.status, 1);  // refused by name: it would measure the wrong machine
  EXPECT_NE(remote.out.find("--membw"), std::string::npos) << remote.out;
}

// --sequences N: N sequences generated side by side, one batch of N per step; tg is their
// aggregate rate and tg_step_ms the time of one step. Where the option cannot mean anything
// (a share of bandwidth per token, a remote server) it is refused by name.
TEST_F(Cli, BenchSequencesGeneratesSideBySide) {
  const Proc r = run_cli("bench -m '" + *model_ + "' -p 0 -n 5 -t 1 --sequences 3 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["sequences"], 3);
  const double tg = j["tg_tokens_per_s"].get<double>();
  EXPECT_GT(tg, 0.0);
  EXPECT_NEAR(j["tg_step_ms"].get<double>(), 3e3 / tg, 1e-9);
  // Repetitions with a prompt: each starts from an empty cache (the sequences' blocks of the
  // previous repetition would otherwise leave the prompt no room).
  const Proc reps = run_cli("bench -m '" + *model_ + "' -p 40 -n 17 -t 1 --sequences 4 -r 2 --json");
  ASSERT_EQ(reps.status, 0) << reps.out;
  EXPECT_GT(nlohmann::json::parse(reps.out)["pp_tokens_per_s"].get<double>(), 0.0);
  for (const std::string bad : {"-p 0 -n 4 --sequences 2 --membw", "--sequences 0"}) {
    const Proc e = run_cli("bench -m '" + *model_ + "' " + bad, true);
    EXPECT_EQ(e.status, 1) << bad;
    EXPECT_NE(e.out.find(bad.find("membw") != std::string::npos ? "--membw" : "--sequences"), std::string::npos) << e.out;
  }
  const Proc remote = run_cli("bench --nn-rpc-uri unix:///nonexistent.sock --sequences 4", true);
  EXPECT_EQ(remote.status, 1);
  EXPECT_NE(remote.out.find("--sequences"), std::string::npos) << remote.out;
}

}  // namespace
}  // namespace nnb

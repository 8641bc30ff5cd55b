// Guest limits (`nnbridge run --memory-page-limit / --time-limit / --gas-limit`, as WasmEdge's):
// the engine API in-process, then the `nnbridge run` process with tests/wasm_apps/rt_limits.c
// and nn_timeout.c. Also: untouched guest memory costs no resident memory, wasi-nn failures
// are explained on stderr, and usage errors of `run` exit 1. No test asserts a duration (the
// machine is shared); the times are printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "wasm/runtime.h"
#include "wasm/wasi.h"
#include "wasm_e2e.h"

namespace nnb::wasm {
namespace {

namespace fs = std::filesystem;
using wasmtest::run_command;
using wasmtest::RunResult;

constexpr int kAbortExit = 134;  // 128 + SIGABRT: what WasmEdge returns for a cancelled execution
constexpr double kTimeout = 120;

fs::path app(const std::string& name) { return fs::path(NNB_WASM_APPS_DIR) / (name + ".wasm"); }

#define APP_OR_SKIP(var, name)                                                   \
  const fs::path var = app(name);                                                \
  if (!fs::exists(var)) GTEST_SKIP() << var << " not built (clang for wasm32-wasi missing)"

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n--- stdout ---\n" + r.out +
         "\n--- stderr ---\n" + r.err;
}

RunResult run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{NNB_CLI_PATH, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, kTimeout);
}

// (module (func $s (loop (br 0))) (start $s)): an endless start function.
const std::vector<uint8_t> kLoopingStart = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // header
                                            0x01, 0x04, 0x01, 0x60, 0x00, 0x00,              // type [] -> []
                                            0x03, 0x02, 0x01, 0x00,                          // func 0: type 0
                                            0x08, 0x01, 0x00,                                // start: func 0
                                            0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b};

// (module (memory 5)): five pages to start, no maximum.
const std::vector<uint8_t> kFivePages = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                                         0x05, 0x03, 0x01, 0x00, 0x05};

// ---- The engine API ---------------------------------------------------------------------------

TEST(WasmLimits, InitialMemoryOverThePageLimitIsRefused) {
  RuntimeOptions o;
  o.memory_page_limit = 4;
  try {
    instantiate(kFivePages, {}, o, "five.wasm");
    FAIL() << "instantiated a 5-page memory under a 4-page limit";
  } catch (const WasmError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("five.wasm: memory 0 needs 5 pages (320 KiB)"), std::string::npos) << m;
    EXPECT_NE(m.find("page limit of 4 pages (256 KiB)"), std::string::npos) << m;
  }
  o.memory_page_limit = 5;
  auto inst = instantiate(kFivePages, {}, o, "five.wasm");
  EXPECT_TRUE(inst != nullptr);
}

TEST(WasmLimits, StartFunctionIsMeteredToo) {
  RuntimeOptions o;
  o.gas_limit = 100'000;
  try {
    instantiate(kLoopingStart, {}, o, "loop.wasm");
    FAIL() << "an endless start function returned";
  } catch (const LimitExceeded& e) {
    EXPECT_STREQ(e.what(), "gas limit of 100000 interpreter steps exceeded");
  }
  RuntimeOptions t;
  t.time_limit_ms = 50;
  t.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  try {
    instantiate(kLoopingStart, {}, t, "loop.wasm");
    FAIL() << "an endless start function returned";
  } catch (const LimitExceeded& e) {
    EXPECT_STREQ(e.what(), "time limit of 50 ms exceeded");
  }
}

TEST(WasmLimits, GasCountsInterpreterStepsExactly) {
  APP_OR_SKIP(path, "rt_limits");
  const auto bytes = read_bytes(path);
  // The smallest budget a run completes in (found by bisection; no API reports it): one step
  // less stops it. So the count is exact, not rounded to a slice.
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  auto completes = [&](uint64_t gas) {
    WasiOptions wo;
    wo.args = {"rt_limits.wasm", "work", "1000"};
    wo.stdout_fd = devnull;  // the app's checksum line is not wanted here
    WasiHost wasi(wo);
    RuntimeOptions o;
    o.gas_limit = gas;
    auto inst = instantiate(bytes, wasi_functions(wasi), o, "rt_limits.wasm");
    try {
      return inst->run_start() == 0;
    } catch (const LimitExceeded&) {
      return false;
    }
  };
  uint64_t lo = 0, hi = 1'000'000;  // lo fails, hi completes
  ASSERT_TRUE(completes(hi));
  ASSERT_FALSE(completes(lo));
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    (completes(mid) ? hi : lo) = mid;
  }
  std::printf("[ measure ] rt_limits work 1000 needs exactly %llu interpreter steps\n", (unsigned long long)hi);
  EXPECT_TRUE(completes(hi));
  EXPECT_FALSE(completes(hi - 1));
  EXPECT_GT(hi, 1000u) << "at least one step per round";
  ::close(devnull);
}

// ---- nnbridge run: --memory-page-limit and untouched memory ---------------------------------

TEST(WasmLimitsRun, MemoryPageLimitRefusesAndGrowStopsAtIt) {
  APP_OR_SKIP(path, "rt_limits");
  // rt_limits starts with 2 pages (its data and stack).
  RunResult r = run({"--memory-page-limit", "1", path.string(), "grow", "1"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("nnbridge: error: " + path.string() + ": memory 0 needs 2 pages (128 KiB) to start, over the "
                       "memory page limit of 1 page (64 KiB) (--memory-page-limit)"),
            std::string::npos)
      << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);

  r = run({"--memory-page-limit", "100", path.string(), "grow", "3"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "pages=100 contents_ok=1\n") << describe(r);

  r = run({"--memory-page-limit", "100", path.string(), "grow_once", "99"});
  EXPECT_EQ(r.out, "grow(99)=-1 pages=2\n") << "memory.grow past the limit returns -1\n" << describe(r);
  r = run({"--memory-page-limit", "100", path.string(), "grow_once", "98"});
  EXPECT_EQ(r.out, "grow(98)=2 pages=100\n") << "up to the limit is fine\n" << describe(r);
  // Above wasm32's 65536 pages a limit means 65536 (wasmedge takes any u32).
  r = run({"--memory-page-limit", "4000000000", path.string(), "grow_once", "65534"});
  EXPECT_EQ(r.out, "grow(65534)=2 pages=65536\n") << describe(r);
}

TEST(WasmLimitsRun, UntouchedMemoryCostsNoResidentMemory) {
  APP_OR_SKIP(path, "rt_limits");
  // Grows page by page to 4 GiB (the default limit) and writes one byte every 256 pages
  // (16 MiB): 256 touched host pages. Before, wabt's memset committed all 4 GiB.
  const RunResult r = run({path.string(), "grow", "256"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "pages=65536 contents_ok=1\n") << describe(r);
  std::printf("[ measure ] grow to 65536 pages (4 GiB), 256 touched: peak RSS %.1f MiB, %.2f s\n",
              double(r.max_rss_kib) / 1024, r.seconds);
  EXPECT_GT(r.max_rss_kib, 0);
  EXPECT_LT(r.max_rss_kib, 256 * 1024) << "peak RSS of the nnbridge process, KiB";
}

TEST(WasmLimitsRun, WithoutAddressSpaceForTheLimitGrowFailsCleanly) {
  APP_OR_SKIP(path, "rt_limits");
  // 3 GB of address space (a small VM's overcommit refuses a 4 GiB reservation the same way):
  // the memory's maximum becomes what could be reserved, and memory.grow past it returns -1,
  // instead of the host running out of memory in the middle of a grow.
  const RunResult r = run_command(
      {"/bin/sh", "-c", "ulimit -v 3000000 && exec \"$0\" run \"$1\" grow 256", NNB_CLI_PATH, path.string()}, kTimeout);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  unsigned pages = 0;
  int ok = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "pages=%u contents_ok=%d", &pages, &ok), 2) << describe(r);
  EXPECT_EQ(ok, 1) << describe(r);
  EXPECT_GE(pages, 2u);
  EXPECT_LT(pages, 65536u);
  std::printf("[ measure ] under a 3 GB address-space limit the memory could grow to %u pages\n", pages);
}

// ---- nnbridge run: --time-limit and --gas-limit ----------------------------------------------

TEST(WasmLimitsRun, TimeLimitStopsAnEndlessLoop) {
  APP_OR_SKIP(path, "rt_limits");
  const RunResult r = run({"--time-limit", "200", path.string(), "spin"});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, kAbortExit) << describe(r);
  EXPECT_EQ(r.err, "nnbridge: time limit of 200 ms exceeded\n") << describe(r);
  std::printf("[ measure ] --time-limit 200 on an endless loop: stopped after %.3f s\n", r.seconds);
}

TEST(WasmLimitsRun, TimeLimitEndsAHostCallThatBlocks) {
  APP_OR_SKIP(path, "rt_limits");
  // A one-minute WASI sleep: no guest code runs to notice the deadline; the watchdog ends it.
  const RunResult r = run({"--time-limit", "200", path.string(), "sleep", "60000"});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, kAbortExit) << describe(r);
  EXPECT_EQ(r.err, "nnbridge: time limit of 200 ms exceeded (a host call was still running)\n") << describe(r);
  EXPECT_EQ(r.out.find("woke"), std::string::npos) << describe(r);
  std::printf("[ measure ] --time-limit 200 on a 60 s sleep: stopped after %.3f s\n", r.seconds);
}

TEST(WasmLimitsRun, GasLimitStopsALoopAndEnoughGasChangesNothing) {
  APP_OR_SKIP(path, "rt_limits");
  RunResult r = run({"--gas-limit", "5000000", path.string(), "spin"});
  EXPECT_EQ(r.exit_code, kAbortExit) << describe(r);
  EXPECT_EQ(r.err, "nnbridge: gas limit of 5000000 interpreter steps exceeded\n") << describe(r);
  r = run({"--gas-limit", "0", path.string(), "spin"});
  EXPECT_EQ(r.exit_code, kAbortExit) << describe(r);

  // The same work with and without limits: same output. The times show what metering costs.
  const RunResult plain = run({path.string(), "work", "20000000"});
  const RunResult limited = run({"--gas-limit", "100000000000", "--time-limit", "600000", path.string(), "work",
                                 "20000000"});
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  ASSERT_EQ(limited.exit_code, 0) << describe(limited);
  EXPECT_EQ(plain.out, limited.out);
  EXPECT_NE(plain.out.find("checksum="), std::string::npos) << describe(plain);
  std::printf("[ measure ] work 20000000: %.2f s without limits, %.2f s with --gas-limit and --time-limit\n",
              plain.seconds, limited.seconds);
}

// A local wasi-nn computation in flight stops at the deadline (the context's abort check),
// not at the watchdog: the message has no "host call was still running", and the app never
// sees the errno of the computation cut short.
TEST(WasmLimitsRun, TimeLimitStopsAWasiNnComputation) {
  APP_OR_SKIP(path, "nn_timeout");
  const fs::path dir = test::scratch_dir("wasm-limits");
  const fs::path model = dir / "slow.gguf";
  // ~29 M parameters: 8,000 tokens take ~30 s on the 2-core CI class (1,000 tokens/s at first,
  // slower as the cache fills). The grammar never completes, so the end-of-generation token can
  // never be sampled: without it, greedy decoding of this random model stopped after 833 tokens
  // (0.6 s) once the kernels' rounding changed, and the limit had nothing to stop.
  const RunResult mk = run_command({NNB_CLI_PATH, "mkmodel", "-o", model.string(), "--type", "Q8_0", "--n-embd",
                                    "512", "--n-layer", "8", "--n-head", "8", "--n-ff", "1376", "--n-vocab", "4000"},
                                   kTimeout);
  ASSERT_EQ(mk.exit_code, 0) << describe(mk);
  const RunResult r = run({"--time-limit", "1500", "--nn-preload", "slow:GGML:AUTO:" + model.string(), path.string(),
                           "slow", "8000", "8192", "root ::= [a-z] root"});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, kAbortExit) << describe(r);
  EXPECT_EQ(r.err, "nnbridge: time limit of 1500 ms exceeded\n") << describe(r);
  EXPECT_EQ(r.out.find("compute="), std::string::npos) << describe(r);
  std::printf("[ measure ] --time-limit 1500 on an 8000-token compute: stopped after %.3f s\n", r.seconds);
}

// ---- nnbridge run: wasi-nn failures a person can act on ------------------------------------

TEST(WasmLimitsRun, FailedWasiNnLoadsAreExplainedOnStderr) {
  APP_OR_SKIP(path, "nn_output");
  const fs::path dir = test::scratch_dir("wasm-nn-errors");
  const fs::path damaged = dir / "damaged.gguf";
  {
    std::ofstream out(damaged, std::ios::binary);
    out << "GGUF" << std::string(60, '\x7f');
  }
  const std::vector<std::string> preloads{"--nn-preload", "gone:GGML:AUTO:" + (dir / "missing.gguf").string(),
                                          "--nn-preload", "damaged:GGML:AUTO:" + damaged.string()};
  struct Case {
    std::string model, want;
  };
  for (const Case& c : {Case{"nope", "errno=8 (not found): no model named 'nope'"},
                        Case{"gone", "errno=103 (model not found): model file not found: " +
                                         (dir / "missing.gguf").string()},
                        Case{"damaged", "errno=1 (invalid argument): cannot load model " + damaged.string()}}) {
    SCOPED_TRACE(c.model);
    std::vector<std::string> args = preloads;
    args.insert(args.end(), {path.string(), c.model});
    const RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);  // open_model gives up
    EXPECT_NE(r.err.find("nnbridge: wasi-nn load_by_name_with_config failed: " + c.want), std::string::npos)
        << describe(r);
  }
  // A server that is not there: the address and what to do.
  const std::string sock = (dir / "nobody.sock").string();
  const RunResult r = run({"--nn-rpc-uri", "unix://" + sock, path.string(), "default"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("nnbridge: wasi-nn load_by_name_with_config failed: errno=5 (runtime error): cannot reach "
                       "server at unix://" + sock),
            std::string::npos)
      << describe(r);
}

// ---- nnbridge run: usage errors exit 1 ---------------------------------------------------------

// A module that is no regular file is refused at once (exit 1), never read without end: a
// device (/dev/zero was read until memory ran out) or a FIFO nobody writes.
TEST(WasmLimitsRun, ModulesMustBeRegularFiles) {
  const auto dir = test::scratch_dir("wasm_limits_fifo");
  ::mkfifo((dir / "app.wasm").c_str(), 0600);
  for (const std::string& path : {std::string("/dev/zero"), (dir / "app.wasm").string()}) {
    const RunResult r = run({path});
    EXPECT_FALSE(r.timed_out) << path;
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << describe(r);
  }
}

TEST(WasmLimitsRun, UsageErrorsExitOne) {
  APP_OR_SKIP(path, "rt_limits");
  const std::vector<std::vector<std::string>> cases = {
      {},                                                   // no app
      {"--bogus", path.string()},                           // unknown option
      {"--time-limit", "soon", path.string()},              // not a number
      {"--gas-limit", "-1", path.string()},                 // negative
      {"--memory-page-limit", "99999999999", path.string()},  // over u32
      {"--max-call-depth", "16000001", path.string()},      // over the maximum
      {"--dir"},                                            // option without its value
  };
  for (const auto& args : cases) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    SCOPED_TRACE(shown);
    const RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_FALSE(r.err.empty()) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
  }
  RunResult r = run({"--time-limit", "soon", path.string()});
  EXPECT_NE(r.err.find("--time-limit: expected a whole number"), std::string::npos) << describe(r);
  r = run({"--bogus", path.string()});
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << describe(r);
  // The app's own exit status still passes through.
  r = run({path.string(), "nonsense"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
}

}  // namespace
}  // namespace nnb::wasm

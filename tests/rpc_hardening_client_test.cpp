// The client's connection (issue 8): a call waits for the channel to be ready within
// ClientOptions::connect_timeout (`--connect-timeout`), and each connection attempt gets that
// whole budget, so a busy but healthy server never produces a spurious UNAVAILABLE; a server
// that is really down (or never answers) still fails, with errno 5 and a message naming the
// URI, once the timeout has passed.
//
// Real `nnbridge serve` processes on UNIX sockets (rpc_server_harness.h), real `nnbridge chat`
// client processes. Times are printed, never asserted (a shared 2-core machine).
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include "rpc/client.h"
#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

struct ClientRun {
  int status = -1;  // exit code, or -1 when it did not exit normally
  double seconds = 0;
  fs::path log;
};

// `nnbridge ARGS…` as a child process with stdout+stderr in `log`; waits for it.
ClientRun run_nnbridge(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all{NNB_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  ClientRun r;
  r.log = log;
  const auto t0 = Clock::now();
  test::ChildProcess p(all, log);
  const int st = p.wait();
  r.seconds = seconds_since(t0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Keeps `n` threads spinning, as the neighbours' builds do on the project machine.
class CpuHogs {
 public:
  explicit CpuHogs(int n) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        volatile uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x + 1;
      });
  }
  ~CpuHogs() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Lowers the priority of every thread of process `pid` (nice 10): a server that loses the CPU
// to its neighbours, as on a host at load 30, is slow to accept and to send its HTTP/2
// SETTINGS. With gRPC's attempt budget at 100 ms (the old client) a third of these clients
// failed with UNAVAILABLE.
void renice_all_threads(pid_t pid, int nice) {
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    setpriority(PRIO_PROCESS, id_t(std::stoi(t.path().filename().string())), nice);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

TEST(RpcConnect, SixteenClientsStartedTogetherUnderLoadAllConnect) {
  Served srv("rpc_connect_16", {"--threads", "1"});
  ASSERT_TRUE(srv.ready);
  constexpr int kClients = 16, kRounds = 5;
  renice_all_threads(srv.proc->pid(), 10);
  CpuHogs hogs(2);  // both cores busy before any client starts
  // The clients' --connect-timeout: the default unless NNB_TEST_CONNECT_TIMEOUT says (0.1
  // reproduces the old client's 100 ms budget, and its failures).
  const char* ct = std::getenv("NNB_TEST_CONNECT_TIMEOUT");
  int failures = 0;
  std::string failed_logs;
  std::vector<double> all;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::future<ClientRun>> runs;
    for (int i = 0; i < kClients; ++i)
      runs.push_back(std::async(std::launch::async, [&, i] {
        std::vector<std::string> args{"chat", "--nn-rpc-uri", "unix://" + srv.sock.string(), "-p", "Once upon a time",
                                      "-n", "4", "--temp", "0"};
        if (ct) args.insert(args.end(), {"--connect-timeout", ct});
        return run_nnbridge(args, srv.dir / ("client-" + std::to_string(round) + "-" + std::to_string(i) + ".log"));
      }));
    std::vector<double> secs;
    int round_failures = 0;
    for (auto& f : runs) {
      const ClientRun r = f.get();
      secs.push_back(r.seconds);
      if (r.status != 0) {
        ++round_failures;
        failed_logs += r.log.filename().string() + " (exit " + std::to_string(r.status) + "): " + slurp(r.log) + "\n";
      }
    }
    failures += round_failures;
    all.insert(all.end(), secs.begin(), secs.end());
    std::printf("[ measured ] round %d: %d clients at once (2 CPU hogs, server at nice 10), %d failed; per client "
                "median %.0f ms, "
                "max %.0f ms\n",
                round + 1, kClients, round_failures, median(secs) * 1e3, *std::max_element(secs.begin(), secs.end()) * 1e3);
  }
  std::printf("[ measured ] %d client runs: median %.0f ms, max %.0f ms\n", kClients * kRounds, median(all) * 1e3,
              *std::max_element(all.begin(), all.end()) * 1e3);
  EXPECT_EQ(failures, 0) << failed_logs;
  // Every client's generation reached the server (one log line each).
  size_t lines = 0;
  const std::string log = srv.proc->log();
  for (size_t p = 0; (p = log.find("generation: session=", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, size_t(kClients * kRounds)) << log;
}

rpc::ClientOptions options(const std::string& uri, std::chrono::milliseconds connect_timeout) {
  rpc::ClientOptions o;
  o.uri = uri;
  o.connect_timeout = connect_timeout;
  o.call_timeout = std::chrono::seconds(30);
  o.compute_timeout = std::chrono::seconds(60);
  return o;
}

TEST(RpcConnect, NobodyListeningFailsAfterTheTimeoutNamingTheUri) {
  const fs::path dir = test::scratch_dir("rpc_connect_down");
  const std::string uri = "unix://" + (dir / "nobody.sock").string();
  rpc::RemoteBackend remote(options(uri, std::chrono::milliseconds(300)));
  const auto t0 = Clock::now();
  try {
    remote.load_by_name("default", "");
    FAIL() << "load_by_name succeeded without a server";
  } catch (const rpc::TransportError& e) {
    std::printf("[ measured ] no server, --connect-timeout 0.3: failed after %.0f ms: %s\n", seconds_since(t0) * 1e3,
                e.what());
    EXPECT_EQ(e.code(), nn::Errno::RuntimeError);
    EXPECT_EQ(e.grpc_code(), int(grpc::StatusCode::UNAVAILABLE));
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot reach server at " + uri), std::string::npos) << msg;
    EXPECT_NE(msg.find("no connection within 0.3 s"), std::string::npos) << msg;
  }
  // Every kind of call fails the same way, never with success.
  EXPECT_THROW(remote.generate("default", "x", "", [](std::string_view) { return true; }), rpc::TransportError);

  // The command line: exit 1, the URI named.
  const ClientRun r = run_nnbridge({"chat", "--nn-rpc-uri", uri, "-p", "hi", "--connect-timeout", "0.5"}, dir / "chat.log");
  EXPECT_EQ(r.status, 1) << slurp(r.log);
  EXPECT_NE(slurp(r.log).find("cannot reach server at " + uri), std::string::npos) << slurp(r.log);
}

TEST(RpcConnect, AServerThatNeverAnswersFailsAfterTheTimeout) {
  // A socket that is listening (the kernel completes connects into its backlog) but whose
  // owner never accepts or speaks HTTP/2: a hung server. The call must not hang with it.
  const fs::path dir = test::scratch_dir("rpc_connect_hung");
  const fs::path sock = dir / "hung.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 64), 0);
  const std::string uri = "unix://" + sock.string();
  rpc::RemoteBackend remote(options(uri, std::chrono::milliseconds(700)));
  const auto t0 = Clock::now();
  try {
    remote.load_by_name("default", "");
    ADD_FAILURE() << "load_by_name succeeded against a server that never answers";
  } catch (const rpc::TransportError& e) {
    std::printf("[ measured ] hung server, connect timeout 0.7 s: failed after %.0f ms\n", seconds_since(t0) * 1e3);
    EXPECT_EQ(e.code(), nn::Errno::RuntimeError);
    EXPECT_NE(std::string(e.what()).find("cannot reach server at " + uri), std::string::npos) << e.what();
  }
  close(fd);
}

TEST(RpcConnect, ACallMadeBeforeTheServerListensWaitsForIt) {
  const fs::path dir = test::scratch_dir("rpc_connect_late");
  const std::string uri = "unix://" + (dir / "s.sock").string();
  rpc::RemoteBackend remote(options(uri, std::chrono::seconds(60)));
  std::atomic<bool> call_started{false};
  auto call = std::async(std::launch::async, [&] {
    call_started = true;
    return remote.load_by_name("default", "");
  });
  ASSERT_TRUE(eventually([&] { return call_started.load(); }, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the client is retrying by now
  const auto t_call_pending = Clock::now();
  // Whether the call was still waiting when the server came: it must have been (no server
  // existed), and it must then succeed rather than report UNAVAILABLE.
  const bool pending = call.wait_for(std::chrono::seconds(0)) == std::future_status::timeout;
  Served srv("rpc_connect_late");  // same directory name: listens on dir/s.sock
  ASSERT_TRUE(srv.ready);
  ASSERT_EQ(srv.sock.string(), uri.substr(7));
  std::shared_ptr<nn::Graph> g;
  ASSERT_NO_THROW(g = call.get());
  EXPECT_TRUE(pending) << "the call returned before any server existed";
  EXPECT_TRUE(g != nullptr);
  std::printf("[ measured ] call made %.0f ms before the server was started and ready; it succeeded\n",
              seconds_since(t_call_pending) * 1e3);
}

TEST(RpcConnect, ConnectTimeoutFlagIsValidated) {
  const fs::path dir = test::scratch_dir("rpc_connect_flag");
  for (const char* bad : {"0", "-1", "abc", "0.01"}) {
    SCOPED_TRACE(bad);
    const ClientRun r = run_nnbridge(
        {"chat", "--nn-rpc-uri", "unix://" + (dir / "x.sock").string(), "-p", "hi", "--connect-timeout", bad},
        dir / "chat.log");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(slurp(r.log).find("--connect-timeout"), std::string::npos) << slurp(r.log);
  }
  // Only meaningful with a server: the local bench refuses it instead of ignoring it.
  const ClientRun b = run_nnbridge({"bench", "--connect-timeout", "2", "-p", "1", "-n", "1"}, dir / "bench.log");
  EXPECT_EQ(b.status, 1);
  EXPECT_NE(slurp(b.log).find("--connect-timeout"), std::string::npos) << slurp(b.log);
  const ClientRun run = run_nnbridge({"run", "--connect-timeout", "0", "app.wasm"}, dir / "run.log");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(slurp(run.log).find("--connect-timeout"), std::string::npos) << slurp(run.log);
  // bench --nn-rpc-uri takes it (here: nothing listens, so it fails naming the URI).
  const std::string uri = "unix://" + (dir / "none.sock").string();
  const ClientRun rb = run_nnbridge({"bench", "--nn-rpc-uri", uri, "--connect-timeout", "0.2", "-p", "8", "-n", "2"},
                                    dir / "rbench.log");
  EXPECT_EQ(rb.status, 1);
  EXPECT_NE(slurp(rb.log).find("cannot reach server at " + uri), std::string::npos) << slurp(rb.log);
}

}  // namespace
}  // namespace nnb::rpctest

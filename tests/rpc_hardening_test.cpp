// The host against an untrusted guest (issue: harden host and guest): handles that reveal
// nothing and work only in their own session, bounded work per request, computations that stop
// when their caller is gone or the server stops, tables that evict instead of locking everyone
// out, and preloads validated at start-up. A real `nnbridge serve` on a UNIX socket, raw stubs.
// No assertion on wall-clock time: events and states are asserted, durations printed.
#include <gtest/gtest.h>

#include <bitset>
#include <future>
#include <set>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

long status_kb(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

// The log line count of `needle` in the server's log.
size_t count_in(const std::string& log, const std::string& needle) {
  size_t n = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

struct Owned {
  uint32_t graph = 0, ctx = 0;
};

TEST(RpcHardening, HandleOfOneSessionIsRefusedInEveryOther) {
  Served srv("rpc_hardening_scopes");
  ASSERT_TRUE(srv.ready);
  Wasi anon(srv.channel());
  Wasi alpha(srv.channel(), CallOpts("alpha"));
  Wasi beta(srv.channel(), CallOpts("beta"));
  SessionStream sa(alpha.stubs(), alpha.opts()), sb(beta.stubs(), beta.opts());
  ASSERT_TRUE(sa.attached() && sb.attached());
  std::vector<Wasi*> clients{&anon, &alpha, &beta};
  std::vector<Owned> owned(clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i]->load("default", &owned[i].graph).ok());
    ASSERT_TRUE(clients[i]->init(owned[i].graph, &owned[i].ctx).ok());
    ASSERT_TRUE(clients[i]->set_input(owned[i].ctx, 0, "Once").ok());
  }
  for (size_t owner = 0; owner < clients.size(); ++owner)
    for (size_t other = 0; other < clients.size(); ++other) {
      if (owner == other) continue;
      Wasi& w = *clients[other];
      const Owned& h = owned[owner];
      SCOPED_TRACE("handles of client " + std::to_string(owner) + " used by client " + std::to_string(other));
      EXPECT_EQ(w.init(h.graph, nullptr).errno_trailer, 1);
      EXPECT_EQ(w.set_input(h.ctx, 0, "hijacked").errno_trailer, 1);
      EXPECT_EQ(w.compute(h.ctx).errno_trailer, 1);
      EXPECT_EQ(w.compute(h.ctx, true).errno_trailer, 1);
      EXPECT_EQ(w.get_output(h.ctx, 0, nullptr).errno_trailer, 1);
      EXPECT_EQ(w.get_output(h.ctx, 0, nullptr, true).errno_trailer, 1);
      EXPECT_EQ(w.fini_single(h.ctx).errno_trailer, 1);
      EXPECT_EQ(w.finalize(h.ctx).errno_trailer, 1);
      EXPECT_EQ(w.unload(h.graph).errno_trailer, 1);
    }
  // Nothing above touched the owners' objects: each still computes its own prompt.
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i]->set_input(owned[i].ctx, 1, greedy_options(4)).ok());
    ASSERT_TRUE(clients[i]->set_input(owned[i].ctx, 0, "Once").ok());
    EXPECT_TRUE(clients[i]->compute(owned[i].ctx).ok());
  }
}

TEST(RpcHardening, ThousandsOfHandlesShowNoPattern) {
  Served srv("rpc_hardening_handles");
  ASSERT_TRUE(srv.ready);
  Wasi anon(srv.channel());
  constexpr int kN = 3000;
  std::vector<uint32_t> h(kN);
  for (auto& x : h) ASSERT_TRUE(anon.load("default", &x).ok());
  EXPECT_EQ(std::set<uint32_t>(h.begin(), h.end()).size(), size_t(kN)) << "a handle repeated";
  // Each bit is set in about half of the handles (binomial sd ~0.9%: 45–55% is > 5 sd).
  int worst = kN / 2;
  for (int bit = 0; bit < 32; ++bit) {
    int ones = 0;
    for (uint32_t x : h) ones += (x >> bit) & 1;
    if (std::abs(ones - kN / 2) > std::abs(worst - kN / 2)) worst = ones;
    EXPECT_GT(ones, kN * 45 / 100) << "bit " << bit;
    EXPECT_LT(ones, kN * 55 / 100) << "bit " << bit;
  }
  // No counter or stride: consecutive differences are (nearly) all distinct.
  std::set<uint32_t> diffs;
  for (int i = 1; i < kN; ++i) diffs.insert(h[i] - h[i - 1]);
  EXPECT_GT(diffs.size(), size_t(kN - 10));
  std::printf("[ measured ] %d handles: all distinct, most unbalanced bit set in %.1f%%, %zu distinct steps\n", kN,
              100.0 * worst / kN, diffs.size());
}

TEST(RpcHardening, OversizedPromptsAreRefusedBeforeTokenizing) {
  Served srv("rpc_hardening_oversized");
  ASSERT_TRUE(srv.ready);
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<Wasi>> clients;
  std::vector<uint32_t> ctx(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Wasi>(srv.channel()));
    uint32_t g = 0;
    ASSERT_TRUE(clients[i]->load("default", &g).ok());
    ASSERT_TRUE(clients[i]->init(g, &ctx[i]).ok());
    ASSERT_TRUE(clients[i]->set_input(ctx[i], 1, greedy_options(4)).ok());
    ASSERT_TRUE(clients[i]->set_input(ctx[i], 0, "Once").ok());
    ASSERT_TRUE(clients[i]->compute(ctx[i]).ok());  // model and contexts resident
    ASSERT_TRUE(clients[i]->set_input(ctx[i], 0, "Once").ok());  // the prompt a refusal must not lose
  }
  const long base_kb = srv.proc->rss_kb();
  // Just under the default 16 MiB message limit: the largest prompt a client can send.
  const std::string huge(15u << 20, 'a');
  std::vector<std::future<std::pair<Result, double>>> calls;
  for (int i = 0; i < kClients; ++i)
    calls.push_back(std::async(std::launch::async, [&, i] {
      const auto t0 = Clock::now();
      auto r = clients[i]->set_input(ctx[i], 0, huge);
      return std::make_pair(r, seconds_since(t0));
    }));
  for (auto& f : calls) {
    auto [r, secs] = f.get();
    EXPECT_EQ(r.errno_trailer, 102) << r.status.error_message();  // PromptTooLong
    EXPECT_NE(r.status.error_message().find("cannot fit"), std::string::npos) << r.status.error_message();
    std::printf("[ measured ] 15 MiB prompt refused in %.0f ms\n", secs * 1e3);
  }
  const long peak_kb = status_kb(srv.proc->pid(), "VmHWM:");
  const double grew_mib = double(peak_kb - base_kb) / 1024.0;
  std::printf("[ measured ] server RSS %.1f MiB with model + %d contexts; peak during 4 oversized prompts %.1f MiB "
              "(+%.1f MiB)\n",
              base_kb / 1024.0, kClients, peak_kb / 1024.0, grew_mib);
  EXPECT_LT(grew_mib, 256.0);
  // The refusals lost nothing: the prompt set before them is still there and computes.
  for (int i = 0; i < kClients; ++i) EXPECT_TRUE(clients[i]->compute(ctx[i]).ok());
}

TEST(RpcHardeningChild, Run) { run_child_client(); }

TEST(RpcHardening, UnaryComputeOfKilledClientStops) {
  Served srv("rpc_hardening_killed_compute");
  ASSERT_TRUE(srv.ready);
  ChildClient child("compute", srv.sock, "", srv.dir / "child.log");
  ASSERT_TRUE(child.wait_ready()) << child.log();
  // Let the endless compute get going, then kill the client the way a VM's process dies.
  ASSERT_TRUE(eventually([&] { return cpu_seconds(srv.proc->pid()) > 0.3; }, 30)) << srv.proc->log();
  const auto t0 = Clock::now();
  child.kill9();
  ASSERT_TRUE(eventually([&] { return srv.proc->log().find("the caller is gone") != std::string::npos; }, 30))
      << srv.proc->log();
  std::printf("[ measured ] client killed mid-compute → compute stopped after %.0f ms\n", seconds_since(t0) * 1e3);
  const double cpu0 = cpu_seconds(srv.proc->pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_cpu = cpu_seconds(srv.proc->pid()) - cpu0;
  std::printf("[ measured ] server CPU in the next second: %.2f s\n", idle_cpu);
  EXPECT_LT(idle_cpu, 0.5) << "the server still computes for nobody";
}

TEST(RpcHardening, GenerateStopsDuringPromptWhenTheClientGoes) {
  Served srv("rpc_hardening_prompt_cancel");
  ASSERT_TRUE(srv.ready);
  Wasi observer(srv.channel());
  Stubs s(srv.channel());
  // ~40k tokens of prompt in a 60k context: many seconds of prompt evaluation on this model.
  std::string prompt;
  while (prompt.size() < 160000) prompt += "Once upon a time there was a little dog. ";
  grpc::ClientContext c;
  prepare(c, CallOpts("prompt-client"));
  npb::GenerateRequest rq;
  rq.set_model("default");
  rq.set_prompt(prompt);
  rq.set_options_json("{\"temp\":0,\"n-predict\":4,\"ctx-size\":60000}");
  auto reader = s.nnb->Generate(&c, rq);
  ASSERT_TRUE(eventually([&] { return live_contexts(observer) == 1; }, 30)) << srv.proc->log();
  ASSERT_TRUE(eventually([&] { return cpu_seconds(srv.proc->pid()) > 0.5; }, 30));
  const auto t0 = Clock::now();
  c.TryCancel();
  ASSERT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30)) << srv.proc->log();
  std::printf("[ measured ] Generate cancelled during its prompt → context freed after %.0f ms\n",
              seconds_since(t0) * 1e3);
  EXPECT_NE(srv.proc->log().find("generate stopped after 0 tokens"), std::string::npos) << srv.proc->log();
  npb::GenerateResponse m;
  while (reader->Read(&m)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
}

TEST(RpcHardening, SigtermMidComputeExitsZero) {
  Served srv("rpc_hardening_sigterm");
  ASSERT_TRUE(srv.ready);
  Wasi anon(srv.channel());
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(anon.load("default", &g).ok());
  ASSERT_TRUE(anon.init(g, &x).ok());
  ASSERT_TRUE(anon.set_input(x, 1, kEndlessOptions).ok());
  ASSERT_TRUE(anon.set_input(x, 0, "Once upon a time").ok());
  auto compute = std::async(std::launch::async, [&] { return anon.compute(x); });
  ASSERT_TRUE(eventually([&] { return cpu_seconds(srv.proc->pid()) > 0.3; }, 30));
  const auto t0 = Clock::now();
  srv.proc->signal(SIGTERM);
  const int st = srv.proc->wait_exit(60);
  std::printf("[ measured ] SIGTERM mid-compute → exit after %.0f ms\n", seconds_since(t0) * 1e3);
  ASSERT_TRUE(WIFEXITED(st)) << srv.proc->log();
  EXPECT_EQ(WEXITSTATUS(st), 0) << srv.proc->log();
  EXPECT_FALSE(compute.get().ok());
  EXPECT_EQ(srv.proc->log().find("did not finish"), std::string::npos) << srv.proc->log();
  EXPECT_FALSE(fs::exists(srv.sock));
}

TEST(RpcHardening, FullAnonymousGraphTableEvictsTheLeastRecentlyUsed) {
  // 64 graphs per anonymous peer with --max-graphs-per-client 1.
  Served srv("rpc_hardening_graph_lru", {"--max-graphs-per-client", "1"});
  ASSERT_TRUE(srv.ready);
  Wasi anon(srv.channel());
  uint32_t first = 0, ctx_of_first = 0;
  ASSERT_TRUE(anon.load("default", &first).ok());
  ASSERT_TRUE(anon.init(first, &ctx_of_first).ok());
  std::vector<uint32_t> later(200);
  for (auto& h : later) ASSERT_TRUE(anon.load("default", &h).ok()) << "a full table must not lock clients out";
  EXPECT_EQ(anon.list_models().stats().graphs(), 64u);
  EXPECT_EQ(anon.init(first, nullptr).errno_trailer, 1);  // evicted
  EXPECT_TRUE(anon.init(later.back(), nullptr).ok());    // the newest are there
  // A context outlives the eviction of the graph handle it was made from.
  ASSERT_TRUE(anon.set_input(ctx_of_first, 1, greedy_options(4)).ok());
  ASSERT_TRUE(anon.set_input(ctx_of_first, 0, "Once").ok());
  EXPECT_TRUE(anon.compute(ctx_of_first).ok());
  // A named session can unload, so it is told to rather than losing graphs.
  Wasi named(srv.channel(), CallOpts("tidy"));
  SessionStream ss(named.stubs(), named.opts());
  ASSERT_TRUE(named.load("default", nullptr).ok());
  const Result r = named.load("default", nullptr);
  EXPECT_EQ(r.errno_trailer, 4);
  EXPECT_NE(r.status.error_message().find("unload"), std::string::npos) << r.status.error_message();
}

TEST(RpcHardening, MaxSessionsCapsNamedSessions) {
  Served srv("rpc_hardening_max_sessions", {"--max-sessions", "2"});
  ASSERT_TRUE(srv.ready);
  Wasi a(srv.channel(), CallOpts("a")), b(srv.channel(), CallOpts("b")), c(srv.channel(), CallOpts("c"));
  auto sa = std::make_unique<SessionStream>(a.stubs(), a.opts());
  SessionStream sb(b.stubs(), b.opts());
  ASSERT_TRUE(sa->attached() && sb.attached());
  const Result r = c.load("default", nullptr);
  EXPECT_EQ(r.errno_trailer, 4);
  EXPECT_NE(r.status.error_message().find("--max-sessions 2"), std::string::npos) << r.status.error_message();
  {
    SessionStream sc(c.stubs(), c.opts());
    EXPECT_FALSE(sc.attached());
  }
  Wasi anon(srv.channel());
  EXPECT_TRUE(anon.load("default", nullptr).ok());  // anonymous clients are not named sessions
  sa->close();
  ASSERT_TRUE(eventually([&] { return c.load("default", nullptr).ok(); }, 30)) << "a freed slot is usable";
}

TEST(RpcHardening, PreloadsAreValidatedAtStartUp) {
  auto dir = test::scratch_dir("rpc_hardening_preloads");
  auto good = generated_model(dir);
  std::ofstream(dir / "notes.gguf") << "these are not weights\n";
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir / "cut.gguf", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const fs::path sock = dir / "s.sock";
  ServeProcess srv({"--nn-rpc-uri", "unix://" + sock.string(), "--nn-preload", "good:GGML:AUTO:" + good.string(),
                    "--nn-preload", "gone:GGML:AUTO:" + (dir / "missing.gguf").string(), "--nn-preload",
                    "notes:GGML:AUTO:" + (dir / "notes.gguf").string(), "--nn-preload",
                    "cut:GGML:AUTO:" + (dir / "cut.gguf").string()},
                   dir / "serve.log");
  ASSERT_TRUE(srv.wait_ready()) << srv.log();
  const std::string log = srv.log();
  EXPECT_NE(log.find("preload 'good': llama, "), std::string::npos) << log;
  EXPECT_NE(log.find("context 2048"), std::string::npos) << log;
  EXPECT_NE(log.find("preload 'gone' is unusable, load_by_name will answer 103"), std::string::npos) << log;
  EXPECT_NE(log.find("preload 'notes' is unusable"), std::string::npos) << log;
  EXPECT_NE(log.find("preload 'cut' is unusable"), std::string::npos) << log;
  EXPECT_EQ(count_in(log, "is unusable"), 3u) << log;
  Wasi w(connect_unix(sock));
  EXPECT_TRUE(w.load("good", nullptr).ok());
  EXPECT_EQ(w.load("gone", nullptr).errno_trailer, 103);
  EXPECT_NE(w.load("notes", nullptr).errno_trailer, 0);
}

}  // namespace
}  // namespace nnb::rpctest

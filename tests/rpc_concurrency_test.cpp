// Many clients at once against one `nnbridge serve`: 32 streaming clients each get their own
// correct text; a long compute does not hold up other clients; calls on one context are
// serialized; cancelled / killed / timed-out Generate calls free their context at once; the
// context caps answer Busy.
//
// ThreadSanitizer: configure a separate build with
//   -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
// and build the targets `nnbridge rpc_concurrency_test`; the server process under test is then
// instrumented (reports go to its log, and a report fails the test below). Timings are
// relaxed under TSan (__SANITIZE_THREAD__).
#include <algorithm>
#include <atomic>
#include <latch>
#include <sstream>
#include <set>
#include <future>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

#if defined(__SANITIZE_THREAD__)
constexpr double kSlow = 10;  // TSan slows everything down
#else
constexpr double kSlow = 1;
#endif

// Sanitizer reports in the server's log that concern nnbridge's own code: a racing access
// whose innermost frame outside the sanitizer runtime is in src/. (Under TSan, gRPC's
// uninstrumented internals produce reports of their own; rpc_tsan.supp silences most, and
// they are not ours to fix.)
bool tsan_report_is_ours(const std::string& report, const std::string& src) {
  std::istringstream in(report);
  std::string line;
  bool in_access = false, looking = false;
  while (std::getline(in, line)) {
    if (line.rfind("  ", 0) == 0 && line[2] != ' ' &&
        (line.find("ead of size") != std::string::npos || line.find("rite of size") != std::string::npos)) {
      in_access = looking = true;  // an access stack starts
      continue;
    }
    if (line.empty()) in_access = false;
    if (!in_access || !looking || line.find(" #") == std::string::npos) continue;
    if (line.find("libsanitizer") != std::string::npos || line.find("libtsan") != std::string::npos) continue;
    looking = false;  // the first frame past the interceptors decides
    if (line.find(src) != std::string::npos) return true;
  }
  return false;
}

void expect_no_sanitizer_report(const Served& srv) {
  const std::string log = srv.proc->log();
  EXPECT_EQ(log.find("ERROR: AddressSanitizer"), std::string::npos) << log;
  const std::string src = (fs::path(__FILE__).parent_path().parent_path() / "src").string() + "/";
  size_t pos = 0, ours = 0, all = 0;
  while ((pos = log.find("WARNING: ThreadSanitizer", pos)) != std::string::npos) {
    ++all;
    const size_t end = log.find("SUMMARY: ThreadSanitizer", pos);
    const std::string report = log.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos += 10;
    if (tsan_report_is_ours(report, src)) {
      ADD_FAILURE() << "ThreadSanitizer report in nnbridge code:\n" << report;
      ++ours;
    }
  }
  if (all) std::printf("[ tsan ] %zu reports in the server log, %zu in nnbridge code\n", all, ours);
}

TEST(RpcConcurrency, ThirtyTwoClientsStreamTheirOwnText) {
  Served srv("rpc_conc_32", {"--threads", "1"});
  ASSERT_TRUE(srv.ready);
  constexpr int kClients = 32, kTokens = 64;
  // ctx-size 4096: each context holds ~2 MB of KV cache, so a leak would show in RSS.
  const std::string opts = greedy_options(kTokens, 4096);
  std::vector<std::string> prompts, want;
  // This small random model mostly follows the last token: end each prompt differently.
  const char* words[] = {"dog", "cat", "sun", "tree", "lily", "boat", "happy", "day", "red", "big", "ball",
                         "park", "mom", "fish", "sky", "bird", "car", "cake", "toy", "rain", "box", "hat",
                         "king", "moon", "star", "frog", "girl", "boy", "sea", "road", "milk", "bed"};
  for (int i = 0; i < kClients; ++i) {
    prompts.push_back("Client " + std::to_string(i) + " saw a " + words[i]);
    want.push_back(engine_greedy(srv.model, prompts.back(), kTokens));
  }
  std::set<std::string> distinct(want.begin(), want.end());
  EXPECT_GT(distinct.size(), 8u) << "prompts should lead to different texts";

  Wasi observer(srv.channel());
  // One burst: all clients connect first, then start together; each notes when its stream ran.
  std::vector<Clock::time_point> began(kClients), ended(kClients);
  auto burst = [&] {
    std::latch start(kClients);
    std::vector<std::future<GenerateOutcome>> runs;
    for (int i = 0; i < kClients; ++i)
      runs.push_back(std::async(std::launch::async, [&, i] {
        Stubs s(srv.channel());  // each client its own connection and session
        start.arrive_and_wait();
        began[i] = Clock::now();
        auto r = generate(s, CallOpts("client-" + std::to_string(i)), "default", prompts[i], opts);
        ended[i] = Clock::now();
        return r;
      }));
    for (int i = 0; i < kClients; ++i) {
      auto r = runs[i].get();
      ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.error_message();
      EXPECT_EQ(r.text, want[i]) << "client " << i;
      EXPECT_EQ(r.pieces, size_t(kTokens));
    }
    EXPECT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30 * kSlow));
  };
  // A first burst brings the server to its steady state before the memory baseline: model
  // mapped, thread pool grown, and continuous batching's shared context (serve's default) with
  // the KV cells of every slot touched — that context lives as long as the model, by design.
  burst();
  if (::testing::Test::HasFatalFailure()) return;
  const long rss0 = srv.proc->rss_kb();

  const auto t0 = Clock::now();
  burst();
  if (::testing::Test::HasFatalFailure()) return;
  const double secs = seconds_since(t0);
  // Most streams in flight at one moment.
  std::vector<std::pair<Clock::time_point, int>> events;
  for (int i = 0; i < kClients; ++i) {
    events.emplace_back(began[i], +1);
    events.emplace_back(ended[i], -1);
  }
  std::sort(events.begin(), events.end());
  int in_flight = 0, peak = 0;
  for (auto& [t, d] : events) peak = std::max(peak, in_flight += d);
  EXPECT_GT(peak, kClients / 2) << "the clients should have been served at the same time";
  // Freed contexts' memory goes back to the system (the server trims its heap once contexts
  // have been freed, within its reaper period of at most a second).
  long rss1 = srv.proc->rss_kb();
  // The second burst must not grow the server: 32 leaked contexts of ~2 MiB each would show;
  // what the heap keeps of the churn stays well under the bound.
  constexpr long kBackToBaselineKiB = 32 * 1024;
  eventually([&] { return (rss1 = srv.proc->rss_kb()) - rss0 < kBackToBaselineKiB; }, 2.0 * kSlow);
  std::printf("[ measured ] %d clients x %d tokens in %.2f s (%.0f tokens/s total), %d streams at once; "
              "server RSS %ld kB before, %ld kB after\n",
              kClients, kTokens, secs, kClients * kTokens / secs, peak, rss0, rss1);
  // Contexts are freed; what remains is allocator caching and thread stacks, not a leak.
  if (kSlow == 1) {  // TSan's shadow memory makes RSS meaningless
    EXPECT_LT(rss1 - rss0, kBackToBaselineKiB) << "server memory did not come back near its baseline";
  }
  expect_no_sanitizer_report(srv);
}

TEST(RpcConcurrency, LongComputeDoesNotBlockOtherClients) {
  Served srv("rpc_conc_long", {"--threads", "1"});
  ASSERT_TRUE(srv.ready);
  Wasi busy(srv.channel(), CallOpts("busy-client"));
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(busy.load("default", &g).ok());
  ASSERT_TRUE(busy.init(g, &x).ok());
  ASSERT_TRUE(busy.set_input(x, 1, "{\"temp\":0,\"n-predict\":-1,\"ctx-size\":100000}").ok());
  ASSERT_TRUE(busy.set_input(x, 0, "Once").ok());
  // An unbounded compute (100000 tokens: minutes), cancelled by the test once done.
  grpc::ClientContext long_ctx;
  prepare(long_ctx, busy.opts());
  long_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
  auto long_call = std::async(std::launch::async, [&] {
    wasi_ephemeral_nn::ComputeRequest rq;
    rq.set_resource_handle(x);
    google::protobuf::Empty e;
    return busy.stubs().ctx->Compute(&long_ctx, rq, &e);
  });
  // The compute is running once it holds its context: another call on that context waits
  // behind it (until this probe's own deadline).
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext c;
        prepare(c, busy.opts());
        c.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
        wasi_ephemeral_nn::GetOutputRequest rq;
        rq.set_resource_handle(x);
        rq.set_index(1);
        wasi_ephemeral_nn::GetOutputResult rs;
        return busy.stubs().ctx->GetOutput(&c, rq, &rs).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      },
      30));

  // Meanwhile, another client's calls and short generations all go through.
  Wasi other(srv.channel(), CallOpts("other-client"));
  double worst = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t = Clock::now();
    uint32_t g2 = 0, x2 = 0;
    ASSERT_TRUE(other.load("default", &g2).ok());
    ASSERT_TRUE(other.init(g2, &x2).ok());
    ASSERT_TRUE(other.set_input(x2, 1, greedy_options(4)).ok());
    ASSERT_TRUE(other.set_input(x2, 0, "Hi").ok());
    ASSERT_TRUE(other.compute(x2).ok());
    other.list_models();
    ASSERT_TRUE(other.finalize(x2).ok());
    worst = std::max(worst, seconds_since(t));
  }
  std::printf("[ measured ] 7 calls by another client while a long compute runs: worst %.1f ms\n", worst * 1e3);
  // All of them finished while the long compute was still running: not queued behind it.
  EXPECT_EQ(long_call.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the long compute ended before the other client's calls were done";
  long_ctx.TryCancel();
  EXPECT_EQ(long_call.get().error_code(), grpc::StatusCode::CANCELLED);
  expect_no_sanitizer_report(srv);
}

TEST(RpcConcurrency, CallsOnOneContextAreSerialized) {
  Served srv("rpc_conc_serial", {"--threads", "1"});
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel(), CallOpts("serial-client"));
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(w.load("default", &g).ok());
  ASSERT_TRUE(w.init(g, &x).ok());
  ASSERT_TRUE(w.set_input(x, 1, kSlow == 1 ? greedy_options(12000, 16384) : greedy_options(1500, 2048)).ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once").ok());
  const double cpu0 = cpu_seconds(srv.proc->pid());
  const auto t0 = Clock::now();
  auto compute = std::async(std::launch::async, [&] { return w.compute(x); });
  // The second call must arrive while the compute runs: wait until the server is computing
  // (its CPU time moves), not for a fixed time that a loaded machine may not honour.
  ASSERT_TRUE(eventually([&] { return cpu_seconds(srv.proc->pid()) > cpu0 + 0.05; }, 60));
  ASSERT_EQ(compute.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the compute ended before the second call could be sent; make it longer";
  // A second call on the same context waits for the first (no Busy, no torn state) and then
  // sees its complete result.
  std::string meta;
  auto r = w.get_output(x, 1, &meta);
  const double waited = seconds_since(t0);
  ASSERT_TRUE(r.ok()) << r.status.error_message();
  ASSERT_TRUE(compute.get().ok());
  const double compute_s = seconds_since(t0);
  // The concurrent read saw the finished run, never a half-updated one: it waited.
  std::string meta_after;
  ASSERT_TRUE(w.get_output(x, 1, &meta_after).ok());
  EXPECT_EQ(meta, meta_after);
  EXPECT_GT(nlohmann::json::parse(meta)["output_tokens"].get<int>(), 0);
  std::printf("[ measured ] second call waited %.0f ms for a %.0f ms compute\n", waited * 1e3, compute_s * 1e3);
}

TEST(RpcConcurrency, AbandonedGenerateFreesItsContext) {
  Served srv("rpc_conc_abandon", {"--threads", "1"});
  ASSERT_TRUE(srv.ready);
  Wasi observer(srv.channel());
  Stubs s(srv.channel());

  // 1. The client cancels mid-stream.
  {
    grpc::ClientContext c;
    prepare(c, CallOpts("cancelling-client"));
    npb::GenerateRequest rq;
    rq.set_model("default");
    rq.set_prompt("Once");
    rq.set_options_json(kEndlessOptions);
    auto reader = s.nnb->Generate(&c, rq);
    npb::GenerateResponse m;
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(reader->Read(&m));
    EXPECT_EQ(live_contexts(observer), 1u);
    const auto t0 = Clock::now();
    c.TryCancel();
    while (reader->Read(&m)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30 * kSlow));
    std::printf("[ measured ] cancel → Generate context freed in %.0f ms\n", seconds_since(t0) * 1e3);
  }
  // 2. Its deadline passes.
  {
    grpc::ClientContext c;
    prepare(c, CallOpts("deadline-client"));
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    npb::GenerateRequest rq;
    rq.set_model("default");
    rq.set_prompt("Once");
    rq.set_options_json(kEndlessOptions);
    auto reader = s.nnb->Generate(&c, rq);
    npb::GenerateResponse m;
    while (reader->Read(&m)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30 * kSlow));
  }
  // 3. The client process is killed -9 mid-stream.
  {
    ChildClient child("generate", srv.sock, "doomed-client", srv.dir / "child.log");
    ASSERT_TRUE(child.wait_ready(10 * kSlow)) << child.log();
    EXPECT_EQ(live_contexts(observer), 1u);
    const auto t0 = Clock::now();
    child.kill9();
    EXPECT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30 * kSlow)) << srv.proc->log();
    std::printf("[ measured ] client killed -9 mid-Generate → context freed in %.0f ms\n", seconds_since(t0) * 1e3);
  }
  expect_no_sanitizer_report(srv);
}

Result init_in(Wasi& w, uint32_t* ctx = nullptr) {
  uint32_t g = 0;
  if (auto r = w.load("default", &g); !r.ok()) return r;
  return w.init(g, ctx);
}

TEST(RpcConcurrency, ContextCapsAnswerBusy) {
  Served srv("rpc_conc_caps", {"--max-contexts", "4", "--max-contexts-per-client", "2", "--idle-timeout-s", "4"});
  ASSERT_TRUE(srv.ready);
  auto ch = srv.channel();
  Wasi a(ch, CallOpts("cap-a")), b(ch, CallOpts("cap-b")), c(ch, CallOpts("cap-c")), anon(ch);
  auto sa = std::make_unique<SessionStream>(a.stubs(), a.opts());
  SessionStream sb(b.stubs(), b.opts()), sc(c.stubs(), c.opts());

  // Per client.
  ASSERT_TRUE(init_in(a).ok());
  ASSERT_TRUE(init_in(a).ok());
  auto r = init_in(a);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(r.errno_trailer, 4);
  EXPECT_NE(r.status.error_message().find("--max-contexts-per-client"), std::string::npos) << r.status.error_message();
  auto g = generate(a.stubs(), a.opts(), "default", "Once", greedy_options(4));
  EXPECT_EQ(g.status.error_code(), grpc::StatusCode::UNKNOWN);
  // In total.
  ASSERT_TRUE(init_in(b).ok());
  ASSERT_TRUE(init_in(b).ok());
  r = init_in(c);
  EXPECT_EQ(r.errno_trailer, 4);
  EXPECT_NE(r.status.error_message().find("--max-contexts 4"), std::string::npos) << r.status.error_message();
  // A session ending gives its slots back.
  sa.reset();
  ASSERT_TRUE(eventually([&] { return live_contexts(anon) == 2; }, 1.0 * kSlow));
  EXPECT_TRUE(init_in(c).ok());
  auto ok = generate(c.stubs(), c.opts(), "default", "Once", greedy_options(4));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  // Anonymous (WasmEdge) clients: only the total cap; when full, the anonymous context idle
  // for at least half the idle timeout makes room.
  sb.close();
  sc.close();
  ASSERT_TRUE(eventually([&] { return live_contexts(anon) == 0; }, 1.0 * kSlow));
  uint32_t first = 0;
  ASSERT_TRUE(init_in(anon, &first).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(init_in(anon).ok()) << "no per-client cap for anonymous callers";
  EXPECT_EQ(init_in(anon).errno_trailer, 4);  // full, nothing idle long enough
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  EXPECT_TRUE(init_in(anon).ok());  // the oldest made room
  EXPECT_EQ(live_contexts(anon), 4u);
  EXPECT_EQ(anon.set_input(first, 0, "x").errno_trailer, 1);
}

TEST(RpcConcurrencyChild, Run) { run_child_client(); }

}  // namespace
}  // namespace nnb::rpctest

// `nnbridge serve` as a server: greedy output through every RPC path equals the in-process
// engine byte for byte; Generate streams; ListModels / Unload / FinalizeContext; sessions
// freed when their stream ends; the idle reaper; health; socket life cycle and signals.
#include <grpcpp/generic/generic_stub.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <future>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

const char* kPrompts[] = {"Once upon a time", "The little dog", "<s>Lily saw a big"};

void expect_all_paths_equal_engine(const Served& srv, const std::string& name, const fs::path& model, int n_predict) {
  Wasi anon(srv.channel());
  Wasi named(srv.channel(), CallOpts("session-equal-engine"));
  SessionStream session(named.stubs(), named.opts());
  ASSERT_TRUE(session.attached());
  const std::string opts = greedy_options(n_predict);
  for (const char* prompt : kPrompts) {
    SCOPED_TRACE(prompt);
    const std::string want = engine_greedy(model, prompt, n_predict);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(anon.run_unary(name, prompt, opts), want);
    EXPECT_EQ(anon.run_single(name, prompt, opts), want);
    EXPECT_EQ(named.run_unary(name, prompt, opts), want);
    auto by_name = generate(named.stubs(), named.opts(), name, prompt, opts);
    ASSERT_TRUE(by_name.status.ok()) << by_name.status.error_message();
    EXPECT_EQ(by_name.text, want);
    uint32_t g = 0;
    ASSERT_TRUE(named.load(name, &g).ok());
    auto by_handle = generate(named.stubs(), named.opts(), "", prompt, opts, g);
    ASSERT_TRUE(by_handle.status.ok()) << by_handle.status.error_message();
    EXPECT_EQ(by_handle.text, want);
  }
}

TEST(RpcServer, GreedyOutputEqualsEngineOnEveryPath) {
  Served srv("rpc_server_equal");
  ASSERT_TRUE(srv.ready);
  expect_all_paths_equal_engine(srv, "default", srv.model, 40);
}

TEST(RpcServer, GreedyOutputEqualsEngineOnStories260K) {
  NNB_FIXTURE_OR_SKIP(stories, "models/stories260K.gguf");
  Served srv("rpc_server_stories", {"--nn-preload", "stories:GGML:AUTO:" + stories.string()});
  ASSERT_TRUE(srv.ready);
  expect_all_paths_equal_engine(srv, "stories", stories, 64);
}

TEST(RpcServer, GenerateStreamsOnePiecePerTokenThenFinal) {
  Served srv("rpc_server_stream");
  ASSERT_TRUE(srv.ready);
  Stubs s(srv.channel());
  grpc::ClientContext c;
  prepare(c, CallOpts("stream-client"));
  npb::GenerateRequest rq;
  rq.set_model("default");
  rq.set_prompt("Once upon a time");
  rq.set_options_json(greedy_options(200));
  const auto t0 = Clock::now();
  auto reader = s.nnb->Generate(&c, rq);
  npb::GenerateResponse m;
  double first_piece_s = -1;
  size_t pieces = 0;
  std::string text;
  npb::Final fin;
  bool got_final = false;
  while (reader->Read(&m)) {
    ASSERT_FALSE(got_final) << "nothing may follow the final message";
    if (m.has_final()) {
      fin = m.final();
      got_final = true;
      continue;
    }
    if (pieces++ == 0) first_piece_s = seconds_since(t0);
    text += m.piece();
  }
  const double total_s = seconds_since(t0);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_TRUE(got_final);
  EXPECT_EQ(text, engine_greedy(srv.model, "Once upon a time", 200));
  EXPECT_EQ(fin.output_tokens(), pieces);
  EXPECT_EQ(fin.stop_reason(), pieces == 200 ? "n_predict" : "end_of_generation");
  EXPECT_EQ(fin.stop(), pieces == 200 ? npb::STOP_REASON_N_PREDICT : npb::STOP_REASON_END_OF_GENERATION);
  auto model = Model::load(srv.model);
  EXPECT_EQ(fin.input_tokens(), model->vocab().tokenize("Once upon a time", true, true).size());
  EXPECT_NE(fin.metadata_json().find("\"llama_commit\""), std::string::npos);
  EXPECT_GT(fin.generation_seconds(), 0);
  // One message per token is asserted above; how soon the first arrives is a timing, reported
  // here rather than asserted (a 200-token run on a small model takes a few ms, well within
  // scheduling noise on a loaded 2-core machine).
  std::printf("[ measured ] Generate: %zu pieces, first after %.1f ms, all after %.1f ms\n", pieces,
              first_piece_s * 1e3, total_s * 1e3);
}

// The stop reason is data end to end: Generate's Final carries it as the enum (and, for older
// clients, its name in the string field), and a WasmEdge-protocol stream of the same
// generation ends with the matching errno and the same reason in the metadata. The two paths
// must agree, and each writes it in its log line.
struct WireStream {
  std::vector<std::string> pieces;
  npb::Final final;
  bool got_final = false;
  grpc::Status status;
};
WireStream generate_pieces(Stubs& s, const std::string& options) {
  grpc::ClientContext c;
  prepare(c, CallOpts("stop-reason-client"));
  npb::GenerateRequest rq;
  rq.set_model("default");
  rq.set_prompt("Once upon a time");
  rq.set_options_json(options);
  auto reader = s.nnb->Generate(&c, rq);
  WireStream out;
  npb::GenerateResponse m;
  while (reader->Read(&m)) {
    if (m.has_final()) {
      out.final = m.final();
      out.got_final = true;
    } else {
      out.pieces.push_back(m.piece());
    }
  }
  out.status = reader->Finish();
  return out;
}

TEST(RpcServer, EachStopReasonArrivesAsTheEnumAndTheWasiPathAgrees) {
  Served srv("rpc_server_stop_reasons");
  ASSERT_TRUE(srv.ready);
  Stubs stubs(srv.channel());
  // A reverse prompt: a printable piece of the greedy output after its first two.
  const auto greedy = generate_pieces(stubs, greedy_options(24));
  ASSERT_TRUE(greedy.status.ok()) << greedy.status.error_message();
  const std::string rp = test::printable_piece_after_two(greedy.pieces);
  ASSERT_FALSE(rp.empty()) << "no printable piece in the greedy output";
  // End of generation: the first seed whose near-uniform sampling stops by itself.
  std::string eog;
  for (int seed = 1; seed <= 40 && eog.empty(); ++seed) {
    const std::string o = test::end_of_generation_options(seed);
    const auto r = generate_pieces(stubs, o);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    if (r.final.output_tokens() < 400) eog = o;
  }
  ASSERT_FALSE(eog.empty()) << "no seed of 40 made the generated model end by itself";

  struct Case {
    std::string options;
    npb::StopReason want;
    const char* name;
    int wasi_errno;
  };
  const Case cases[] = {
      {greedy_options(5), npb::STOP_REASON_N_PREDICT, "n_predict", 100},
      {R"({"temp":0,"n-predict":24,"reverse-prompt":")" + rp + "\"}", npb::STOP_REASON_REVERSE_PROMPT, "reverse_prompt",
       100},
      {greedy_options(-1, 16), npb::STOP_REASON_CONTEXT_FULL, "context_full", 101},
      {eog, npb::STOP_REASON_END_OF_GENERATION, "end_of_generation", 100},
  };
  Wasi w(srv.channel());
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    const auto g = generate_pieces(stubs, k.options);
    ASSERT_TRUE(g.status.ok()) << g.status.error_message();
    ASSERT_TRUE(g.got_final);
    EXPECT_EQ(g.final.stop(), k.want);
    EXPECT_EQ(g.final.stop_reason(), k.name) << "the string field stays for older clients";
    EXPECT_EQ(g.final.output_tokens(), g.pieces.size());
    std::string text;
    for (const auto& p : g.pieces) text += p;

    // The same generation through WasmEdge's protocol.
    uint32_t gh = 0, x = 0;
    ASSERT_TRUE(w.load("default", &gh).ok());
    ASSERT_TRUE(w.init(gh, &x).ok());
    ASSERT_TRUE(w.set_input(x, 1, k.options).ok());
    ASSERT_TRUE(w.set_input(x, 0, "Once upon a time").ok());
    std::string wasi_text, piece;
    Result r;
    for (int i = 0; i < 4096; ++i) {
      r = w.compute(x, true);
      if (!r.ok()) break;
      ASSERT_TRUE(w.get_output(x, 0, &piece, true).ok());
      wasi_text += piece;
    }
    EXPECT_EQ(r.errno_trailer, k.wasi_errno);
    EXPECT_EQ(wasi_text, text);
    std::string meta;
    ASSERT_TRUE(w.get_output(x, 1, &meta, true).ok());
    const auto j = nlohmann::json::parse(meta);
    EXPECT_EQ(j.value("stop_reason", ""), k.name);
    EXPECT_EQ(j.value("output_tokens", 0u), g.final.output_tokens());
    EXPECT_EQ(j.value("input_tokens", 0u), g.final.input_tokens());
    ASSERT_TRUE(w.finalize(x).ok());
    // Both paths name it in their log line.
    const std::string stop = std::string("stop=") + k.name;
    EXPECT_TRUE(eventually([&] { return srv.proc->log().find(stop + " via=generate") != std::string::npos; }, 10));
    EXPECT_TRUE(
        eventually([&] { return srv.proc->log().find(stop + " via=compute_single") != std::string::npos; }, 10))
        << srv.proc->log();
  }
}

TEST(RpcServer, ListModelsUnloadAndFinalizeContext) {
  auto dir = test::scratch_dir("rpc_server_models_missing");
  Served srv("rpc_server_models", {"--nn-preload", "gone:GGML:AUTO:" + (dir / "gone.gguf").string()});
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel(), CallOpts("models-client"));
  SessionStream session(w.stubs(), w.opts());
  ASSERT_TRUE(session.attached());

  auto lm = w.list_models();
  ASSERT_EQ(lm.models_size(), 2);
  EXPECT_EQ(lm.models(0).name(), "default");
  EXPECT_EQ(lm.models(0).path(), srv.model.string());
  EXPECT_TRUE(lm.models(0).available());
  EXPECT_FALSE(lm.models(0).loaded());
  EXPECT_EQ(lm.models(1).name(), "gone");
  EXPECT_FALSE(lm.models(1).available());

  uint32_t g = 0, x1 = 0, x2 = 0;
  ASSERT_TRUE(w.load("default", &g).ok());
  ASSERT_TRUE(w.init(g, &x1).ok());
  ASSERT_TRUE(w.init(g, &x2).ok());
  EXPECT_NE(x1, x2);
  lm = w.list_models();
  EXPECT_TRUE(lm.models(0).loaded());
  EXPECT_EQ(lm.models(0).graphs(), 1u);
  EXPECT_EQ(lm.models(0).contexts(), 2u);
  EXPECT_EQ(lm.stats().graphs(), 1u);
  EXPECT_EQ(lm.stats().contexts(), 2u);
  EXPECT_GE(lm.stats().sessions(), 1u);
  EXPECT_GT(lm.stats().calls(), 3u);

  // FinalizeContext frees one; the handle is dead afterwards.
  ASSERT_TRUE(w.finalize(x1).ok());
  EXPECT_EQ(w.set_input(x1, 0, "x").errno_trailer, 1);
  EXPECT_EQ(w.finalize(x1).errno_trailer, 1);
  EXPECT_EQ(live_contexts(w), 1u);

  // Unload frees the graph handle; its existing context keeps working; the name loads again.
  ASSERT_TRUE(w.unload(g).ok());
  EXPECT_EQ(w.init(g, nullptr).errno_trailer, 1);
  EXPECT_EQ(w.unload(g).errno_trailer, 1);
  ASSERT_TRUE(w.set_input(x2, 1, greedy_options(8)).ok());
  ASSERT_TRUE(w.set_input(x2, 0, "Once").ok());
  EXPECT_TRUE(w.compute(x2).ok());
  lm = w.list_models();
  EXPECT_EQ(lm.models(0).graphs(), 0u);
  EXPECT_EQ(lm.models(0).contexts(), 1u);
  EXPECT_TRUE(lm.models(0).loaded());
  ASSERT_TRUE(w.finalize(x2).ok());
  lm = w.list_models();
  EXPECT_FALSE(lm.models(0).loaded());
  EXPECT_EQ(lm.stats().contexts(), 0u);
  uint32_t g2 = 0;
  EXPECT_TRUE(w.load("default", &g2).ok());
  EXPECT_TRUE(w.init(g2, nullptr).ok());
}

TEST(RpcServer, SessionEndFreesItsContexts) {
  Served srv("rpc_server_session_end");
  ASSERT_TRUE(srv.ready);
  Wasi observer(srv.channel());
  Wasi w(srv.channel(), CallOpts("ephemeral-client"));
  auto session = std::make_unique<SessionStream>(w.stubs(), w.opts());
  ASSERT_TRUE(session->attached());
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(w.load("default", &g).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.init(g, &x).ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once").ok());
  EXPECT_EQ(live_contexts(observer), 3u);
  EXPECT_EQ(observer.list_models().stats().sessions(), 1u);

  const auto t0 = Clock::now();
  session->close();
  // A generous bound: the event matters, its time is printed (the machine may be loaded).
  ASSERT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30)) << srv.proc->log();
  std::printf("[ measured ] session end → contexts freed in %.0f ms\n", seconds_since(t0) * 1e3);
  EXPECT_EQ(observer.list_models().stats().graphs(), 0u);
  EXPECT_EQ(observer.list_models().stats().sessions(), 0u);
  EXPECT_EQ(w.compute(x).errno_trailer, 1);  // the handle died with the session

  // A client process killed -9 with its session open: freed as promptly.
  ChildClient child("session", srv.sock, "crashing-client", srv.dir / "child.log");
  ASSERT_TRUE(child.wait_ready()) << child.log();
  EXPECT_EQ(live_contexts(observer), 2u);
  const auto t1 = Clock::now();
  child.kill9();
  EXPECT_TRUE(eventually([&] { return live_contexts(observer) == 0; }, 30)) << srv.proc->log();
  std::printf("[ measured ] client killed -9 → its session freed in %.0f ms\n", seconds_since(t1) * 1e3);
}

TEST(RpcServerChild, Run) { run_child_client(); }

TEST(RpcServer, IdleReaperFreesAnonymousContextsOnly) {
  Served srv("rpc_server_reaper", {"--idle-timeout-s", "1"});
  ASSERT_TRUE(srv.ready);
  Wasi anon(srv.channel());
  Wasi named(srv.channel(), CallOpts("kept-alive"));
  SessionStream session(named.stubs(), named.opts());
  ASSERT_TRUE(session.attached());
  uint32_t ga = 0, xa = 0, gn = 0, xn = 0;
  ASSERT_TRUE(anon.load("default", &ga).ok());
  ASSERT_TRUE(anon.init(ga, &xa).ok());
  ASSERT_TRUE(named.load("default", &gn).ok());
  ASSERT_TRUE(named.init(gn, &xn).ok());
  EXPECT_EQ(live_contexts(anon), 2u);
  // A context in use is never idle: keep touching the anonymous one for a while.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(anon.set_input(xa, 0, "Once").ok()) << "reaped while in use";
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(eventually([&] { return live_contexts(anon) == 1; }, 30));
  EXPECT_EQ(anon.set_input(xa, 0, "Once").errno_trailer, 1);  // reaped
  EXPECT_TRUE(named.set_input(xn, 0, "Once").ok());           // its session is alive
  EXPECT_NE(srv.proc->log().find("freed 1 idle execution context"), std::string::npos);
}

TEST(RpcServer, HealthServiceAnswersServing) {
  Served srv("rpc_server_health");
  ASSERT_TRUE(srv.ready);
  grpc::GenericStub stub(srv.channel());
  grpc::ClientContext c;
  prepare(c);
  grpc::ByteBuffer req, resp;  // HealthCheckRequest{service: ""} encodes as no bytes
  grpc::Slice empty("");
  req = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&c, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) { done.set_value(s); });
  ASSERT_TRUE(done.get_future().get().ok());
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

bool make_stale_socket(const fs::path& p) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", p.c_str());
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);  // bound, never listened, closed: what a killed server leaves behind
  return ok;
}

TEST(RpcServer, SocketLifeCycleStaleLiveAndSignals) {
  auto dir = test::scratch_dir("rpc_server_socket");
  auto model = generated_model(dir);
  const fs::path sock = dir / "s.sock";
  const std::vector<std::string> args{"--nn-rpc-uri", "unix://" + sock.string(), "--nn-preload",
                                      "default:GGML:AUTO:" + model.string()};
  ASSERT_TRUE(make_stale_socket(sock));
  {
    ServeProcess a(args, dir / "a.log");
    ASSERT_TRUE(a.wait_ready()) << a.log();
    EXPECT_NE(a.log().find("replaced stale socket"), std::string::npos);
    // A second server on the same live socket refuses, leaving the first one serving.
    ServeProcess b(args, dir / "b.log");
    const int st = b.wait_exit();
    ASSERT_TRUE(WIFEXITED(st)) << b.log();
    EXPECT_NE(WEXITSTATUS(st), 0);
    EXPECT_NE(b.log().find("another server is already listening"), std::string::npos) << b.log();
    Wasi w(connect_unix(sock));
    EXPECT_TRUE(w.load("default", nullptr).ok());
    // SIGTERM: graceful stop, exit 0, socket file removed.
    a.signal(SIGTERM);
    const int sa = a.wait_exit();
    ASSERT_TRUE(WIFEXITED(sa)) << a.log();
    EXPECT_EQ(WEXITSTATUS(sa), 0);
    EXPECT_FALSE(fs::exists(sock));
    EXPECT_NE(a.log().find("stopped"), std::string::npos);
  }
  {
    // SIGINT during a Generate: the call is cancelled, the server exits promptly.
    ServeProcess c(args, dir / "c.log");
    ASSERT_TRUE(c.wait_ready()) << c.log();
    Stubs s(connect_unix(sock));
    auto fut = std::async(std::launch::async, [&] {
      return generate(s, CallOpts("sigint-client"), "default", "Once", kEndlessOptions);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto t0 = Clock::now();
    c.signal(SIGINT);
    const int sc = c.wait_exit();
    ASSERT_TRUE(WIFEXITED(sc)) << c.log();
    EXPECT_EQ(WEXITSTATUS(sc), 0);
    std::printf("[ measured ] SIGINT during Generate → exit after %.0f ms\n", seconds_since(t0) * 1e3);
    EXPECT_FALSE(fut.get().status.ok());
    EXPECT_FALSE(fs::exists(sock));
  }
  {
    // Something that is not a socket is never deleted.
    std::ofstream(sock) << "precious";
    ServeProcess d(args, dir / "d.log");
    const int sd = d.wait_exit();
    ASSERT_TRUE(WIFEXITED(sd));
    EXPECT_NE(WEXITSTATUS(sd), 0);
    EXPECT_NE(d.log().find("is not a socket"), std::string::npos) << d.log();
    EXPECT_EQ(slurp(sock), "precious");
  }
}

}  // namespace
}  // namespace nnb::rpctest

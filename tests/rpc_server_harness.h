// What the rpc_server / rpc_wire / rpc_concurrency / rpc_security tests share: a REAL
// `nnbridge serve` process (NNB_CLI_PATH) on a temporary UNIX socket, raw gRPC stubs
// generated from the protos (no nnbridge client code, so the tests see the wire as a
// WasmEdge client would), a small generated model, and the in-process engine as reference.
#pragma once

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "engine/runtime/generation.h"
#include "engine/model/model.h"
#include "engine/model/model_gen.h"
#include "nnbridge.grpc.pb.h"
#include "test_util.h"
#include "wasi_ephemeral_nn.grpc.pb.h"

namespace nnb::rpctest {

namespace fs = std::filesystem;
namespace wpb = ::wasi_ephemeral_nn;
namespace npb = ::nnbridge::v1;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A `nnbridge serve` child (child_process.h). Its stdout+stderr go to `log`. Killed (SIGKILL)
// and reaped on destruction, and by the kernel if the test process dies first (PR_SET_PDEATHSIG).
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& serve_args, fs::path log) : log_(std::move(log)) {
    std::vector<std::string> args{NNB_CLI_PATH, "serve"};
    args.insert(args.end(), serve_args.begin(), serve_args.end());
    test::ChildOptions o;
#if defined(__SANITIZE_THREAD__)
    // An instrumented server: ignore uninstrumented gRPC internals, keep serving after a
    // report (the tests read reports from the log).
    if (!std::getenv("TSAN_OPTIONS"))
      o.env.push_back("TSAN_OPTIONS=halt_on_error=0 exitcode=0 suppressions=" +
                      (fs::path(__FILE__).parent_path() / "rpc_tsan.supp").string());
#endif
    proc_ = std::make_unique<test::ChildProcess>(args, log_, o);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return proc_->pid(); }
  std::string log() const { return slurp(log_); }

  // Waits for the "listening on" line; false when the process exited or time ran out.
  bool wait_ready(double timeout_s = 15) {
    const auto t0 = Clock::now();
    while (seconds_since(t0) < timeout_s) {
      if (log().find("listening on") != std::string::npos) return true;
      if (!proc_->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Waits for exit; returns the exit status (as from waitpid) or -1 on timeout.
  int wait_exit(double timeout_s = 10) { return proc_->wait_exit(timeout_s); }
  void signal(int sig) const { proc_->signal(sig); }
  // Resident memory of the server, from /proc/<pid>/status (kB).
  long rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
  }

 private:
  fs::path log_;
  std::unique_ptr<test::ChildProcess> proc_;
};

// Server CPU time (user + system), seconds, from /proc/<pid>/stat.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  unsigned long long ticks = 0;
  for (int i = 3; fields >> f; ++i)
    if (i == 14 || i == 15) ticks += std::stoull(f);  // utime, stime
  return double(ticks) / double(sysconf(_SC_CLK_TCK));
}

// A small generated llama model (fast on 2 cores; seeds give different models).
inline fs::path generated_model(const fs::path& dir, uint64_t seed = 42) {
  ModelSpec spec;
  spec.seed = seed;
  auto p = dir / ("gen-" + std::to_string(seed) + ".gguf");
  if (!fs::exists(p)) write_model(spec, p);
  return p;
}

// Waits for the "HTTP API on http://127.0.0.1:PORT/v1" line that `serve --http` and `gateway`
// log when they listen (on a port the system chose for 127.0.0.1:0) and returns PORT; 0 when
// it does not appear in time. `log` returns the log's text so far.
inline int http_port_from_log(const std::function<std::string()>& log, double timeout_s = 20) {
  static const std::regex re(R"(HTTP API on http://127\.0\.0\.1:([0-9]+)/v1)");
  const auto t0 = Clock::now();
  while (seconds_since(t0) < timeout_s) {
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, re)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

inline std::shared_ptr<grpc::Channel> connect_unix(const fs::path& sock, size_t max_msg = 0) {
  grpc::ChannelArguments a;
  a.SetMaxReceiveMessageSize(-1);
  if (max_msg) a.SetMaxSendMessageSize(int(max_msg));
  return grpc::CreateCustomChannel("unix://" + sock.string(), grpc::InsecureChannelCredentials(), a);
}

struct Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& ch)
      : graph(wpb::Graph::NewStub(ch)),
        resource(wpb::GraphResource::NewStub(ch)),
        ctx(wpb::GraphExecutionContextResource::NewStub(ch)),
        nnb(npb::Nnbridge::NewStub(ch)) {}
  std::unique_ptr<wpb::Graph::Stub> graph;
  std::unique_ptr<wpb::GraphResource::Stub> resource;
  std::unique_ptr<wpb::GraphExecutionContextResource::Stub> ctx;
  std::unique_ptr<npb::Nnbridge::Stub> nnb;
};

// Per-call metadata: the session (empty: anonymous, like WasmEdge), optional bearer token,
// and a deadline so that no test call can hang.
struct CallOpts {
  CallOpts() = default;
  explicit CallOpts(std::string s, std::string t = {}) : session(std::move(s)), token(std::move(t)) {}
  std::string session;
  std::string token;
  double timeout_s = 20;
};
inline void prepare(grpc::ClientContext& c, const CallOpts& o = {}) {
  if (!o.session.empty()) c.AddMetadata("nnbridge-session", o.session);
  if (!o.token.empty()) c.AddMetadata("authorization", "Bearer " + o.token);
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(int64_t(o.timeout_s * 1000)));
}

// The errno trailer of a finished call; -1 when absent.
inline int trailer_errno(const grpc::ClientContext& c) {
  const auto& md = c.GetServerTrailingMetadata();
  auto it = md.find("errno");
  if (it == md.end()) return -1;
  return std::stoi(std::string(it->second.data(), it->second.size()));
}

// One finished call's outcome, for compact assertions.
struct Result {
  grpc::Status status;
  int errno_trailer = -1;
  bool ok() const { return status.ok(); }
};

// A WASI-NN caller over raw stubs, as a WasmEdge guest's calls arrive on the wire.
class Wasi {
 public:
  Wasi(std::shared_ptr<grpc::Channel> ch, CallOpts o = {}) : ch_(std::move(ch)), s_(ch_), o_(std::move(o)) {}
  Stubs& stubs() { return s_; }
  const CallOpts& opts() const { return o_; }

  Result load(const std::string& name, uint32_t* graph, const std::string& config = "") {
    grpc::ClientContext c;
    prepare(c, o_);
    grpc::Status st;
    if (config.empty()) {
      wpb::LoadByNameRequest rq;
      rq.set_name(name);
      wpb::LoadByNameResult rs;
      st = s_.graph->LoadByName(&c, rq, &rs);
      if (graph) *graph = rs.graph_handle();
    } else {
      wpb::LoadByNameWithConfigRequest rq;
      rq.set_name(name);
      rq.set_config(config);
      wpb::LoadByNameWithConfigResult rs;
      st = s_.graph->LoadByNameWithConfig(&c, rq, &rs);
      if (graph) *graph = rs.graph_handle();
    }
    return {st, trailer_errno(c)};
  }
  Result init(uint32_t graph, uint32_t* ctx) {
    grpc::ClientContext c;
    prepare(c, o_);
    wpb::InitExecutionContextRequest rq;
    rq.set_resource_handle(graph);
    wpb::InitExecutionContextResult rs;
    auto st = s_.resource->InitExecutionContext(&c, rq, &rs);
    if (ctx) *ctx = rs.ctx_handle();
    return {st, trailer_errno(c)};
  }
  Result set_input(uint32_t ctx, uint32_t index, const std::string& data, uint32_t type = 3) {
    grpc::ClientContext c;
    prepare(c, o_);
    wpb::SetInputRequest rq;
    rq.set_resource_handle(ctx);
    rq.set_index(index);
    rq.mutable_tensor()->add_dimensions(1);  // what every prebuilt GGML app sends
    rq.mutable_tensor()->set_ty(wpb::TensorType(type));
    rq.mutable_tensor()->set_data(data);
    google::protobuf::Empty e;
    auto st = s_.ctx->SetInput(&c, rq, &e);
    return {st, trailer_errno(c)};
  }
  Result compute(uint32_t ctx, bool single = false) {
    grpc::ClientContext c;
    prepare(c, o_);
    wpb::ComputeRequest rq;
    rq.set_resource_handle(ctx);
    google::protobuf::Empty e;
    auto st = single ? s_.ctx->ComputeSingle(&c, rq, &e) : s_.ctx->Compute(&c, rq, &e);
    return {st, trailer_errno(c)};
  }
  Result get_output(uint32_t ctx, uint32_t index, std::string* out, bool single = false) {
    grpc::ClientContext c;
    prepare(c, o_);
    wpb::GetOutputRequest rq;
    rq.set_resource_handle(ctx);
    rq.set_index(index);
    wpb::GetOutputResult rs;
    auto st = single ? s_.ctx->GetOutputSingle(&c, rq, &rs) : s_.ctx->GetOutput(&c, rq, &rs);
    if (out) *out = rs.data();
    return {st, trailer_errno(c)};
  }
  Result fini_single(uint32_t ctx) {
    grpc::ClientContext c;
    prepare(c, o_);
    wpb::FiniSingleRequest rq;
    rq.set_resource_handle(ctx);
    google::protobuf::Empty e;
    auto st = s_.ctx->FiniSingle(&c, rq, &e);
    return {st, trailer_errno(c)};
  }
  npb::ListModelsResponse list_models() {
    grpc::ClientContext c;
    prepare(c, o_);
    npb::ListModelsResponse rs;
    auto st = s_.nnb->ListModels(&c, npb::ListModelsRequest{}, &rs);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return rs;
  }
  Result finalize(uint32_t ctx) {
    grpc::ClientContext c;
    prepare(c, o_);
    npb::FinalizeContextRequest rq;
    rq.set_ctx_handle(ctx);
    npb::FinalizeContextResponse rs;
    auto st = s_.nnb->FinalizeContext(&c, rq, &rs);
    return {st, trailer_errno(c)};
  }
  Result unload(uint32_t graph) {
    grpc::ClientContext c;
    prepare(c, o_);
    npb::UnloadRequest rq;
    rq.set_graph_handle(graph);
    npb::UnloadResponse rs;
    auto st = s_.nnb->Unload(&c, rq, &rs);
    return {st, trailer_errno(c)};
  }

  // load → init → options → prompt → compute → output 0: the whole text, or "" on failure.
  std::string run_unary(const std::string& model, const std::string& prompt, const std::string& options) {
    uint32_t g = 0, x = 0;
    std::string out;
    if (!load(model, &g).ok() || !init(g, &x).ok() || !set_input(x, 1, options).ok() || !set_input(x, 0, prompt).ok() ||
        !compute(x).ok() || !get_output(x, 0, &out).ok())
      return "<failed>";
    return out;
  }
  // The same through compute_single / get_output_single(0) until EndOfSequence (100).
  std::string run_single(const std::string& model, const std::string& prompt, const std::string& options) {
    uint32_t g = 0, x = 0;
    if (!load(model, &g).ok() || !init(g, &x).ok() || !set_input(x, 1, options).ok() || !set_input(x, 0, prompt).ok())
      return "<failed>";
    std::string text, piece;
    for (int i = 0; i < 4096; ++i) {
      auto r = compute(x, true);
      if (!r.ok()) return r.errno_trailer == 100 ? text : "<failed errno " + std::to_string(r.errno_trailer) + ">";
      if (!get_output(x, 0, &piece, true).ok()) return "<failed>";
      text += piece;
    }
    return "<no end>";
  }

 private:
  std::shared_ptr<grpc::Channel> ch_;
  Stubs s_;
  CallOpts o_;
};

// Generate through the Nnbridge service; pieces concatenated, final message returned.
struct GenerateOutcome {
  grpc::Status status;
  std::string text;
  size_t pieces = 0;
  npb::Final final;
};
inline GenerateOutcome generate(Stubs& s, const CallOpts& o, const std::string& model, const std::string& prompt,
                                const std::string& options, uint32_t graph_handle = 0) {
  grpc::ClientContext c;
  prepare(c, o);
  npb::GenerateRequest rq;
  rq.set_model(model);
  rq.set_graph_handle(graph_handle);
  rq.set_prompt(prompt);
  rq.set_options_json(options);
  auto reader = s.nnb->Generate(&c, rq);
  GenerateOutcome out;
  npb::GenerateResponse m;
  while (reader->Read(&m)) {
    if (m.has_final()) {
      out.final = m.final();
    } else {
      out.text += m.piece();
      ++out.pieces;
    }
  }
  out.status = reader->Finish();
  return out;
}

// An open Session stream: the session `id` lives until close() (or this object's end).
class SessionStream {
 public:
  SessionStream(Stubs& s, const CallOpts& o) {
    prepare(ctx_, CallOpts(o.session, o.token));
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    reader_ = s.nnb->Session(&ctx_, npb::SessionRequest{});
    npb::SessionEvent ev;
    attached_ = reader_->Read(&ev) && ev.session_id() == o.session;
  }
  ~SessionStream() { close(); }
  bool attached() const { return attached_; }
  // Ends the stream from the client side, as a client that exits does.
  void close() {
    if (!reader_) return;
    ctx_.TryCancel();
    reader_->Finish();
    reader_.reset();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<npb::SessionEvent>> reader_;
  bool attached_ = false;
};

// The server's live execution contexts (ListModels stats).
inline uint32_t live_contexts(Wasi& w) { return w.list_models().stats().contexts(); }

// Greedy text from the in-process engine: the reference every RPC path must equal.
inline std::string engine_greedy(const fs::path& model_path, const std::string& prompt, int n_predict, int n_ctx = 512) {
  auto model = Model::load(model_path);
  ContextParams cp;
  cp.n_ctx = n_ctx;
  Context ctx(*model, cp);
  SamplerParams sp;
  sp.temp = 0;
  Sampler sampler(sp, model->hparams().n_vocab);
  GenerationParams gp;
  gp.n_predict = n_predict;
  Generation gen(ctx, sampler, gp);
  gen.start(model->vocab().tokenize(prompt, /*add_special=*/true, /*parse_special=*/true));
  while (gen.next()) {
  }
  return gen.text();
}

// A generation that outlasts any test: greedy (no end-of-text on this model's prompt), no
// n-predict, a context of 100k tokens (attention makes each token slower as it grows).
inline const char* kEndlessOptions = "{\"temp\":0,\"n-predict\":-1,\"ctx-size\":100000}";

inline std::string greedy_options(int n_predict, int ctx_size = 512) {
  return "{\"temp\":0,\"n-predict\":" + std::to_string(n_predict) + ",\"ctx-size\":" + std::to_string(ctx_size) + "}";
}

// Polls `pred` every 10 ms for up to `timeout_s`.
template <typename Pred>
bool eventually(Pred pred, double timeout_s) {
  const auto t0 = Clock::now();
  do {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (seconds_since(t0) < timeout_s);
  return pred();
}

// A client in another process, so that a test can kill it -9 mid-call the way a guest VM's
// process dies. It is this test binary re-run with only its *Child.Run test and the
// NNB_RPC_CHILD variable ("MODE|SOCKET|SESSION"); it prints READY once its call is under way.
//   session:  opens the Session stream, loads, makes 2 contexts, then waits.
//   generate: starts an endless Generate (n-predict -1), READY after the first piece.
//   compute:  as a WasmEdge client (no session): load, init, an endless unary compute, READY
//             just before the compute call.
class ChildClient {
 public:
  ChildClient(const std::string& mode, const fs::path& sock, const std::string& session, const fs::path& log)
      : log_(log), proc_({"rpc-child", "--gtest_filter=*Child.Run"}, log, options(mode, sock, session)) {}
  bool wait_ready(double timeout_s = 10) {
    return eventually([&] { return slurp(log_).find("READY") != std::string::npos; }, timeout_s);
  }
  void kill9() { proc_.kill9(); }
  std::string log() const { return slurp(log_); }

 private:
  static test::ChildOptions options(const std::string& mode, const fs::path& sock, const std::string& session) {
    test::ChildOptions o;
    o.env = {"NNB_RPC_CHILD=" + mode + "|" + sock.string() + "|" + session};
    o.exec_path = "/proc/self/exe";
    return o;
  }
  fs::path log_;
  test::ChildProcess proc_;  // killed (SIGKILL) and reaped on destruction
};

// The body of TEST(Rpc<File>Child, Run) in files that use ChildClient.
inline void run_child_client() {
  const char* env = std::getenv("NNB_RPC_CHILD");
  if (!env) GTEST_SKIP() << "only runs as a child process of another test";
  const std::string spec = env;
  const size_t a = spec.find('|'), b = spec.find('|', a + 1);
  const std::string mode = spec.substr(0, a), sock = spec.substr(a + 1, b - a - 1), session = spec.substr(b + 1);
  Wasi w(connect_unix(sock), CallOpts(session));
  if (mode == "session") {
    SessionStream s(w.stubs(), w.opts());
    ASSERT_TRUE(s.attached());
    uint32_t g = 0;
    ASSERT_TRUE(w.load("default", &g).ok());
    ASSERT_TRUE(w.init(g, nullptr).ok());
    ASSERT_TRUE(w.init(g, nullptr).ok());
    std::printf("READY\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(60));
  } else if (mode == "compute") {
    Wasi anon(connect_unix(sock));
    uint32_t g = 0, x = 0;
    ASSERT_TRUE(anon.load("default", &g).ok());
    ASSERT_TRUE(anon.init(g, &x).ok());
    ASSERT_TRUE(anon.set_input(x, 1, kEndlessOptions).ok());
    ASSERT_TRUE(anon.set_input(x, 0, "Once upon a time").ok());
    std::printf("READY\n");
    std::fflush(stdout);
    anon.compute(x);
  } else if (mode == "generate") {
    grpc::ClientContext c;
    prepare(c, w.opts());
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    npb::GenerateRequest rq;
    rq.set_model("default");
    rq.set_prompt("Once upon a time");
    rq.set_options_json(kEndlessOptions);
    auto reader = w.stubs().nnb->Generate(&c, rq);
    npb::GenerateResponse m;
    bool said = false;
    while (reader->Read(&m))
      if (!said) {
        said = true;
        std::printf("READY\n");
        std::fflush(stdout);
      }
  }
}

// A served model in a scratch directory: the generated model as "default" (plus extra
// preloads), a server on `dir/s.sock`, ready.
struct Served {
  explicit Served(const std::string& name, std::vector<std::string> extra_args = {}, bool expect_ready = true) {
    dir = test::scratch_dir(name);
    sock = dir / "s.sock";
    model = generated_model(dir);
    std::vector<std::string> args{"--nn-rpc-uri", "unix://" + sock.string(), "--nn-preload",
                                  "default:GGML:AUTO:" + model.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    proc = std::make_unique<ServeProcess>(args, dir / "serve.log");
    ready = proc->wait_ready();
    if (expect_ready) {
      EXPECT_TRUE(ready) << proc->log();
    }
  }
  std::shared_ptr<grpc::Channel> channel(size_t max_send = 0) const { return connect_unix(sock, max_send); }

  fs::path dir, sock, model;
  std::unique_ptr<ServeProcess> proc;
  bool ready = false;
};

}  // namespace nnb::rpctest

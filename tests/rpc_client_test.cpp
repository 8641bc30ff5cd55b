// The remote backend (rpc/client.h), `nnbridge chat` and `nnbridge bench --nn-rpc-uri`
// against a REAL `nnbridge serve` process on a temporary UNIX socket, compared byte for byte
// with the same GGML backend running in-process.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include "backends/ggml/ggml_backend.h"
#include "child_process.h"
#include "engine/model/model_gen.h"
#include "nnbridge.grpc.pb.h"
#include "rpc/client.h"
#include "rpc/server_services.h"
#include "test_util.h"

namespace nnb {
namespace {

using Clock = std::chrono::steady_clock;
using rpc::RemoteBackend;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Polls `pred` every 10 ms until it holds; false if it still does not after 30 s (a guard
// against hanging, not a speed requirement).
template <typename Pred>
bool eventually(Pred pred) {
  const auto t0 = Clock::now();
  while (!pred()) {
    if (seconds_since(t0) > 30) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = 0; (p = text.find(what, p)) != std::string::npos; p += what.size()) ++n;
  return n;
}

bool can_connect(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

bool can_connect_tcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A loopback port free now (the kernel's choice for port 0).
int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

using test::ChildOptions;
using test::ChildProcess;

// `nnbridge serve` on dir/name.sock with the given preloads, ready to accept calls.
class Server {
 public:
  // tcp_port > 0: listen on 127.0.0.1:tcp_port instead of the socket.
  Server(const std::filesystem::path& dir, const std::string& name, const std::vector<std::string>& preloads,
         const std::vector<std::string>& extra = {}, int tcp_port = 0) {
    sock_ = (dir / (name + ".sock")).string();
    log_ = dir / (name + ".log");
    uri_ = tcp_port > 0 ? "127.0.0.1:" + std::to_string(tcp_port) : "unix://" + sock_;
    std::vector<std::string> args{NNB_CLI_PATH, "serve", "--nn-rpc-uri", uri_};
    for (const auto& p : preloads) args.insert(args.end(), {"--nn-preload", p});
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<ChildProcess>(args, log_);
    const auto t0 = Clock::now();
    while (tcp_port > 0 ? !can_connect_tcp(tcp_port) : !can_connect(sock_)) {
      if (!proc_->running()) throw std::runtime_error("nnbridge serve exited: " + test::read_file(log_));
      if (seconds_since(t0) > 15) throw std::runtime_error("nnbridge serve not ready: " + test::read_file(log_));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string uri() const { return uri_; }
  void kill9() { proc_->kill9(); }
  std::string log() const { return test::read_file(log_); }

 private:
  std::string sock_, uri_;
  std::filesystem::path log_;
  std::unique_ptr<ChildProcess> proc_;
};

rpc::ClientOptions client_options(const std::string& uri) {
  rpc::ClientOptions o;
  o.uri = uri;
  o.call_timeout = std::chrono::seconds(20);
  o.compute_timeout = std::chrono::seconds(60);
  return o;
}

nn::TensorView text(const std::string& s, uint32_t type = 3) {
  static const uint32_t one = 1;
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&one, 1);
  t.type = type;
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

nlohmann::json meta(nn::ExecutionContext& ctx) { return nlohmann::json::parse(str(ctx.get_output(1))); }

// Whole-text compute on a context: options (index 1), prompt (index 0), compute, output 0.
std::string compute_text(nn::Backend& b, const std::string& prompt, const std::string& opts) {
  auto g = b.load_by_name("default", "");
  auto ctx = g->init_execution_context();
  ctx->set_input(1, text(opts));
  ctx->set_input(0, text(prompt));
  ctx->compute();
  return str(ctx->get_output(0));
}

struct CliRun {
  int status = -1;
  std::string out;
};

// The nnbridge command through the shell (stdin optional); stderr merged when asked.
CliRun run_cli(const std::string& args, bool merge_stderr = false, const std::string& stdin_text = "") {
  std::string cmd = std::string("'") + NNB_CLI_PATH + "' " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  if (!stdin_text.empty()) cmd = "printf '" + stdin_text + "' | " + cmd;  // printf turns the \n escapes into newlines
  else cmd += " </dev/null";
  const test::RunResult r = test::run_shell(cmd);
  return CliRun{r.exit_code, r.out};
}

// Server-wide counts from nnbridge's ListModels (graphs / contexts over `model`, all sessions).
nnbridge::v1::ListModelsResponse list_models(const std::string& uri) {
  auto ch = grpc::CreateChannel(rpc::parse_endpoint(uri).grpc_target(), grpc::InsecureChannelCredentials());
  auto stub = nnbridge::v1::Nnbridge::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  nnbridge::v1::ListModelsResponse resp;
  const auto st = stub->ListModels(&ctx, nnbridge::v1::ListModelsRequest(), &resp);
  if (!st.ok()) throw std::runtime_error("ListModels: " + st.error_message());
  return resp;
}

uint32_t graphs_of(const std::string& uri, const std::string& model) {
  const auto resp = list_models(uri);  // named: the loop must not run over a temporary's member
  for (const auto& m : resp.models())
    if (m.name() == model) return m.graphs();
  return 0;
}

const std::string kGreedy = R"({"temp":0,"n-predict":24})";

class RpcClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(test::scratch_dir("rpc_client"));
    ModelSpec spec;
    spec.type = GgmlType::Q8_0;
    spec.n_embd = 128;
    spec.n_ff = 256;
    spec.seed = 5;
    const auto model = *dir_ / "tiny-q8.gguf";
    write_model(spec, model);
    preloads_ = new std::vector<std::string>{"default:GGML:AUTO:" + model.string(),
                                             "missing:GGML:AUTO:" + (*dir_ / "no-such-model.gguf").string()};
    if (auto f = test::fixtures_dir(); f && std::filesystem::exists(*f / "models/stories260K.gguf"))
      preloads_->push_back("stories:GGML:AUTO:" + (*f / "models/stories260K.gguf").string());
    server_ = new Server(*dir_, "main", *preloads_);
    std::vector<nn::PreloadSpec> specs;
    for (const auto& p : *preloads_) specs.push_back(nn::parse_preload(p));
    local_ = new ggml::GgmlBackend(specs);
  }
  static void TearDownTestSuite() {
    delete local_;
    delete server_;
    delete preloads_;
    delete dir_;
  }
  static std::filesystem::path* dir_;
  static std::vector<std::string>* preloads_;
  static Server* server_;
  static ggml::GgmlBackend* local_;
};
std::filesystem::path* RpcClient::dir_ = nullptr;
std::vector<std::string>* RpcClient::preloads_ = nullptr;
Server* RpcClient::server_ = nullptr;
ggml::GgmlBackend* RpcClient::local_ = nullptr;

TEST_F(RpcClient, UnaryComputeEqualsInProcess) {
  RemoteBackend remote(client_options(server_->uri()));
  const std::string want = compute_text(*local_, "once upon a time", kGreedy);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(compute_text(remote, "once upon a time", kGreedy), want);

  // Metadata: the four WasmEdge keys, counts equal to the in-process ones.
  auto lg = local_->load_by_name("default", kGreedy);
  auto rg = remote.load_by_name("default", kGreedy);  // LoadByNameWithConfig
  auto lc = lg->init_execution_context();
  auto rc = rg->init_execution_context();
  for (auto* c : {lc.get(), rc.get()}) {
    c->set_input(0, text("the girl saw a big red ball"));
    c->compute();
  }
  const auto lm = meta(*lc), rm = meta(*rc);
  for (const char* k : {"input_tokens", "output_tokens", "llama_build_number", "llama_commit"}) {
    ASSERT_TRUE(rm.contains(k)) << k;
    EXPECT_EQ(rm[k], lm[k]) << k;
  }
  EXPECT_EQ(rc->get_output(0), lc->get_output(0));
  EXPECT_EQ(rc->get_output(0), rc->get_output(0));  // reading twice gives the same bytes
}

TEST_F(RpcClient, ComputeSingleLoopEqualsInProcess) {
  RemoteBackend remote(client_options(server_->uri()));
  const std::string want = compute_text(*local_, "the dog", kGreedy);
  auto g = remote.load_by_name("default", "");
  auto ctx = g->init_execution_context();
  for (int round = 0; round < 2; ++round) {  // fini_single, then a new stream on the same context
    ctx->set_input(1, text(kGreedy));
    ctx->set_input(0, text("the dog"));
    std::string got;
    int tokens = 0;
    try {
      for (;;) {
        ctx->compute_single();
        got += str(ctx->get_output_single(0));
        ++tokens;
      }
    } catch (const nn::Error& e) {
      ASSERT_EQ(e.code(), nn::Errno::EndOfSequence) << e.what();
    }
    EXPECT_EQ(got, want) << "round " << round;
    EXPECT_EQ(meta(*ctx)["output_tokens"], tokens);
    ctx->fini_single();
  }
}

TEST_F(RpcClient, GenerateStreamEqualsInProcess) {
  RemoteBackend remote(client_options(server_->uri()));
  const std::string want = compute_text(*local_, "she was very happy", kGreedy);
  auto g = remote.load_by_name("default", "");
  std::string got;
  int pieces = 0;
  const auto r = remote.generate(g, "she was very happy", kGreedy, [&](std::string_view p) {
    got += p;
    ++pieces;
    return true;
  });
  EXPECT_TRUE(r.native);
  EXPECT_TRUE(remote.has_nnbridge_service());
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.output_tokens, uint32_t(pieces));
  EXPECT_GT(r.input_tokens, 1u);
  EXPECT_FALSE(r.stop_reason.empty());
  // By model name, without a graph of ours.
  std::string by_name;
  remote.generate("default", "she was very happy", kGreedy, [&](std::string_view p) {
    by_name += p;
    return true;
  });
  EXPECT_EQ(by_name, want);
}

TEST_F(RpcClient, WasmEdgeProtocolOnlyFallsBackToComputeSingle) {
  auto o = client_options(server_->uri());
  o.wasmedge_only = true;
  RemoteBackend remote(o);
  const std::string want = compute_text(*local_, "the park", kGreedy);
  auto g = remote.load_by_name("default", "");
  std::string got;
  const auto r = remote.generate(g, "the park", kGreedy, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_FALSE(r.native);
  EXPECT_EQ(got, want);
  EXPECT_GT(r.input_tokens, 1u);
  // No unload RPC in WasmEdge's protocol: 6, as WasmEdge's client answers.
  try {
    remote.unload(g);
    FAIL() << "unload succeeded";
  } catch (const nn::Error& e) {
    EXPECT_EQ(e.code(), nn::Errno::UnsupportedOperation);
  }
}

// One streaming helper serves nnbridge's Generate and the client's WASI-NN fallback: for the
// same generation both report the same stop reason (as data: the Final's enum, the metadata's
// "stop_reason"), text and token counts, for every reason.
TEST_F(RpcClient, EachStopReasonIsTheSameThroughGenerateAndTheFallback) {
  RemoteBackend native(client_options(server_->uri()));
  auto o = client_options(server_->uri());
  o.wasmedge_only = true;
  RemoteBackend fallback(o);
  struct Run {
    rpc::GenerateResult r;
    std::vector<std::string> pieces;
    std::string text;
  };
  // `stop_after`: on_piece returns false on that piece (0: never).
  auto run = [](RemoteBackend& b, const std::string& options, int stop_after = 0) {
    Run x;
    x.r = b.generate("default", "once upon a time", options, [&](std::string_view p) {
      x.pieces.emplace_back(p);
      x.text += p;
      return stop_after == 0 || int(x.pieces.size()) < stop_after;
    });
    return x;
  };
  // A reverse prompt: a printable piece of the greedy output after its first two.
  const Run greedy = run(native, kGreedy);
  const std::string rp = test::printable_piece_after_two(greedy.pieces);
  ASSERT_FALSE(rp.empty()) << "no printable piece in the greedy output";
  // End of generation: the first seed whose near-uniform sampling stops by itself.
  std::string eog;
  for (int seed = 1; seed <= 40 && eog.empty(); ++seed) {
    const std::string opts = test::end_of_generation_options(seed);
    if (run(native, opts).r.output_tokens < 400) eog = opts;
  }
  ASSERT_FALSE(eog.empty()) << "no seed of 40 made the generated model end by itself";

  struct Case {
    std::string options;
    nn::StopReason want;
    int stop_after = 0;
  };
  const Case cases[] = {
      {R"({"temp":0,"n-predict":5})", nn::StopReason::NPredict},
      {R"({"temp":0,"n-predict":24,"reverse-prompt":")" + rp + "\"}", nn::StopReason::ReversePrompt},
      {R"({"temp":0,"n-predict":-1,"ctx-size":16})", nn::StopReason::ContextFull},
      {eog, nn::StopReason::EndOfGeneration},
      {R"({"temp":0,"n-predict":-1,"ctx-size":2048})", nn::StopReason::Cancelled, /*stop_after=*/3},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(std::string(nn::stop_reason_name(k.want)));
    const Run a = run(native, k.options, k.stop_after);
    const Run b = run(fallback, k.options, k.stop_after);
    EXPECT_TRUE(a.r.native);
    EXPECT_FALSE(b.r.native);
    EXPECT_EQ(a.r.stop, k.want);
    EXPECT_EQ(b.r.stop, a.r.stop) << "the two paths disagree";
    EXPECT_EQ(a.r.stop_reason, nn::stop_reason_name(k.want));
    EXPECT_EQ(b.r.stop_reason, a.r.stop_reason);
    EXPECT_EQ(b.text, a.text);
    EXPECT_EQ(a.r.output_tokens, a.pieces.size());
    EXPECT_EQ(b.r.output_tokens, a.r.output_tokens);
    EXPECT_EQ(b.r.input_tokens, a.r.input_tokens);
    if (k.want == nn::StopReason::Cancelled) {
      EXPECT_EQ(a.pieces.size(), 3u);
      EXPECT_TRUE(a.r.metadata_json.empty());
      EXPECT_TRUE(b.r.metadata_json.empty());
    } else {
      EXPECT_GT(a.r.input_tokens, 1u);
      EXPECT_EQ(nlohmann::json::parse(b.r.metadata_json).value("stop_reason", ""), a.r.stop_reason);
    }
  }
}

TEST_F(RpcClient, ErrnoFromTheServerTrailer) {
  RemoteBackend remote(client_options(server_->uri()));
  auto expect_errno = [](nn::Errno want, auto&& fn, const char* what) {
    try {
      fn();
      ADD_FAILURE() << what << ": no error";
    } catch (const rpc::TransportError& e) {
      ADD_FAILURE() << what << ": transport error instead of errno " << uint32_t(want) << ": " << e.what();
    } catch (const nn::Error& e) {
      EXPECT_EQ(e.code(), want) << what << ": " << e.what();
    }
  };
  expect_errno(nn::Errno::NotFound, [&] { remote.load_by_name("no-such-name", ""); }, "unknown name");
  expect_errno(nn::Errno::ModelNotFound, [&] { remote.load_by_name("missing", ""); }, "preload file absent");
  expect_errno(nn::Errno::InvalidEncoding, [&] { remote.load_by_name("default", "{not json"); }, "bad config");
  auto g = remote.load_by_name("default", "");
  auto ctx = g->init_execution_context();
  expect_errno(nn::Errno::InvalidEncoding, [&] { ctx->set_input(1, text("{\"temp\":")); }, "bad metadata JSON");
  expect_errno(nn::Errno::InvalidArgument, [&] { ctx->set_input(1, text("{\"n-predict\":\"many\"}")); },
               "wrong type");
  ctx->set_input(1, text(R"({"n-predict":4,"temp":0})"));
  ctx->set_input(0, text("the cat"));
  ctx->compute();
  expect_errno(nn::Errno::InvalidArgument, [&] { ctx->compute(); }, "second compute without set_input");
  // A prompt longer than the context.
  ctx->set_input(1, text(R"({"ctx-size":16})"));
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "the girl ";
  ctx->set_input(0, text(long_prompt));
  expect_errno(nn::Errno::PromptTooLong, [&] { ctx->compute(); }, "prompt too long");
  // The same errnos through the Generate stream.
  const auto ignore = [](std::string_view) { return true; };
  expect_errno(nn::Errno::PromptTooLong, [&] { remote.generate(g, long_prompt, R"({"ctx-size":16})", ignore); },
               "generate: prompt too long");
  expect_errno(nn::Errno::NotFound, [&] { remote.generate("no-such-name", "x", "", ignore); }, "generate: unknown name");
  expect_errno(nn::Errno::InvalidEncoding, [&] { remote.generate(g, "x", "{oops", ignore); }, "generate: bad options");
  // No RPC carries model bytes.
  expect_errno(nn::Errno::UnsupportedOperation, [&] { remote.load({}, nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO); },
               "load(builders)");
}

TEST_F(RpcClient, RawTensorTypeNumbersAreAccepted) {
  // The client forwards the caller's number unchanged (a 0.14 guest's U8 is 2, newer crates'
  // is 3; the proto calls 4 "U8"): GGML ignores it, so none may be rejected.
  RemoteBackend remote(client_options(server_->uri()));
  const std::string want = compute_text(*local_, "the sun", kGreedy);
  auto g = remote.load_by_name("default", "");
  for (uint32_t type : {2u, 3u, 4u, 77u}) {
    auto ctx = g->init_execution_context();
    ctx->set_input(1, text(kGreedy, type));
    ctx->set_input(0, text("the sun", type));
    ctx->compute();
    EXPECT_EQ(str(ctx->get_output(0)), want) << "type " << type;
  }
}

TEST_F(RpcClient, UnloadFreesTheGraphAndTheNameLoadsAgain) {
  RemoteBackend remote(client_options(server_->uri()));
  auto g = remote.load_by_name("default", "");
  remote.unload(g);
  try {
    g->init_execution_context();
    FAIL() << "init on an unloaded graph succeeded";
  } catch (const rpc::TransportError& e) {
    FAIL() << "transport error: " << e.what();
  } catch (const nn::Error&) {
  }
  auto g2 = remote.load_by_name("default", "");
  auto ctx = g2->init_execution_context();
  ctx->set_input(1, text(kGreedy));
  ctx->set_input(0, text("the tree"));
  ctx->compute();
  EXPECT_EQ(str(ctx->get_output(0)), compute_text(*local_, "the tree", kGreedy));
}

TEST_F(RpcClient, SessionEndFreesHandles) {
  const std::string uri = server_->uri();
  // Other tests' WasmEdge-protocol clients leave graphs for the server's idle reaper: count
  // from here.
  const uint32_t before = graphs_of(uri, "default");
  {
    RemoteBackend remote(client_options(uri));
    auto g = remote.load_by_name("default", "");
    auto ctx = g->init_execution_context();
    const auto t0 = Clock::now();
    while (!remote.session_attached() && seconds_since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(remote.session_attached());
    EXPECT_EQ(graphs_of(uri, "default"), before + 1);
  }
  // Graph and context objects gone: FinalizeContext and Unload were sent.
  EXPECT_EQ(graphs_of(uri, "default"), before);

  // A client process killed while it holds a graph: its Session stream ends and the server
  // frees the graph.
  ChildOptions with_stdin;
  with_stdin.stdin_pipe = true;  // held open: chat waits for a prompt
  ChildProcess chat({NNB_CLI_PATH, "chat", "--nn-rpc-uri", uri}, *dir_ / "chat-killed.log", with_stdin);
  auto t0 = Clock::now();
  while (graphs_of(uri, "default") == before && seconds_since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(graphs_of(uri, "default"), before + 1) << "chat did not load the model";
  chat.kill9();
  t0 = Clock::now();
  while (graphs_of(uri, "default") != before && seconds_since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(graphs_of(uri, "default"), before);
}

TEST_F(RpcClient, ServerNotRunningIsAClearRuntimeError) {
  const std::string uri = "unix://" + (*dir_ / "nobody-listens.sock").string();
  auto opts = client_options(uri);
  opts.connect_timeout = std::chrono::milliseconds(500);  // how long a call waits for a server
  RemoteBackend remote(opts);
  const auto t0 = Clock::now();
  try {
    remote.load_by_name("default", "");
    FAIL() << "load_by_name succeeded without a server";
  } catch (const rpc::TransportError& e) {
    EXPECT_EQ(e.code(), nn::Errno::RuntimeError);
    EXPECT_NE(std::string(e.what()).find("cannot reach server at " + uri), std::string::npos) << e.what();
    // It gave up because the connect timeout passed, not for another reason.
    EXPECT_NE(std::string(e.what()).find("no connection within 0.5 s"), std::string::npos) << e.what();
  }
  std::printf("[ measured ] no server: load_by_name failed after %.0f ms (connect timeout 500 ms)\n",
              seconds_since(t0) * 1e3);
  // Every kind of call, never success.
  EXPECT_THROW(remote.generate("default", "x", "", [](std::string_view) { return true; }), rpc::TransportError);
}

TEST_F(RpcClient, CancelMidGenerateReturnsPromptly) {
  RemoteBackend remote(client_options(server_->uri()));
  auto g = remote.load_by_name("default", "");
  const size_t stops_before = count_of(server_->log(), "generate stopped after");
  // Other tests' WasmEdge-protocol contexts live on in the shared server until its idle reaper.
  const uint32_t contexts_before = list_models(server_->uri()).stats().contexts();
  int pieces = 0;
  Clock::time_point cancelled_at;
  const auto r = remote.generate(g, "once upon a time", R"({"n-predict":100000,"ctx-size":2048,"temp":1.0,"seed":7})",
                                 [&](std::string_view) {
                                   if (++pieces < 3) return true;
                                   cancelled_at = Clock::now();
                                   return false;
                                 });
  const double took = seconds_since(cancelled_at);
  if (pieces < 3) GTEST_SKIP() << "the model ended after " << pieces << " tokens";
  EXPECT_EQ(r.stop_reason, "cancelled");
  EXPECT_EQ(r.stop, nn::StopReason::Cancelled);
  EXPECT_EQ(r.output_tokens, 3u);
  std::printf("[ measured ] generate returned %.1f ms after the callback cancelled it\n", took * 1e3);
  // The server saw the cancellation and stopped (rather than running on to 100000 tokens):
  // it says so in its log, and the generation's private context is freed.
  EXPECT_TRUE(eventually([&] { return count_of(server_->log(), "generate stopped after") > stops_before; }))
      << server_->log();
  EXPECT_TRUE(eventually([&] { return list_models(server_->uri()).stats().contexts() == contexts_before; }));
  // A callback that throws: the exception reaches the caller, the stream is cancelled.
  EXPECT_THROW(remote.generate(g, "the cat", R"({"n-predict":50,"temp":0})",
                               [](std::string_view) -> bool { throw std::runtime_error("app failed"); }),
               std::runtime_error);
  // The server is still fine for this client.
  std::string got;
  remote.generate(g, "the dog", kGreedy, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_EQ(got, compute_text(*local_, "the dog", kGreedy));
}

TEST_F(RpcClient, StoriesFixtureThroughTheServer) {
  NNB_FIXTURE_OR_SKIP(stories, "models/stories260K.gguf");
  RemoteBackend remote(client_options(server_->uri()));
  const std::string opts = R"({"temp":0,"n-predict":40})";
  auto lg = local_->load_by_name("stories", "");
  auto lc = lg->init_execution_context();
  lc->set_input(1, text(opts));
  lc->set_input(0, text("Once upon a time"));
  lc->compute();
  const std::string want = str(lc->get_output(0));
  std::string got;
  remote.generate("stories", "Once upon a time", opts, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_EQ(got, want);
  EXPECT_GT(got.size(), 40u);
}

TEST_F(RpcClient, ChatOneShotPrintsTheAnswer) {
  const std::string want = compute_text(*local_, "the girl", R"({"temp":0,"n-predict":16})");
  const CliRun r = run_cli("chat --raw --nn-rpc-uri '" + server_->uri() + "' -p 'the girl' --temp 0 -n 16");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, want + "\n");
}

TEST_F(RpcClient, ChatInteractiveAnswersEachLine) {
  const std::string o = R"({"temp":0,"n-predict":8})";
  const std::string want = compute_text(*local_, "the girl", o) + "\n" + compute_text(*local_, "a big dog", o) + "\n";
  const CliRun r = run_cli("chat --raw --nn-rpc-uri '" + server_->uri() + "' --temp 0 -n 8", false,
                        "the girl\\n\\na big dog\\n/exit\\nnot answered\\n");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, want);
}

TEST_F(RpcClient, ChatErrorsExitOne) {
  const CliRun down = run_cli("chat --nn-rpc-uri 'unix://" + (*dir_ / "nobody.sock").string() + "' -p hi", true);
  EXPECT_EQ(down.status, 1);
  EXPECT_NE(down.out.find("cannot reach server at unix://"), std::string::npos) << down.out;
  const CliRun missing = run_cli("chat --nn-rpc-uri '" + server_->uri() + "' -m missing -p hi", true);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("(103)"), std::string::npos) << missing.out;
  const CliRun bad_uri = run_cli("chat --nn-rpc-uri 'unix:relative.sock' -p hi", true);
  EXPECT_EQ(bad_uri.status, 1);
  EXPECT_NE(bad_uri.out.find("absolute"), std::string::npos) << bad_uri.out;
}

TEST_F(RpcClient, RemoteBenchJson) {
  const CliRun r = run_cli("bench --nn-rpc-uri '" + server_->uri() + "' -p 24 -n 12 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"pp_tokens_per_s", "tg_tokens_per_s", "call_p50_us", "call_p99_us"}) {
    ASSERT_TRUE(j.contains(k)) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  }
  EXPECT_GE(j["call_p99_us"].get<double>(), j["call_p50_us"].get<double>());
  EXPECT_NEAR(j["n_prompt"].get<double>(), 24, 2);
  EXPECT_TRUE(j["native_stream"].get<bool>());
  EXPECT_TRUE(j.contains("stream_overhead_mean_us"));
  EXPECT_EQ(j["n_gen"], 12);
}

ModelSpec tiny_spec() {
  ModelSpec spec;
  spec.type = GgmlType::Q8_0;
  spec.n_embd = 128;
  spec.n_ff = 256;
  spec.seed = 5;
  return spec;
}

// What a WasmEdge wasi_nn_rpcserver offers: the three wasi_ephemeral_nn services (nnbridge's
// real implementations over a real GGML backend) and no Nnbridge service, so every nnbridge
// call is UNIMPLEMENTED and the client must fall back without being told.
class WasmEdgeProtocolServer {
 public:
  WasmEdgeProtocolServer(const std::filesystem::path& sock, std::shared_ptr<nn::Backend> backend) {
    rpc::ServerOptions o;
    o.log = [](const std::string&) {};
    state_ = std::make_unique<rpc::ServerState>(std::move(backend), o);
    graph_ = std::make_unique<rpc::WasiGraphService>(*state_);
    resource_ = std::make_unique<rpc::WasiGraphResourceService>(*state_);
    context_ = std::make_unique<rpc::WasiContextService>(*state_);
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + sock.string(), grpc::InsecureServerCredentials());
    b.RegisterService(graph_.get());
    b.RegisterService(resource_.get());
    b.RegisterService(context_.get());
    server_ = b.BuildAndStart();
    if (!server_) throw std::runtime_error("cannot listen on " + sock.string());
    uri_ = "unix://" + sock.string();
  }
  ~WasmEdgeProtocolServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }
  const std::string& uri() const { return uri_; }

 private:
  std::unique_ptr<rpc::ServerState> state_;
  std::unique_ptr<rpc::WasiGraphService> graph_;
  std::unique_ptr<rpc::WasiGraphResourceService> resource_;
  std::unique_ptr<rpc::WasiContextService> context_;
  std::unique_ptr<grpc::Server> server_;
  std::string uri_;
};

TEST(RpcClientWasmEdgeServer, FallsBackSilentlyWithoutTheNnbridgeService) {
  const auto dir = test::scratch_dir("rpc_client_wasmedge");
  write_model(tiny_spec(), dir / "m.gguf");
  auto backend = std::make_shared<ggml::GgmlBackend>(
      std::vector<nn::PreloadSpec>{nn::parse_preload("default:GGML:AUTO:" + (dir / "m.gguf").string())});
  const std::string want = compute_text(*backend, "the girl", kGreedy);
  WasmEdgeProtocolServer server(dir / "w.sock", backend);
  RemoteBackend remote(client_options(server.uri()));
  auto g = remote.load_by_name("default", "");
  std::string got;
  const auto r = remote.generate(g, "the girl", kGreedy, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_FALSE(r.native);
  EXPECT_EQ(got, want);
  {  // The stop reason as the local backend tells it, read from the server's metadata.
    auto local = backend->load_by_name("default", "")->init_execution_context();
    local->set_input(1, text(kGreedy));
    local->set_input(0, text("the girl"));
    local->compute();
    ASSERT_TRUE(local->stop_reason());
    EXPECT_EQ(r.stop, *local->stop_reason());
    EXPECT_EQ(r.stop_reason, nn::stop_reason_name(r.stop));
  }
  EXPECT_FALSE(remote.has_nnbridge_service());
  EXPECT_FALSE(remote.session_attached());
  { // Context destruction tries FinalizeContext at most once, silently.
    auto ctx = g->init_execution_context();
    ctx->set_input(1, text(kGreedy));
    ctx->set_input(0, text("the girl"));
    ctx->compute();
    EXPECT_EQ(str(ctx->get_output(0)), want);
  }
  try {
    remote.unload(g);
    FAIL() << "unload succeeded without an unload RPC";
  } catch (const nn::Error& e) {
    EXPECT_EQ(e.code(), nn::Errno::UnsupportedOperation) << e.what();
  }
  // Errors still come from the errno trailer.
  try {
    remote.load_by_name("nope", "");
    FAIL();
  } catch (const nn::Error& e) {
    EXPECT_EQ(e.code(), nn::Errno::NotFound) << e.what();
  }
}

// Bearer token: without it every call fails with the server's errno (not success, not a
// transport error); with it the client works, Session stream included.
TEST(RpcClientSecurity, BearerToken) {
  const auto dir = test::scratch_dir("rpc_client_auth");
  write_model(tiny_spec(), dir / "m.gguf");
  {
    std::ofstream(dir / "token") << "0123456789abcdef-s3cret\n";
  }
  Server server(dir, "auth", {"default:GGML:AUTO:" + (dir / "m.gguf").string()},
                {"--auth-token-file", (dir / "token").string()});
  RemoteBackend anonymous(client_options(server.uri()));
  try {
    anonymous.load_by_name("default", "");
    FAIL() << "a call without the token succeeded";
  } catch (const nn::Error& e) {
    EXPECT_EQ(e.code(), nn::Errno::RuntimeError);
    EXPECT_NE(std::string(e.what()).find("Bearer"), std::string::npos) << e.what();
  }
  auto o = client_options(server.uri());
  o.auth_token = "0123456789abcdef-s3cret";
  RemoteBackend authed(o);
  std::string got;
  authed.generate("default", "the girl", kGreedy, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_FALSE(got.empty());
  const auto t0 = Clock::now();
  while (!authed.session_attached() && seconds_since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(authed.session_attached());
  const CliRun chat = run_cli("chat --raw --nn-rpc-uri '" + server.uri() + "' --auth-token-file '" + (dir / "token").string() +
                              "' -p 'the girl' --temp 0 -n 24");
  EXPECT_EQ(chat.status, 0);
  EXPECT_EQ(chat.out, got + "\n");
}

// TLS on loopback TCP with a throw-away self-signed certificate.
TEST(RpcClientSecurity, TlsOverTcp) {
  const auto dir = test::scratch_dir("rpc_client_tls");
  const std::string gen = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
                          (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() + "' 2>/dev/null";
  if (std::system(gen.c_str()) != 0) GTEST_SKIP() << "openssl could not make a test certificate";
  write_model(tiny_spec(), dir / "m.gguf");
  const int port = free_tcp_port();
  Server server(dir, "tls", {"default:GGML:AUTO:" + (dir / "m.gguf").string()},
                {"--tls-cert", (dir / "cert.pem").string(), "--tls-key", (dir / "key.pem").string()}, port);
  auto o = client_options(server.uri());
  o.tls_ca = (dir / "cert.pem").string();
  RemoteBackend remote(o);
  std::string got;
  const auto r = remote.generate("default", "the girl", kGreedy, [&](std::string_view p) {
    got += p;
    return true;
  });
  EXPECT_TRUE(r.native);
  EXPECT_FALSE(got.empty());
  // A plain-text client cannot talk to the TLS server: an error, never success.
  RemoteBackend plain(client_options(server.uri()));
  EXPECT_THROW(plain.load_by_name("default", ""), rpc::TransportError);
}

// A server SIGKILLed while compute runs: the call fails with RuntimeError, never success.
TEST(RpcClientCrash, ServerKilledMidComputeIsRuntimeError) {
  const auto dir = test::scratch_dir("rpc_client_crash");
  ModelSpec spec;  // ~9M parameters: a 2000-token prompt takes seconds on 2 cores
  spec.type = GgmlType::Q8_0;
  spec.n_embd = 384;
  spec.n_layer = 6;
  spec.n_head = 6;
  spec.n_head_kv = 2;
  spec.n_ff = 1024;
  write_model(spec, dir / "m.gguf");
  Server server(dir, "crash", {"default:GGML:AUTO:" + (dir / "m.gguf").string()});
  auto opts = client_options(server.uri());
  opts.connect_timeout = std::chrono::milliseconds(500);  // the calls after the kill wait this long
  RemoteBackend remote(opts);
  auto g = remote.load_by_name("default", "");
  auto ctx = g->init_execution_context();
  // Greedy runs on to a full context: seconds of prompt evaluation, then ~2000 tokens.
  ctx->set_input(1, text(R"({"ctx-size":4096,"n-predict":-1,"batch-size":4096,"temp":0})"));
  std::string prompt;
  for (int i = 0; i < 700; ++i) prompt += "the girl saw ";
  ctx->set_input(0, text(prompt));
  auto fut = std::async(std::launch::async, [&]() -> std::optional<nn::Error> {
    try {
      ctx->compute();
      return std::nullopt;
    } catch (const nn::Error& e) {
      return e;
    }
  });
  // A Generate stream in flight at the same time, already delivering pieces.
  std::atomic<int> pieces{0};
  auto stream = std::async(std::launch::async, [&]() -> std::optional<nn::Error> {
    try {
      remote.generate(g, "the girl", R"({"ctx-size":4096,"n-predict":-1,"temp":0})", [&](std::string_view) {
        ++pieces;
        return true;
      });
      return std::nullopt;
    } catch (const nn::Error& e) {
      return e;
    }
  });
  const auto t_start = Clock::now();
  while (pieces.load() < 2 && seconds_since(t_start) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(pieces.load(), 2) << "the stream did not start";
  ASSERT_EQ(fut.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout) << "compute ended too early";
  server.kill9();
  const auto t0 = Clock::now();
  for (auto* f : {&fut, &stream}) {
    const auto err = f->get();  // a call that hung would hold the test until ctest's timeout
    ASSERT_TRUE(err.has_value()) << (f == &fut ? "compute" : "generate") << " reported success although the server was killed";
    EXPECT_EQ(err->code(), nn::Errno::RuntimeError) << err->what();
  }
  std::printf("[ measured ] both calls failed %.0f ms after the server was killed\n", seconds_since(t0) * 1e3);
  // Later calls on the dead server fail the same way.
  EXPECT_THROW(ctx->get_output(0), rpc::TransportError);
}

}  // namespace
}  // namespace nnb

namespace nnb::rpc {
namespace {

// A wasm app's streaming loop (compute_single + get_output_single per token) through an
// nnbridge server rides one Generate stream: the same pieces and the same errno at the same
// call as the unary WasmEdge protocol, for every way a stream ends, with far fewer than 0.1
// RPCs per token.
TEST_F(RpcClient, ComputeSingleRidesOneStreamWithTheUnarySemantics) {
  RemoteBackend piped(client_options(server_->uri()));
  auto o = client_options(server_->uri());
  o.wasmedge_only = true;
  RemoteBackend unary(o);
  struct Run {
    std::vector<std::string> pieces;
    nn::Errno end = nn::Errno::Success;
    std::string meta;
    uint64_t loop_calls = 0;  // RPCs the server saw from the first compute_single to the end
  };
  const std::string uri = server_->uri();
  auto calls = [uri] { return list_models(uri).stats().calls(); };
  auto run = [&](RemoteBackend& b, const std::string& options, const std::string& prompt, int stop_after = 0) {
    auto g = b.load_by_name("default", "");
    auto ctx = g->init_execution_context();
    ctx->set_input(1, text(options));
    ctx->set_input(0, text(prompt));
    Run r;
    const uint64_t c0 = calls();
    for (;;) {
      try {
        ctx->compute_single();
      } catch (const nn::Error& e) {
        r.end = e.code();
        break;
      }
      const auto p = ctx->get_output_single(0);
      r.pieces.emplace_back(p.begin(), p.end());
      if (stop_after && int(r.pieces.size()) == stop_after) {
        // Metadata asked for mid-stream: nothing of the stream may be lost by it.
        const auto m = ctx->get_output_single(1);
        r.meta.assign(m.begin(), m.end());
      }
    }
    r.loop_calls = calls() - c0 - 1;  // less this ListModels
    ctx->fini_single();
    return r;
  };
  const std::string n24 = R"({"temp":0,"n-predict":24})";
  const std::string full = R"({"temp":0,"n-predict":-1,"ctx-size":64})";  // runs into a full context
  for (const auto& [opts, stop_after] : {std::pair{n24, 0}, std::pair{full, 0}, std::pair{n24, 5}}) {
    const Run want = run(unary, opts, "once upon a time", stop_after);
    const Run got = run(piped, opts, "once upon a time", stop_after);
    EXPECT_EQ(got.pieces, want.pieces) << opts;
    EXPECT_EQ(got.end, want.end) << opts;
    ASSERT_FALSE(got.pieces.empty());
    std::printf("%s stop_after=%d: %zu tokens; the loop made %llu RPCs (unary protocol: %llu), end errno %u\n",
                opts.c_str(), stop_after, got.pieces.size(), static_cast<unsigned long long>(got.loop_calls),
                static_cast<unsigned long long>(want.loop_calls), unsigned(got.end));
    // One Generate stream for the whole loop (two with the metadata asked for mid-stream).
    EXPECT_LE(got.loop_calls, stop_after ? 2u : 1u);
    EXPECT_LT(double(got.loop_calls) / double(got.pieces.size()), 0.1);
    EXPECT_GE(want.loop_calls, 2 * want.pieces.size());  // what it replaces: two calls per token
  }
  // Errors before the first piece are the unary call's: a prompt that does not fit → 102.
  const Run too_long = run(piped, R"({"ctx-size":16})", std::string(400, 'a') + " b c d e f g h i j k l m n o p");
  EXPECT_EQ(too_long.end, nn::Errno::PromptTooLong);
}

}  // namespace
}  // namespace nnb::rpc

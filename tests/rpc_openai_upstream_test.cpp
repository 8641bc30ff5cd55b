// The OpenAI backend end to end, all real processes on loopback: two upstreams (`nnbridge serve
// --http`, the OpenAI-compatible API over a generated model) and a front `nnbridge serve` whose
// model `big` is those two upstreams (--nn-preload big:OPENAI:AUTO:http://…/v1#tiny, twice).
// Clients reach the front as they reach any nnbridge server: WASI-NN over gRPC (RemoteBackend)
// and its own HTTP API. Its answers equal the upstreams' own; a killed upstream is routed
// around with no failure the client sees; one killed mid-stream ends that stream with errno 5,
// never a clean shorter end; options map to the upstream's fields or are refused by name.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "rpc/client.h"
#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

using nlohmann::json;
using nn::Errno;

constexpr const char* kPrompt = "Once upon a time";

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

nn::TensorView tensor(const std::string& s) {
  static const uint32_t one = 1;
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&one, 1);
  t.type = 3;
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

Errno errno_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nn::Error& e) {
    return e.code();
  }
  return Errno::Success;
}

// A `serve` with its own HTTP API (and a UNIX socket for WASI-NN).
struct Server {
  Server(const fs::path& dir, const std::string& tag, std::vector<std::string> extra) {
    sock = dir / (tag + ".sock");
    std::vector<std::string> args{"--nn-rpc-uri", "unix://" + sock.string(), "--http", "127.0.0.1:0", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<ServeProcess>(args, dir / (tag + ".log"));
    ready = proc->wait_ready(30);
    port = ready ? http_port_from_log([&] { return proc->log(); }) : 0;
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
  void kill() {
    proc->signal(SIGKILL);
    proc->wait_exit(10);
  }
  fs::path sock;
  std::unique_ptr<ServeProcess> proc;
  bool ready = false;
  int port = 0;
};

httplib::Result post(int port, const std::string& path, const json& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(std::chrono::seconds(120));
  return c.Post(path.c_str(), body.dump(), "application/json");
}

// The text of a /v1/completions answer, JSON or SSE.
std::string completion_text(const httplib::Result& r) {
  if (!r || r->status != 200) {
    ADD_FAILURE() << (r ? r->body : std::string("no answer"));
    return {};
  }
  if (r->body.rfind("data: ", 0) != 0) return json::parse(r->body)["choices"][0]["text"];
  std::string out;
  for (size_t pos = 0; (pos = r->body.find("data: ", pos)) != std::string::npos;) {
    const size_t end = r->body.find("\n\n", pos);
    const std::string data = r->body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") break;
    const json j = json::parse(data);
    if (j.contains("error")) ADD_FAILURE() << data;
    if (!j["choices"].empty()) out += j["choices"][0]["text"].get<std::string>();
  }
  return out;
}

rpc::ClientOptions client(const fs::path& sock) {
  rpc::ClientOptions o;
  o.uri = "unix://" + sock.string();
  o.call_timeout = std::chrono::seconds(30);
  o.compute_timeout = std::chrono::seconds(120);
  return o;
}

// compute() on a fresh context of `big`: the text, the metadata and the errno.
struct Computed {
  std::string text;
  json meta;
  Errno err = Errno::Success;
};
Computed compute(nn::Backend& b, const std::string& prompt, const std::string& options) {
  Computed c;
  auto g = b.load_by_name("big", "");
  auto ctx = g->init_execution_context();
  ctx->set_input(1, tensor(options));
  ctx->set_input(0, tensor(prompt));
  c.err = errno_of([&] { ctx->compute(); });
  c.text = str(ctx->get_output(0));
  c.meta = json::parse(str(ctx->get_output(1)));
  return c;
}

// The compute_single loop as a WasmEdge streaming app runs it.
struct Streamed {
  std::vector<std::string> pieces;
  Errno end = Errno::Success;
  json meta;
  std::string text() const {
    std::string s;
    for (const auto& p : pieces) s += p;
    return s;
  }
};
Streamed stream(nn::ExecutionContext& ctx, const std::string& prompt, const std::string& options,
                const std::function<void(size_t)>& after_piece = {}) {
  Streamed s;
  ctx.set_input(1, tensor(options));
  ctx.set_input(0, tensor(prompt));
  while (true) {
    s.end = errno_of([&] { ctx.compute_single(); });
    if (s.end != Errno::Success) break;
    s.pieces.push_back(str(ctx.get_output_single(0)));
    if (after_piece) after_piece(s.pieces.size());
  }
  s.meta = json::parse(str(ctx.get_output(1)));
  return s;
}

class OpenAIUpstream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(test::scratch_dir("rpc_openai_upstream"));
    model_ = new fs::path(generated_model(*dir_, 11));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete model_;
  }

  // Two upstreams serving `model` as "tiny", and the front over both.
  void start(const fs::path& model, std::vector<std::string> front_extra = {}) {
    for (const char* tag : {"up-a", "up-b"}) {
      ups_.push_back(std::make_unique<Server>(*dir_, tag, std::vector<std::string>{"--nn-preload", "tiny:GGML:AUTO:" + model.string()}));
      ASSERT_TRUE(ups_.back()->ready && ups_.back()->port > 0) << ups_.back()->proc->log();
    }
    std::vector<std::string> args{"--upstream-health-interval-s", "1"};
    for (const auto& u : ups_) {
      args.push_back("--nn-preload");
      args.push_back("big:OPENAI:AUTO:" + u->base() + "#tiny");
    }
    args.insert(args.end(), front_extra.begin(), front_extra.end());
    front_ = std::make_unique<Server>(*dir_, "front", args);
    ASSERT_TRUE(front_->ready && front_->port > 0) << front_->proc->log();
    // The start-up probe found both upstreams up.
    EXPECT_EQ(count(front_->proc->log(), "/v1#tiny up"), 2u) << front_->proc->log();
  }

  // The upstream's own greedy answer (its HTTP API).
  std::string direct(int n_predict, const std::string& prompt = kPrompt) {
    return completion_text(post(ups_[0]->port, "/v1/completions",
                                {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", n_predict}, {"temperature", 0}}));
  }

  static std::string greedy(int n_predict) { return json{{"temp", 0}, {"n-predict", n_predict}}.dump(); }

  static fs::path* dir_;
  static fs::path* model_;
  std::vector<std::unique_ptr<Server>> ups_;
  std::unique_ptr<Server> front_;
};
fs::path* OpenAIUpstream::dir_ = nullptr;
fs::path* OpenAIUpstream::model_ = nullptr;

TEST_F(OpenAIUpstream, GreedyThroughTheFrontEqualsTheUpstreamsOwnAnswer) {
  start(*model_);
  const std::string want = direct(24);
  ASSERT_FALSE(want.empty());
  rpc::RemoteBackend remote(client(front_->sock));

  // WASI-NN compute, as wasmedge-ggml-llama.wasm runs it through a server.
  const Computed c = compute(remote, kPrompt, greedy(24));
  EXPECT_EQ(c.err, Errno::Success);
  EXPECT_EQ(c.text, want);
  EXPECT_EQ(c.meta["output_tokens"], 24) << c.meta;
  EXPECT_GT(c.meta["input_tokens"].get<int>(), 1) << c.meta;  // the upstream's usage
  EXPECT_EQ(c.meta["stop_reason"], "n_predict") << c.meta;
  for (const char* k : {"llama_build_number", "llama_commit"}) EXPECT_TRUE(c.meta.contains(k)) << k;

  // compute_single streaming: one piece per event, errno 100 at n-predict, then a second
  // stream on the same context after fini_single.
  auto ctx = remote.load_by_name("big", "")->init_execution_context();
  for (int round = 0; round < 2; ++round) {
    const Streamed s = stream(*ctx, kPrompt, greedy(24));
    EXPECT_EQ(s.end, Errno::EndOfSequence) << "round " << round;
    EXPECT_EQ(s.text(), want) << "round " << round;
    EXPECT_GE(s.pieces.size(), 20u);
    EXPECT_EQ(s.meta["output_tokens"], 24) << s.meta;
    EXPECT_EQ(s.meta["stop_reason"], "n_predict") << s.meta;
    ctx->fini_single();
  }

  // nnbridge's Generate stream on the front (what `chat` and the gateway use).
  std::string generated;
  const auto r = remote.generate("big", kPrompt, greedy(24), [&](std::string_view p) {
    generated += p;
    return true;
  });
  EXPECT_EQ(generated, want);
  EXPECT_EQ(r.stop, nn::StopReason::NPredict);

  // The front's own HTTP API, JSON and streamed.
  const json req = {{"model", "big"}, {"prompt", kPrompt}, {"max_tokens", 24}, {"temperature", 0}};
  auto h = post(front_->port, "/v1/completions", req);
  EXPECT_EQ(completion_text(h), want);
  if (h && h->status == 200) {
    EXPECT_EQ(json::parse(h->body)["choices"][0]["finish_reason"], "length");
  }
  json sreq = req;
  sreq["stream"] = true;
  EXPECT_EQ(completion_text(post(front_->port, "/v1/completions", sreq)), want);
  httplib::Client hc("127.0.0.1", front_->port);
  auto models = hc.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "big");
}

// Least busy first: two streams at once go to different upstreams.
TEST_F(OpenAIUpstream, ConcurrentStreamsSpreadOverTheUpstreams) {
  start(*model_);
  // WasmEdge's unary calls: a stream holds its upstream until the app has read it to the end
  // (nnbridge's client would pipeline the whole short stream before the second one starts).
  auto o = client(front_->sock);
  o.wasmedge_only = true;
  rpc::RemoteBackend remote(o);
  auto g = remote.load_by_name("big", "");
  auto c1 = g->init_execution_context();
  auto c2 = g->init_execution_context();
  for (auto* c : {c1.get(), c2.get()}) {
    c->set_input(1, tensor(greedy(16)));
    c->set_input(0, tensor(kPrompt));
    c->compute_single();  // both in flight now
  }
  for (auto* c : {c1.get(), c2.get()})
    while (errno_of([&] { c->compute_single(); }) == Errno::Success) {
    }
  for (auto* c : {c1.get(), c2.get()}) c->fini_single();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the upstreams' log lines
  EXPECT_EQ(count(ups_[0]->proc->log(), "generation:"), 1u) << ups_[0]->proc->log();
  EXPECT_EQ(count(ups_[1]->proc->log(), "generation:"), 1u) << ups_[1]->proc->log();
}

TEST_F(OpenAIUpstream, AKilledUpstreamIsRoutedAroundWithoutAFailedRequest) {
  start(*model_);
  const std::string want = direct(12);
  rpc::RemoteBackend remote(client(front_->sock));
  ups_[0]->kill();  // the first listed: the one an idle front picks
  for (int i = 0; i < 6; ++i) {
    const Computed c = compute(remote, kPrompt, greedy(12));
    EXPECT_EQ(c.err, Errno::Success) << "request " << i;
    EXPECT_EQ(c.text, want) << "request " << i;
    auto ctx = remote.load_by_name("big", "")->init_execution_context();
    const Streamed s = stream(*ctx, kPrompt, greedy(12));
    EXPECT_EQ(s.end, Errno::EndOfSequence) << "request " << i;
    EXPECT_EQ(s.text(), want) << "request " << i;
    EXPECT_EQ(completion_text(post(front_->port, "/v1/completions",
                                   {{"model", "big"}, {"prompt", kPrompt}, {"max_tokens", 12}, {"temperature", 0}})),
              want);
  }
  const std::string log = front_->proc->log();
  EXPECT_NE(log.find("upstream " + ups_[0]->base() + " failed"), std::string::npos) << log;
  // Once marked down, it is not tried first again: one failed try (perhaps one more from a
  // request already routed), not one per request.
  EXPECT_LE(count(log, "upstream " + ups_[0]->base() + " failed"), 2u) << log;
}

// A slower model, so that an upstream is still generating when it is killed.
fs::path slow_model(const fs::path& dir) {
  const fs::path p = dir / "slow.gguf";
  if (!fs::exists(p)) {
    ModelSpec spec;
    spec.seed = 3;
    spec.n_embd = 384;
    spec.n_layer = 6;
    spec.n_head = 6;
    spec.n_head_kv = 2;
    spec.n_ff = 1024;
    spec.n_vocab = 4000;
    write_model(spec, p);
  }
  return p;
}

TEST_F(OpenAIUpstream, AnUpstreamKilledMidStreamEndsTheStreamWithAnError) {
  start(slow_model(*dir_));
  rpc::RemoteBackend remote(client(front_->sock));
  auto ctx = remote.load_by_name("big", "")->init_execution_context();
  const auto t0 = Clock::now();
  const Streamed s = stream(*ctx, kPrompt, greedy(1500), [&](size_t n) {
    if (n == 5)
      for (auto& u : ups_) u->kill();  // whichever serves it
  });
  EXPECT_EQ(s.end, Errno::RuntimeError) << s.pieces.size() << " pieces, metadata " << s.meta;
  EXPECT_LT(s.pieces.size(), 1500u);
  EXPECT_LT(seconds_since(t0), 30);
  EXPECT_NE(front_->proc->log().find("broke off"), std::string::npos) << front_->proc->log();
  // compute() as well: an error, and not the text so far passed off as the answer.
  const Computed c = compute(remote, kPrompt, greedy(8));
  EXPECT_EQ(c.err, Errno::RuntimeError);
}

TEST_F(OpenAIUpstream, OptionsMapToTheUpstreamsFields) {
  start(*model_);
  rpc::RemoteBackend remote(client(front_->sock));
  const std::string want = direct(40);
  ASSERT_GT(want.size(), 24u);

  // n-predict → max_tokens (with private and engine keys the upstream ignores).
  const Computed five = compute(remote, kPrompt,
                                R"({"temp":0,"n-predict":5,"ctx-size":1024,"llama3":true,"n-gpu-layers":0,"threads":2})");
  EXPECT_EQ(five.err, Errno::Success);
  EXPECT_EQ(five.meta["output_tokens"], 5) << five.meta;
  EXPECT_EQ(five.text, want.substr(0, five.text.size()));
  EXPECT_NE(front_->proc->log().find("ctx-size ignored"), std::string::npos);

  // reverse-prompt → stop: the answer ends before it (OpenAI's stop excludes the text).
  const std::string rp = want.substr(12, 6);
  const Computed stopped = compute(remote, kPrompt, json{{"temp", 0}, {"n-predict", 40}, {"reverse-prompt", rp}}.dump());
  EXPECT_EQ(stopped.err, Errno::Success);
  EXPECT_EQ(stopped.text, want.substr(0, want.find(rp))) << "reverse prompt '" << rp << "'";
  auto ctx = remote.load_by_name("big", "")->init_execution_context();
  const Streamed ss = stream(*ctx, kPrompt, json{{"temp", 0}, {"n-predict", 40}, {"reverse-prompt", rp}}.dump());
  EXPECT_EQ(ss.end, Errno::EndOfSequence);
  EXPECT_EQ(ss.text(), want.substr(0, want.find(rp)));

  // No n-predict limit: the upstream stops at its context's end ("length" without
  // max_tokens) → 101, the text so far readable.
  auto full = remote.load_by_name("big", "")->init_execution_context();
  const Streamed f = stream(*full, kPrompt, R"({"temp":0,"n-predict":-1})");
  EXPECT_EQ(f.end, Errno::ContextFull) << f.meta;
  EXPECT_GT(f.pieces.size(), 100u);
  EXPECT_EQ(f.meta["stop_reason"], "context_full") << f.meta;

  // A prompt longer than the upstream's context → 102.
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "word ";
  const Computed too_long = compute(remote, big, greedy(4));
  EXPECT_EQ(too_long.err, Errno::PromptTooLong);

  // Wrong types and bad JSON, as the GGML backend answers them.
  auto c = remote.load_by_name("big", "")->init_execution_context();
  EXPECT_EQ(errno_of([&] { c->set_input(1, tensor(R"({"n-predict":"many"})")); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { c->set_input(1, tensor("{not json")); }), Errno::InvalidEncoding);
}

TEST_F(OpenAIUpstream, UnsupportedOptionsAreRefusedNamingThem) {
  start(*model_);
  rpc::RemoteBackend remote(client(front_->sock));
  auto g = remote.load_by_name("big", "");
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{{"grammar", "root ::= \"a\""},
                                                                             {"json-schema", "{\"type\":\"object\"}"},
                                                                             {"mmproj", "mm.gguf"},
                                                                             {"image", "cat.png"},
                                                                             {"embedding", true}}) {
    auto ctx = g->init_execution_context();
    try {
      ctx->set_input(1, tensor(json{{key, value}}.dump()));
      ADD_FAILURE() << key << " accepted";
    } catch (const nn::Error& e) {
      EXPECT_EQ(e.code(), Errno::UnsupportedOperation) << key;
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
    // In a load config too.
    EXPECT_EQ(errno_of([&] { remote.load_by_name("big", json{{key, value}}.dump()); }), Errno::UnsupportedOperation);
  }
  // Empty values are the defaults: accepted.
  auto ctx = g->init_execution_context();
  EXPECT_EQ(errno_of([&] { ctx->set_input(1, tensor(R"({"grammar":"","image":"","embedding":false})")); }),
            Errno::Success);
}

// Per-upstream API keys: `?key_file=FILE`. An upstream that refuses the front's key (401) is a
// misconfigured one: routed around like a dead one, the request succeeds on the other.
TEST_F(OpenAIUpstream, EachUpstreamGetsItsOwnKey) {
  for (const char* k : {"key-a", "key-b", "wrong"}) {
    std::ofstream(*dir_ / k) << k << "-0123456789abcdef\n";  // a token of >= 16 characters
    fs::permissions(*dir_ / k, fs::perms::owner_read | fs::perms::owner_write);
  }
  for (const char* tag : {"key-a", "key-b"}) {
    ups_.push_back(std::make_unique<Server>(
        *dir_, std::string("up-") + tag,
        std::vector<std::string>{"--nn-preload", "tiny:GGML:AUTO:" + model_->string(), "--auth-token-file",
                                 (*dir_ / tag).string()}));
    ASSERT_TRUE(ups_.back()->ready && ups_.back()->port > 0) << ups_.back()->proc->log();
  }
  // The first upstream gets the wrong key, the second its own.
  front_ = std::make_unique<Server>(
      *dir_, "front-keys",
      std::vector<std::string>{"--nn-preload",
                               "big:OPENAI:AUTO:" + ups_[0]->base() + "?key_file=" + (*dir_ / "wrong").string() + "#tiny",
                               "--nn-preload",
                               "big:OPENAI:AUTO:" + ups_[1]->base() + "?key_file=" + (*dir_ / "key-b").string() + "#tiny"});
  ASSERT_TRUE(front_->ready && front_->port > 0) << front_->proc->log();
  const std::string log0 = front_->proc->log();
  EXPECT_NE(log0.find(ups_[0]->base() + "#tiny (with a key) down: GET /models answered HTTP 401"), std::string::npos)
      << log0;
  EXPECT_NE(log0.find(ups_[1]->base() + "#tiny (with a key) up"), std::string::npos) << log0;
  EXPECT_EQ(log0.find("key-b"), std::string::npos) << "the key itself is never logged";
  rpc::RemoteBackend remote(client(front_->sock));
  for (int i = 0; i < 3; ++i) {
    const Computed c = compute(remote, kPrompt, greedy(8));
    EXPECT_EQ(c.err, Errno::Success) << "request " << i;
    EXPECT_EQ(c.meta["output_tokens"], 8);
  }
  EXPECT_EQ(count(ups_[1]->proc->log(), "generation:"), 3u) << ups_[1]->proc->log();
}

// One long greedy stream through the front against the same upstream directly: tokens/s at
// the client, and the front's CPU time per token (an SSE event parsed per token, plus the
// front's own delivery: its HTTP API, or gRPC to a WASI-NN app). The front pipelines, so its
// cost shows in its CPU time more than in the client's rate. Printed, with a loose bound.
TEST_F(OpenAIUpstream, OverheadPerToken) {
  start(*model_);
  constexpr int kTokens = 2000;
  const json req = {{"prompt", kPrompt}, {"max_tokens", kTokens}, {"temperature", 0}, {"stream", true}};
  const pid_t front = front_->proc->pid();
  struct Run {
    double wall = 0, front_cpu = 0;
  };
  auto http = [&](int port, const std::string& model) {
    json r = req;
    r["model"] = model;
    const double c0 = cpu_seconds(front);
    const auto t0 = Clock::now();
    EXPECT_FALSE(completion_text(post(port, "/v1/completions", r)).empty());
    return Run{seconds_since(t0), cpu_seconds(front) - c0};
  };
  rpc::RemoteBackend remote(client(front_->sock));
  auto wasi = [&] {
    auto ctx = remote.load_by_name("big", "")->init_execution_context();
    const double c0 = cpu_seconds(front);
    const auto t0 = Clock::now();
    const Streamed s = stream(*ctx, kPrompt, greedy(kTokens));
    EXPECT_EQ(s.meta["output_tokens"], kTokens);
    return Run{seconds_since(t0), cpu_seconds(front) - c0};
  };
  std::vector<Run> d, f, w;
  http(ups_[0]->port, "tiny");  // warm-up
  for (int i = 0; i < 5; ++i) {
    d.push_back(http(ups_[0]->port, "tiny"));
    f.push_back(http(front_->port, "big"));
    w.push_back(wasi());
  }
  auto median = [](const std::vector<Run>& v, double Run::*m) {
    std::vector<double> x;
    for (const auto& r : v) x.push_back(r.*m);
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  const double td = median(d, &Run::wall), tf = median(f, &Run::wall), tw = median(w, &Run::wall);
  std::printf("%d tokens, medians of 5: upstream directly %.3f s (%.0f t/s); through the front's HTTP API %.3f s "
              "(%.0f t/s, front CPU %.1f us/token); front WASI-NN compute_single over gRPC %.3f s (%.0f t/s, front "
              "CPU %.1f us/token)\n",
              kTokens, td, kTokens / td, tf, kTokens / tf, median(f, &Run::front_cpu) / kTokens * 1e6, tw,
              kTokens / tw, median(w, &Run::front_cpu) / kTokens * 1e6);
  EXPECT_LT(tf, td * 3 + 1);
}

}  // namespace
}  // namespace nnb::rpctest

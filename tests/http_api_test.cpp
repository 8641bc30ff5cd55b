// The OpenAI-compatible HTTP API, in process: a real cpp-httplib server on a loopback port over
// the real GGML backend and a small generated model, driven by a real HTTP client. Answers are
// compared with the same backend driven directly (WASI-NN calls, no HTTP).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends/ggml/ggml_backend.h"
#include "http/api_server.h"
#include "http/openai_request.h"
#include "http/text_stream.h"
#include "rpc_server_harness.h"

namespace nnb::http {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

nn::TensorView text(const std::string& s, const uint32_t& one) {
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&one, 1);
  t.type = 3;
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

// The SSE events of a streamed body: the JSON of each `data:` line, and whether [DONE] ended it.
struct Events {
  std::vector<json> items;
  bool done = false;
};
Events parse_sse(const std::string& body) {
  Events e;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    const std::string data = ev.substr(6);
    EXPECT_FALSE(e.done) << "event after [DONE]: " << data;
    if (data == "[DONE]") e.done = true;
    else e.items.push_back(json::parse(data));
  }
  EXPECT_EQ(pos, body.size()) << "trailing bytes: " << body.substr(pos);
  return e;
}

class HttpApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(test::scratch_dir("http_api"));
    model_ = new fs::path(rpctest::generated_model(*dir_, 7));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }

  void start(ServiceOptions so = {}, ApiServerOptions ao = {}) {
    nn::PreloadSpec p;
    p.name = "tiny";
    p.path = model_->string();
    ggml::GgmlBackendOptions bo;
    bo.default_threads = 2;
    bo.logger = [](ggml::LogLevel, std::string_view) {};
    backend_ = std::make_shared<ggml::GgmlBackend>(std::vector<nn::PreloadSpec>{p}, bo);
    if (!so.list_models) so.list_models = [] { return std::vector<std::string>{"tiny"}; };
    service_ = std::make_shared<CompletionService>(backend_, so);
    ao.host = "127.0.0.1";
    ao.port = 0;
    server_ = std::make_unique<ApiServer>(service_, ao);
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(std::chrono::seconds(120));
    return c;
  }
  httplib::Result post(const std::string& path, const json& body, const std::string& key = "") {
    auto c = client();
    httplib::Headers h;
    if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
    return c.Post(path.c_str(), h, body.dump(), "application/json");
  }

  // The backend's own answer for a prompt (greedy), without HTTP: the reference.
  std::string direct(const std::string& prompt, int n) {
    auto g = backend_->load_by_name("tiny", "");
    auto ctx = g->init_execution_context();
    const uint32_t one = 1;
    const std::string opts = json{{"temp", 0}, {"n-predict", n}, {"ctx-size", 2048}}.dump();
    ctx->set_input(1, text(opts, one));
    ctx->set_input(0, text(prompt, one));
    ctx->compute();
    const auto out = ctx->get_output(0);
    return utf8_sanitize(std::string(out.begin(), out.end()));
  }

  static fs::path* dir_;
  static fs::path* model_;
  std::shared_ptr<ggml::GgmlBackend> backend_;
  std::shared_ptr<CompletionService> service_;
  std::unique_ptr<ApiServer> server_;
};
fs::path* HttpApi::dir_ = nullptr;
fs::path* HttpApi::model_ = nullptr;

const std::string kPrompt = "Once upon a time";

TEST_F(HttpApi, ModelsHealthAndUnknownRoutes) {
  start();
  auto c = client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
  r = c.Get("/v1/models/tiny");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Get("/v1/models/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "model_not_found");
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  r = c.Get("/v2/whatever");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(json::parse(r->body)["error"]["message"].get<std::string>().find("/v2/whatever") != std::string::npos);
  r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("nnbridge chat"), std::string::npos);
}

TEST_F(HttpApi, CompletionEqualsTheBackendDrivenDirectly) {
  start();
  const std::string want = direct(kPrompt, 16);
  ASSERT_FALSE(want.empty());
  auto r = post("/v1/completions", {{"model", "tiny"}, {"prompt", kPrompt}, {"max_tokens", 16}, {"temperature", 0}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(j["choices"][0]["text"], want);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 16);
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 1);
  EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int>() + 16);
}

TEST_F(HttpApi, StreamedCompletionCarriesTheSameTextAndUsage) {
  start();
  const std::string want = direct(kPrompt, 20);
  auto r = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 20}, {"temperature", 0}, {"stream", true},
                                    {"stream_options", {{"include_usage", true}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const Events ev = parse_sse(r->body);
  ASSERT_TRUE(ev.done);
  ASSERT_GE(ev.items.size(), 3u);
  std::string got;
  for (size_t i = 0; i + 1 < ev.items.size(); ++i) {
    ASSERT_EQ(ev.items[i]["choices"].size(), 1u);
    got += ev.items[i]["choices"][0]["text"].get<std::string>();
    EXPECT_TRUE(ev.items[i]["usage"].is_null());
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(ev.items[ev.items.size() - 2]["choices"][0]["finish_reason"], "length");
  const json& last = ev.items.back();
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], 20);
}

TEST_F(HttpApi, ChatUsesTheTemplateAndStreamsLikeTheNonStreamedAnswer) {
  start();  // the generated model has no template: chatml, as the log says
  const json messages = json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hello"}}});
  const std::string chatml =
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
  const std::string want = direct(chatml, 12);
  auto r = post("/v1/chat/completions", {{"model", "tiny"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], want);

  r = post("/v1/chat/completions",
           {{"messages", messages}, {"max_completion_tokens", 12}, {"temperature", 0}, {"stream", true}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const Events ev = parse_sse(r->body);
  ASSERT_TRUE(ev.done);
  EXPECT_EQ(ev.items.front()["choices"][0]["delta"]["role"], "assistant");
  std::string got;
  for (const auto& e : ev.items) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], ev.items.front()["id"]);
    const json& d = e["choices"][0]["delta"];
    if (d.contains("content")) got += d["content"].get<std::string>();
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(ev.items.back()["choices"][0]["finish_reason"], "length");
}

// A completion whose prompt begins as the previous one's (the next turn, the same long system
// prompt) reuses the pooled context's cache: usage says how many prompt tokens came from it, and
// the answer is the one the backend gives the prompt alone.
TEST_F(HttpApi, AFollowUpPromptReusesThePooledContextsCache) {
  start();
  const std::string first = std::string(kPrompt) + " and then the llama walked to the river";
  auto r1 = post("/v1/completions", {{"prompt", first}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200) << r1->body;
  const json j1 = json::parse(r1->body);
  EXPECT_EQ(j1["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  const std::string second = first + " to drink";
  auto r2 = post("/v1/completions", {{"prompt", second}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  const json j2 = json::parse(r2->body);
  const int cached = j2["usage"]["prompt_tokens_details"]["cached_tokens"];
  EXPECT_GE(cached, j1["usage"]["prompt_tokens"].get<int>() - 1);  // the first prompt, and maybe its answer's start
  EXPECT_LT(cached, j2["usage"]["prompt_tokens"].get<int>());
  EXPECT_EQ(j2["choices"][0]["text"], direct(second, 8));
}

TEST_F(HttpApi, StopSequencesEndTheAnswerBeforeThem) {
  start();
  const std::string full = direct(kPrompt, 24);
  // A stop taken from the middle of the known answer: the answer must end right before its
  // first occurrence, streamed or not.
  ASSERT_GE(full.size(), 12u);
  const std::string stop = full.substr(full.size() / 2, 3);
  const std::string want = full.substr(0, full.find(stop));
  for (bool stream : {false, true}) {
    auto r = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 24}, {"temperature", 0},
                                      {"stop", json::array({"\x01never", stop})}, {"stream", stream}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::string got, finish;
    if (stream) {
      for (const auto& e : parse_sse(r->body).items) {
        got += e["choices"][0]["text"].get<std::string>();
        if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
      }
    } else {
      const json j = json::parse(r->body);
      got = j["choices"][0]["text"];
      finish = j["choices"][0]["finish_reason"];
      EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 1);
    }
    EXPECT_EQ(got, want) << "stream=" << stream << " stop=" << json(stop).dump();
    EXPECT_EQ(finish, "stop");
  }
}

TEST_F(HttpApi, BadRequestsGetOpenAIErrorObjects) {
  start();
  struct Case {
    std::string path, body, param;
    int status;
  };
  const std::vector<Case> cases = {
      {"/v1/completions", "{not json", "", 400},
      {"/v1/completions", "[1,2]", "", 400},
      {"/v1/completions", R"({"max_tokens":5})", "prompt", 400},
      {"/v1/completions", R"({"prompt":"x","n":2})", "n", 400},
      {"/v1/completions", R"({"prompt":"x","max_tokens":0})", "max_tokens", 400},
      {"/v1/completions", R"({"prompt":"x","temperature":3})", "temperature", 400},
      {"/v1/completions", R"({"prompt":"x","echo":true})", "echo", 400},
      {"/v1/completions", R"({"prompt":[1,2,3]})", "prompt", 400},
      {"/v1/completions", R"({"prompt":"x","frobnicate":1})", "frobnicate", 400},
      {"/v1/completions", R"({"prompt":"x","model":"nope"})", "model", 404},
      {"/v1/completions", R"({"prompt":"x","stop":["a","b","c","d","e"]})", "stop", 400},
      {"/v1/chat/completions", R"({"messages":[]})", "messages", 400},
      {"/v1/chat/completions", R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role", 400},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
       "messages[0].content", 400},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})", "tools", 400},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})",
       "response_format", 400},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})", "logprobs", 400},
  };
  auto c = client();
  for (const auto& k : cases) {
    auto r = c.Post(k.path.c_str(), k.body, "application/json");
    ASSERT_TRUE(r) << k.body;
    EXPECT_EQ(r->status, k.status) << k.body << " -> " << r->body;
    const json j = json::parse(r->body);
    ASSERT_TRUE(j["error"].is_object()) << r->body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    if (!k.param.empty()) {
      EXPECT_EQ(j["error"]["param"], k.param) << k.body;
    }
  }
  auto r = c.Post("/v1/completions", R"({"prompt":"x"})", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpApi, TheApiKeyIsRequiredOnV1Routes) {
  ApiServerOptions ao;
  ao.auth_token = "s3cret-token";
  start({}, ao);
  auto c = client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
  r = c.Get("/v1/models", {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/v1/models", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 2}}, "s3cret-token");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Get("/health");  // liveness stays open (it says nothing but "ok")
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpApi, GenerationsBeyondParallelWaitTheirTurn) {
  ServiceOptions so;
  so.parallel = 1;
  start(so);
  const std::string want = direct(kPrompt, 24);
  std::vector<std::thread> threads;
  std::vector<std::string> got(3);
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      auto r = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 24}, {"temperature", 0}, {"stream", i == 1}});
      if (!r || r->status != 200) return;
      if (i == 1)
        for (const auto& e : parse_sse(r->body).items) got[i] += e["choices"][0]["text"].get<std::string>();
      else
        got[i] = json::parse(r->body)["choices"][0]["text"];
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got[i], want) << i;
}

TEST_F(HttpApi, AClientThatLeavesMidStreamFreesItsSlot) {
  ServiceOptions so;
  so.parallel = 1;
  so.queue_timeout = std::chrono::seconds(20);
  start(so);
  // A stream that would run to the full context: the client reads two events, then hangs up.
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"prompt", kPrompt}, {"max_tokens", 1 << 20}, {"stream", true}, {"temperature", 0}}.dump();
  int events = 0;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    events += int(std::count(data, data + n, '\n')) / 2;
    return events < 2;
  };
  auto c = client();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.send(req);
  EXPECT_FALSE(r);  // cancelled by the receiver
  // The only slot comes back: a new request is answered in full.
  auto r2 = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200) << r2->body;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("second request answered %.2f s after the first client left\n", s);
}

TEST_F(HttpApi, EmbeddingsAreTheBackendsUnitVectorsAsFloatsOrBase64) {
  start();
  // The reference: the backend's own embedding (WASI-NN compute with "embedding": true).
  auto g = backend_->load_by_name("tiny", "");
  auto ctx = g->init_execution_context();
  const uint32_t one = 1;
  ctx->set_input(1, text(R"({"embedding":true,"ctx-size":2048})", one));
  ctx->set_input(0, text("a llama", one));
  ctx->compute();
  const auto raw = ctx->get_output(0);
  const std::vector<float> want = json::parse(raw.begin(), raw.end())["embedding"].get<std::vector<float>>();
  ASSERT_FALSE(want.empty());

  auto r = post("/v1/embeddings", {{"model", "tiny"}, {"input", json::array({"a llama", "two llamas"})}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1]["index"], 1);
  const auto v0 = j["data"][0]["embedding"].get<std::vector<float>>();
  EXPECT_EQ(v0, want);
  double norm = 0;
  for (float x : j["data"][1]["embedding"].get<std::vector<float>>()) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 2);

  r = post("/v1/embeddings", {{"input", "a llama"}, {"encoding_format", "base64"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string b64 = json::parse(r->body)["data"][0]["embedding"];
  EXPECT_EQ(b64.size(), (want.size() * 4 + 2) / 3 * 4);
  // Decode and compare bytes.
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    acc = acc << 6 | uint32_t(std::strchr(alphabet, c) - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += char(acc >> bits & 0xFF);
    }
  }
  ASSERT_EQ(bytes.size(), want.size() * 4);
  EXPECT_EQ(std::memcmp(bytes.data(), want.data(), bytes.size()), 0);

  // The context that computed embeddings goes back to the pool: a completion after it is a
  // completion, not an embedding.
  auto c = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_TRUE(c);
  EXPECT_EQ(json::parse(c->body)["choices"][0]["text"], direct(kPrompt, 4));

  for (const auto& bad : {json{{"input", json::array({1, 2, 3})}}, json{{"input", ""}}, json{{"input", "x"}, {"dimensions", 8}},
                          json{{"input", "x"}, {"encoding_format", "int8"}}, json{{"model", "nope"}, {"input", "x"}}}) {
    auto e = post("/v1/embeddings", bad);
    ASSERT_TRUE(e);
    EXPECT_GE(e->status, 400) << bad.dump();
    EXPECT_TRUE(json::parse(e->body)["error"].is_object());
  }
}

TEST_F(HttpApi, ResponseFormatsConstrainTheAnswer) {
  start();
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"ok", {{"type", "boolean"}}},
                         {"colour", {{"enum", json::array({"red", "green", "blue"})}}},
                         {"count", {{"type", "integer"}}}}},
                       {"required", json::array({"ok", "colour", "count"})}};
  const json msgs = json::array({{{"role", "user"}, {"content", "Answer in JSON"}}});
  for (bool stream : {false, true}) {
    auto r = post("/v1/chat/completions",
                  {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 300}, {"stream", stream},
                   {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "a"}, {"schema", schema}}}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::string content;
    if (stream) {
      for (const auto& e : parse_sse(r->body).items)
        if (e["choices"][0]["delta"].contains("content")) content += e["choices"][0]["delta"]["content"].get<std::string>();
    } else {
      content = json::parse(r->body)["choices"][0]["message"]["content"];
    }
    // A random model answers valid JSON of that shape only because sampling is constrained.
    const json j = json::parse(content, nullptr, false);
    ASSERT_TRUE(j.is_object()) << content;
    EXPECT_TRUE(j["ok"].is_boolean()) << content;
    EXPECT_TRUE(j["count"].is_number_integer()) << content;
    EXPECT_TRUE(j["colour"] == "red" || j["colour"] == "green" || j["colour"] == "blue") << content;
    EXPECT_EQ(j.size(), 3u) << content;
  }
  auto any = post("/v1/chat/completions", {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 400},
                                           {"response_format", {{"type", "json_object"}}}});
  ASSERT_TRUE(any);
  ASSERT_EQ(any->status, 200) << any->body;
  const json a = json::parse(any->body);
  if (a["choices"][0]["finish_reason"] == "stop") {  // a random model may write a long object
    EXPECT_TRUE(json::parse(a["choices"][0]["message"]["content"].get<std::string>(), nullptr, false).is_object());
  }
  auto g = post("/v1/completions", {{"prompt", "yes or no?"}, {"temperature", 0}, {"grammar", "root ::= \"yes\" | \"no\""}});
  ASSERT_TRUE(g);
  ASSERT_EQ(g->status, 200) << g->body;
  const std::string yn = json::parse(g->body)["choices"][0]["text"];
  EXPECT_TRUE(yn == "yes" || yn == "no") << yn;
  // What the engine cannot constrain is refused by name, with the schema's position.
  auto bad = post("/v1/chat/completions",
                  {{"messages", msgs}, {"response_format", {{"type", "json_schema"},
                                                            {"json_schema", {{"name", "p"}, {"schema", {{"type", "string"}, {"pattern", "^a+$"}}}}}}}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("pattern"), std::string::npos) << bad->body;
}

// ---- the parts without a server ----

TEST(HttpTextStream, HoldsBackWhatMayStillBecomeAStopSequence) {
  TextStream t({"STOP", "\n\n"});
  EXPECT_EQ(t.push("Hello S"), "Hello ");
  EXPECT_EQ(t.push("T"), "");
  EXPECT_EQ(t.push("x"), "STx");  // it was not a stop after all
  EXPECT_EQ(t.push(" end\n"), " end");
  EXPECT_EQ(t.push("\nmore"), "");
  EXPECT_TRUE(t.stopped());
  EXPECT_EQ(t.push("ignored"), "");
}

TEST(HttpTextStream, SendsWholeUtf8CharactersOnly) {
  TextStream t;
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, four bytes
  EXPECT_EQ(t.push("a" + llama.substr(0, 1)), "a");
  EXPECT_EQ(t.push(llama.substr(1, 2)), "");
  EXPECT_EQ(t.push(llama.substr(3) + "b"), llama + "b");
  EXPECT_EQ(t.push("\xC3"), "");
  EXPECT_EQ(t.finish(), "\xEF\xBF\xBD");  // an incomplete character at the end becomes U+FFFD
  EXPECT_EQ(utf8_sanitize("ok\xFF\xC0\xAF\xED\xA0\x80!"), "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!");
}

TEST(HttpRequest, MapsTheSamplingFieldsToGgmlOptions) {
  const auto r = parse_completion_request(
      R"({"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"user","content":"hi"}],
          "max_tokens":7,"temperature":0.5,"top_p":0.9,"seed":42,"presence_penalty":0.5,"frequency_penalty":-0.5,"stop":"x",
          "top_k":5,"stream":true,"stream_options":{"include_usage":true},"user":"u","n":1,"logprobs":false})",
      true);
  EXPECT_EQ(r.messages[0]["role"], "system");  // developer messages are system messages to a template
  EXPECT_EQ(r.messages[0]["content"], "ab");
  EXPECT_TRUE(r.include_usage);
  const json o = json::parse(ggml_options(r, 1024));
  EXPECT_EQ(o["n-predict"], 7);
  EXPECT_EQ(o["ctx-size"], 1024);
  EXPECT_EQ(o["temp"], 0.5);
  EXPECT_EQ(o["top-p"], 0.9);
  EXPECT_EQ(o["seed"], 42);
  EXPECT_EQ(o["top-k"], 5);
  EXPECT_EQ(o["presence-penalty"], 0.5);
  EXPECT_EQ(o["frequency-penalty"], -0.5);
  const auto d = parse_completion_request(R"({"prompt":"x"})", false);
  const json od = json::parse(ggml_options(d, 64));
  EXPECT_EQ(od["n-predict"], -1);  // until the end of generation or a full context
  EXPECT_EQ(od["temp"], 1.0);     // OpenAI's defaults
  EXPECT_EQ(od["seed"], -1);
}

}  // namespace
}  // namespace nnb::http

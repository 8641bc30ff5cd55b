// The guest's gateway end to end, all real processes: HTTP client -> `nnbridge gateway` ->
// UNIX socket -> `nnbridge serve` (with its own --http API too) -> engine. The gateway's answers
// equal the host's own HTTP API's; a client that hangs up mid-stream frees the host's context.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

using nlohmann::json;

std::string stream_text(const std::string& sse) {
  std::string out;
  size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") break;
    const json j = json::parse(data);
    if (j.contains("error")) ADD_FAILURE() << data;
    if (!j["choices"].empty() && j["choices"][0]["delta"].contains("content"))
      out += j["choices"][0]["delta"]["content"].get<std::string>();
  }
  return out;
}

class Gateway : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("http_gateway");
    const fs::path model = generated_model(dir_, 5);
    sock_ = dir_ / "nn.sock";
    std::ofstream(dir_ / "key") << "gateway-key\n";
    serve_ = std::make_unique<ServeProcess>(
        std::vector<std::string>{"--nn-rpc-uri", "unix://" + sock_.string(), "--nn-preload",
                                 "tiny:GGML:AUTO:" + model.string(), "--http", "127.0.0.1:0", "--threads", "2"},
        dir_ / "serve.log");
    ASSERT_TRUE(serve_->wait_ready()) << serve_->log();
    host_port_ = http_port_from_log([&] { return serve_->log(); });
    ASSERT_GT(host_port_, 0) << serve_->log();
    gateway_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{NNB_CLI_PATH, "gateway", "--nn-rpc-uri", "unix://" + sock_.string(), "--listen",
                                 "127.0.0.1:0", "--api-key-file", (dir_ / "key").string()},
        dir_ / "gateway.log");
    gw_port_ = http_port_from_log([&] { return slurp(dir_ / "gateway.log"); });
    ASSERT_GT(gw_port_, 0) << slurp(dir_ / "gateway.log");
  }

  httplib::Result post(int port, const json& body, bool key = true) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(120));
    httplib::Headers h;
    if (key) h.emplace("Authorization", "Bearer gateway-key");
    return c.Post("/v1/chat/completions", h, body.dump(), "application/json");
  }

  fs::path dir_, sock_;
  std::unique_ptr<ServeProcess> serve_;
  std::unique_ptr<test::ChildProcess> gateway_;
  int host_port_ = 0, gw_port_ = 0;
};

TEST_F(Gateway, AnswersAsTheHostsOwnApiDoes) {
  const json req = {{"messages", json::array({{{"role", "user"}, {"content", "Tell me a story"}}})},
                    {"max_tokens", 24},
                    {"temperature", 0}};
  auto host = post(host_port_, req, false);
  ASSERT_TRUE(host);
  ASSERT_EQ(host->status, 200) << host->body;
  const std::string want = json::parse(host->body)["choices"][0]["message"]["content"];
  ASSERT_FALSE(want.empty());

  auto gw = post(gw_port_, req);
  ASSERT_TRUE(gw);
  ASSERT_EQ(gw->status, 200) << gw->body;
  const json j = json::parse(gw->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], want);
  EXPECT_EQ(j["model"], "tiny");  // the host's preload, listed through the socket
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);

  json s = req;
  s["stream"] = true;
  auto gws = post(gw_port_, s);
  ASSERT_TRUE(gws);
  ASSERT_EQ(gws->status, 200);
  EXPECT_EQ(stream_text(gws->body), want);
  // One Generate stream per completion reached the host (its log has a line per generation).
  EXPECT_NE(serve_->log().find("generate"), std::string::npos);

  httplib::Client c("127.0.0.1", gw_port_);
  auto models = c.Get("/v1/models", {{"Authorization", "Bearer gateway-key"}});
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "tiny");
  auto denied = post(gw_port_, req, /*key=*/false);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
}

// The next turn of a conversation resends the history: the host's context keeps the KV cache
// of what the previous turn left, so only the new part is evaluated (usage says how much).
TEST_F(Gateway, TheNextTurnReusesTheCachedConversation) {
  json msgs = json::array({{{"role", "user"}, {"content", "Tell me a story about a llama"}}});
  auto r1 = post(gw_port_, {{"messages", msgs}, {"max_tokens", 16}, {"temperature", 0}});
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200) << r1->body;
  const json j1 = json::parse(r1->body);
  EXPECT_EQ(j1["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  msgs.push_back({{"role", "assistant"}, {"content", j1["choices"][0]["message"]["content"]}});
  msgs.push_back({{"role", "user"}, {"content", "Shorter, please"}});
  auto r2 = post(gw_port_, {{"messages", msgs}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  const json j2 = json::parse(r2->body);
  const int cached = j2["usage"]["prompt_tokens_details"]["cached_tokens"];
  std::printf("turn 2: %d of %d prompt tokens from the cache\n", cached, j2["usage"]["prompt_tokens"].get<int>());
  // At least the whole first prompt is reused.
  EXPECT_GE(cached, j1["usage"]["prompt_tokens"].get<int>());
  EXPECT_LT(cached, j2["usage"]["prompt_tokens"].get<int>());
}

// The host server restarts under a running gateway: its graph and context handles are gone, so
// the gateway loads the model again and the next request is answered as before.
TEST_F(Gateway, SurvivesARestartOfTheHostServer) {
  const json req = {{"messages", json::array({{{"role", "user"}, {"content", "Hello"}}})},
                    {"max_tokens", 8},
                    {"temperature", 0}};
  auto before = post(gw_port_, req);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200) << before->body;
  const fs::path model = generated_model(dir_, 5);
  serve_.reset();  // killed
  serve_ = std::make_unique<ServeProcess>(
      std::vector<std::string>{"--nn-rpc-uri", "unix://" + sock_.string(), "--nn-preload", "tiny:GGML:AUTO:" + model.string(),
                               "--threads", "2"},
      dir_ / "serve2.log");
  ASSERT_TRUE(serve_->wait_ready()) << serve_->log();
  auto after = post(gw_port_, req);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->status, 200) << after->body << "\ngateway log:\n" << slurp(dir_ / "gateway.log");
  EXPECT_EQ(json::parse(after->body)["choices"][0]["message"]["content"],
            json::parse(before->body)["choices"][0]["message"]["content"]);
}

TEST_F(Gateway, AClientThatHangsUpFreesTheHostContextWithinASecond) {
  httplib::Client c("127.0.0.1", gw_port_);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.set_header("Content-Type", "application/json");
  req.set_header("Authorization", "Bearer gateway-key");
  req.body = json{{"messages", json::array({{{"role", "user"}, {"content", "Go on forever"}}})},
                  {"stream", true},
                  {"temperature", 0}}
                 .dump();
  size_t bytes = 0;
  req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
    bytes += n;
    return bytes < 600;  // a few events, then hang up
  };
  EXPECT_FALSE(c.send(req));
  const auto t_left = Clock::now();
  // The host says so when a Generate stream ends early and its context is freed.
  while (serve_->log().find("generate stopped after") == std::string::npos && seconds_since(t_left) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double s = seconds_since(t_left);
  std::printf("host context freed %.3f s after the HTTP client left\n", s);
  EXPECT_LT(s, 1.0) << serve_->log();
}

}  // namespace
}  // namespace nnb::rpctest

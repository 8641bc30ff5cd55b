#include "http/api_server.h"

#include <httplib.h>

#include <bit>
#include <chrono>
#include <ctime>

#include "http/text_stream.h"
#include "http/web_page.h"
#include "nn/secure_random.h"

namespace nnb::http {

using nlohmann::json;

namespace {

std::string random_id(const char* prefix) {
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char b[24];
  nn::secure_random(b, sizeof b);
  std::string id = prefix;
  for (unsigned char c : b) id += alnum[c % 62];
  return id;
}

int64_t now_unix() { return int64_t(std::time(nullptr)); }

// JSON text for the wire: invalid UTF-8 (a model can emit any bytes) becomes U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  // 499 (client gone) is never seen by that client; answer it as a 400 for the log's sake.
  send_json(res, e.status == 499 ? 400 : e.status, e.body());
  if (e.status == 503) res.set_header("Retry-After", "1");
}

// Constant-time comparison: the token must not leak through response timing.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

// RFC 4648 base64 of raw bytes (embeddings with encoding_format "base64").
std::string base64(const uint8_t* p, size_t n) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out += t[v >> 18 & 63];
    out += t[v >> 12 & 63];
    out += i + 1 < n ? t[v >> 6 & 63] : '=';
    out += i + 2 < n ? t[v & 63] : '=';
  }
  return out;
}

json usage_json(const CompletionResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

}  // namespace

ApiServer::ApiServer(std::shared_ptr<CompletionService> service, ApiServerOptions opts)
    : service_(std::move(service)), opts_(std::move(opts)), srv_(std::make_unique<httplib::Server>()) {
  routes();
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::routes() {
  auto& s = *srv_;
  s.set_payload_max_length(opts_.max_body_bytes);
  s.set_read_timeout(std::chrono::seconds(30));
  s.set_write_timeout(std::chrono::seconds(30));
  // Each SSE event is a small write that must leave at once: without TCP_NODELAY, Nagle's
  // algorithm holds it until the previous one is acknowledged (up to a delayed-ACK timeout on
  // real networks), and tokens would arrive in bursts.
  s.set_tcp_nodelay(true);
  const int threads = std::max(opts_.threads, 2);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };

  // Authentication and the request log, around every route.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opts_.auth_token.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    const std::string h = req.get_header_value("Authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (h.size() > bearer.size() && h.compare(0, bearer.size(), bearer) == 0 &&
        same_secret(std::string_view(h).substr(bearer.size()), opts_.auth_token))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, "invalid_request_error",
                             h.empty() ? "missing API key: send `Authorization: Bearer <token>`" : "incorrect API key",
                             "", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (opts_.log) opts_.log(req.method + " " + req.path + " " + std::to_string(res.status));
  });
  // Unknown routes and methods (httplib answers them 404 / 405 with an empty body).
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 404 ? "unknown route " + req.method + " " + req.path
                             : res.status == 413 ? "request body too large"
                                                 : "request failed with status " + std::to_string(res.status);
    send_json(res, res.status, ApiError(res.status, "invalid_request_error", what).body());
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, "server_error", e.what()));
    }
  });

  s.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(web_page(), "text/html; charset=utf-8"); });

  auto model_json = [this](const std::string& id) {
    return json{{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", opts_.server_name}};
  };
  s.Get("/v1/models", [this, model_json](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const auto& m : service_->models()) data.push_back(model_json(m));
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  });
  s.Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    const auto names = service_->models();
    if (std::find(names.begin(), names.end(), id) == names.end())
      throw ApiError(404, "invalid_request_error", "the model '" + id + "' does not exist", "model", "model_not_found");
    send_json(res, 200, model_json(id));
  });

  auto completion = [this](bool chat) {
    return [this, chat](const httplib::Request& req, httplib::Response& res) {
      const std::string ctype = req.get_header_value("Content-Type");
      if (ctype.rfind("application/json", 0) != 0)
        throw bad_request("Content-Type must be application/json (got '" + ctype + "')");
      auto r = std::make_shared<CompletionRequest>(parse_completion_request(req.body, chat));
      r->model = service_->resolve_model(r->model);
      // Render now, so a template that refuses the conversation answers 400 before any stream.
      if (chat) (void)service_->chat_prompt(r->model, r->messages);
      const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
      const int64_t created = now_unix();
      auto base = [chat, id, created, r](bool chunk) {
        return json{{"id", id},
                    {"object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
                    {"created", created},
                    {"model", r->model},
                    {"system_fingerprint", "nnbridge"}};
      };

      if (!r->stream) {
        std::string text;
        const CompletionResult out = service_->run(
            *r, [&](const std::string& t) { text += t; return true; }, [this] { return stopping_.load(); });
        json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", out.finish_reason}};
        if (chat)
          choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
        else
          choice["text"] = text;
        json body = base(false);
        body["choices"] = json::array({choice});
        body["usage"] = usage_json(out);
        send_json(res, 200, body);
        return;
      }

      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Accel-Buffering", "no");  // proxies must not hold events back
      res.set_chunked_content_provider(
          "text/event-stream", [this, r, chat, base](size_t, httplib::DataSink& sink) {
            auto event = [&](const json& j) {
              const std::string line = "data: " + dump(j) + "\n\n";
              return sink.write(line.data(), line.size());
            };
            auto chunk = [&](json delta, const json& finish) {
              json c = base(true);
              json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
              if (chat)
                choice["delta"] = std::move(delta);
              else
                choice["text"] = delta.value("content", "");
              c["choices"] = json::array({choice});
              if (r->include_usage) c["usage"] = nullptr;
              return event(c);
            };
            bool open = !chat || chunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr);
            // The text events differ only in their text: the JSON around it is made once, so a
            // token costs one string escape and one socket write.
            json tmpl = base(true);
            tmpl["choices"] = json::array({{{"index", 0},
                                            {chat ? "delta" : "text", chat ? json{{"content", "\x01"}} : json("\x01")},
                                            {"logprobs", nullptr},
                                            {"finish_reason", nullptr}}});
            if (r->include_usage) tmpl["usage"] = nullptr;
            const std::string whole = "data: " + dump(tmpl) + "\n\n";
            const size_t at = whole.find("\"\\u0001\"");
            const std::string head = whole.substr(0, at), tail = whole.substr(at + 8);
            std::string ev;
            auto text_event = [&](const std::string& t) {
              ev.assign(head);
              ev += dump(t);
              ev += tail;
              return sink.write(ev.data(), ev.size());
            };
            // Whether the client is still there costs two system calls: asked at most every
            // 50 ms (a failed write says it at once anyway).
            auto next_check = std::chrono::steady_clock::now();
            auto gone = [&] {
              if (stopping_.load() || !open) return true;
              const auto now = std::chrono::steady_clock::now();
              if (now < next_check) return false;
              next_check = now + std::chrono::milliseconds(50);
              return !sink.is_writable();
            };
            try {
              const CompletionResult out = service_->run(
                  *r, [&](const std::string& t) { return open = open && text_event(t); }, gone);
              chunk(json::object(), out.finish_reason);
              if (r->include_usage) {
                json u = base(true);
                u["choices"] = json::array();
                u["usage"] = usage_json(out);
                event(u);
              }
            } catch (const ApiError& e) {
              if (e.status != 499) event(e.body());  // mid-stream errors arrive as an event
            } catch (const std::exception& e) {
              event(ApiError(500, "server_error", e.what()).body());
            }
            static const std::string done = "data: [DONE]\n\n";
            sink.write(done.data(), done.size());
            sink.done();
            return true;
          });
    };
  };
  s.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string ctype = req.get_header_value("Content-Type");
    if (ctype.rfind("application/json", 0) != 0)
      throw bad_request("Content-Type must be application/json (got '" + ctype + "')");
    const EmbeddingRequest r = parse_embedding_request(req.body);
    const EmbeddingResult out = service_->embed(r);
    json data = json::array();
    for (size_t i = 0; i < out.vectors.size(); ++i) {
      const auto& v = out.vectors[i];
      json e = {{"object", "embedding"}, {"index", i}};
      if (r.base64) {
        static_assert(std::endian::native == std::endian::little, "base64 embeddings are little-endian floats");
        e["embedding"] = base64(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float));
      } else {
        e["embedding"] = v;
      }
      data.push_back(std::move(e));
    }
    send_json(res, 200,
              {{"object", "list"},
               {"data", data},
               {"model", out.model},
               {"usage", {{"prompt_tokens", out.prompt_tokens}, {"total_tokens", out.prompt_tokens}}}});
  });
  s.Post("/v1/chat/completions", completion(true));
  s.Post("/v1/completions", completion(false));
}

void ApiServer::start() {
  if (opts_.port == 0) {
    port_ = srv_->bind_to_any_port(opts_.host);
    if (port_ <= 0) throw std::runtime_error("cannot bind the HTTP API to " + opts_.host + ": no free port");
  } else {
    if (!srv_->bind_to_port(opts_.host, opts_.port))
      throw std::runtime_error("cannot bind the HTTP API to " + opts_.host + ":" + std::to_string(opts_.port) +
                               " (in use, or not an address of this machine)");
    port_ = opts_.port;
  }
  thread_ = std::thread([this] { srv_->listen_after_bind(); });
}

void ApiServer::stop() {
  stopping_ = true;
  if (srv_) srv_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace nnb::http

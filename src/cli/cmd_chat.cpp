// nnbridge chat: a conversation with a model served by `nnbridge serve` (or WasmEdge's
// wasi_nn_rpcserver). Each turn sends the whole conversation rendered with the model's own chat
// template (its GGUF's tokenizer.chat_template, from the server; --chat-template overrides),
// on one execution context of the server whose KV cache keeps the conversation, so a turn
// costs only its new tokens. Answers stream piece by piece.
//
// At a terminal: GNU readline line editing and history (~/.nnbridge_history), /reset starts a
// new conversation, /exit or Ctrl-D quits, Ctrl-C stops the answer being written (not the
// program). Without a terminal, prompts are read line by line from stdin. -p answers one
// prompt and exits. --raw sends each line as it is (no template, no history), for base models.
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "backends/ggml/ggml_options.h"
#include "chat/chat_template.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/http_front.h"
#include "rpc/client.h"
#include "rpc/common.h"

namespace nnb::cli {
namespace {

struct ChatOptions {
  std::string uri, model = "default", prompt, system, chat_template, auth_token_file, tls_ca, tls_cert, tls_key, config;
  int64_t n_predict = 512, ctx_size = 4096;
  double temp = ggml::GgmlOptions{}.temp;  // the server's (WasmEdge's) default, sent when not in --config
  double connect_timeout_s = 5;
  bool verbose = false, raw = false, show_prompt = false;
  CLI::Option *prompt_opt = nullptr, *temp_opt = nullptr, *n_opt = nullptr, *ctx_opt = nullptr;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

// Ctrl-C while an answer streams (or is about to) cancels that answer (the server stops
// generating); it never ends the program, which /exit and Ctrl-D do. The handler stays for the
// whole session: installed only around an answer, a Ctrl-C just after Enter would have found
// the default action and killed the program. At the prompt readline passes the signal on and
// keeps the line; the flag is cleared when the next line has been read.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~InterruptScope() { sigaction(SIGINT, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

// GGML metadata for each request: --config's JSON object, overridden by the flags given.
std::string options_json(const ChatOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  if (!o.config.empty()) {
    j = nlohmann::json::parse(o.config, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) throw std::runtime_error("--config must be a JSON object, got: " + o.config);
  }
  if (o.temp_opt->count() || !j.contains("temp")) j["temp"] = o.temp;
  if (o.n_opt->count() || !j.contains("n-predict")) j["n-predict"] = o.n_predict;
  if (o.ctx_opt->count() || !j.contains("ctx-size")) j["ctx-size"] = o.ctx_size;
  // The conversation stays in the server context's KV cache from one turn to the next.
  if (!o.raw && !j.contains("cache-prompt")) j["cache-prompt"] = true;
  return j.dump();
}

// Reads one line: readline at a terminal (editing, history), getline otherwise. nullopt at EOF.
class LineReader {
 public:
  LineReader() : tty_(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
    if (!tty_) return;
    if (const char* home = std::getenv("HOME")) history_ = std::string(home) + "/.nnbridge_history";
    using_history();
    if (!history_.empty()) read_history(history_.c_str());
  }
  ~LineReader() {
    if (tty_ && !history_.empty()) {
      write_history(history_.c_str());
      history_truncate_file(history_.c_str(), 1000);
    }
  }
  bool tty() const { return tty_; }
  std::optional<std::string> read(const char* prompt) {
    if (!tty_) {
      std::string line;
      if (!std::getline(std::cin, line)) return std::nullopt;
      return line;
    }
    char* l = readline(prompt);
    if (!l) return std::nullopt;
    std::string line(l);
    std::free(l);
    if (!line.empty() && line != "/exit") add_history(line.c_str());
    return line;
  }

 private:
  bool tty_;
  std::string history_;
};

class Chat {
 public:
  Chat(const ChatOptions& o, rpc::RemoteBackend& backend) : o_(o), backend_(backend), opts_(options_json(o)) {
    try {
      graph_ = backend.load_by_name(o.model, "");
    } catch (const rpc::TransportError&) {
      throw;  // already says "cannot reach server at URI: ..."
    } catch (const nn::Error& e) {
      throw std::runtime_error("cannot load model '" + o.model + "' from " + backend.endpoint().to_string() + ": " +
                               std::string(nn::errno_name(e.code())) + " (" + std::to_string(uint32_t(e.code())) +
                               "): " + e.what());
    }
    info_ = graph_->info();
    if (!o.raw) {
      std::string source = o.chat_template.empty() ? info_.chat_template : chat_template_source(o.chat_template);
      template_name_ = o.chat_template.empty() ? "the model's template" : "template " + o.chat_template;
      if (source.empty()) {
        source = *chat::builtin_template("chatml");
        template_name_ = "chatml (the model carries no template; --chat-template picks another)";
      }
      tmpl_.emplace(source);  // TemplateError: a template this renderer cannot run stops here
    }
    ctx_ = graph_->init_execution_context();
    reset();
  }

  std::string banner() const {
    return "nnbridge chat: model '" + o_.model + "' on " + (info_.device.empty() ? "the server" : info_.device) +
           " at " + backend_.endpoint().to_string() + ", " + (o_.raw ? "raw prompts" : template_name_) +
           ". /reset, /exit; Ctrl-C stops an answer.";
  }

  void reset() {
    messages_ = nlohmann::json::array();
    if (!o_.system.empty()) messages_.push_back({{"role", "system"}, {"content", o_.system}});
  }

  // One turn: the answer is streamed to stdout; it joins the history unless it was cut short.
  void turn(const std::string& user) {
    std::string prompt = user;
    if (!o_.raw) {
      messages_.push_back({{"role", "user"}, {"content", user}});
      try {
        prompt = chat::chat_prompt(*tmpl_, messages_, info_.bos_token, info_.eos_token);
      } catch (const chat::TemplateError& e) {
        messages_.erase(messages_.end() - 1);
        throw std::runtime_error(std::string("the chat template refused the conversation: ") + e.what());
      }
    }
    if (o_.show_prompt) std::fprintf(stderr, "---- prompt\n%s\n---- end of prompt\n", prompt.c_str());
    std::string answer;
    rpc::GenerateResult r;
    {
      auto generate = [&] {
        return backend_.generate(
            *ctx_, prompt, opts_,
            [&](std::string_view piece) {
              answer.append(piece);
              std::fwrite(piece.data(), 1, piece.size(), stdout);
              std::fflush(stdout);
              return !g_interrupted.load();
            },
            [] { return g_interrupted.load(); });
      };
      try {
        r = generate();
      } catch (const nn::Error& e) {
        // The server restarted since this context was made (its handles are gone): make them
        // again and ask once more; the conversation is resent whole anyway.
        if (!answer.empty() || e.code() != nn::Errno::InvalidArgument || dynamic_cast<const rpc::TransportError*>(&e))
          throw;
        graph_ = backend_.load_by_name(o_.model, "");
        ctx_ = graph_->init_execution_context();
        r = generate();
      }
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!o_.raw) {
      if (r.stop == nn::StopReason::Cancelled) {
        messages_.erase(messages_.end() - 1);  // a stopped answer is not part of the conversation
        std::fprintf(stderr, "[stopped]\n");
      } else {
        messages_.push_back({{"role", "assistant"}, {"content", answer}});
      }
    }
    if (o_.verbose) {
      const double tg = r.generation_seconds > 0 ? r.output_tokens / r.generation_seconds : 0.0;
      const auto meta = nlohmann::json::parse(r.metadata_json, nullptr, false);
      const int reused = meta.is_object() ? meta.value("reused_tokens", 0) : 0;
      std::fprintf(stderr, "nnbridge: %u prompt tokens (%d from the cache), %u generated at %.1f t/s, first token %.3f s (%s, %s)\n",
                   r.input_tokens, reused, r.output_tokens, tg, r.prompt_seconds, r.stop_reason.c_str(),
                   r.native ? "nnbridge stream" : "WASI-NN compute_single");
    }
  }

 private:
  const ChatOptions& o_;
  rpc::RemoteBackend& backend_;
  const std::string opts_;
  std::shared_ptr<nn::Graph> graph_;
  nn::ModelInfo info_;
  std::optional<chat::ChatTemplate> tmpl_;
  std::string template_name_;
  std::unique_ptr<nn::ExecutionContext> ctx_;
  nlohmann::json messages_;
};

void run_chat(const ChatOptions& o) {
  rpc::ClientOptions co;
  co.uri = o.uri;
  if (!o.auth_token_file.empty()) co.auth_token = rpc::read_token_file(o.auth_token_file);
  co.tls_ca = o.tls_ca;
  co.tls_cert = o.tls_cert;
  co.tls_key = o.tls_key;
  co.connect_timeout = connect_timeout_of(o.connect_timeout_s);
  rpc::RemoteBackend backend(co);
  Chat chat(o, backend);
  InterruptScope interrupts;

  if (o.prompt_opt->count()) {
    chat.turn(o.prompt);
    return;
  }
  LineReader reader;
  if (reader.tty()) std::fprintf(stderr, "%s\n", chat.banner().c_str());
  for (;;) {
    const auto line = reader.read("> ");
    g_interrupted = false;  // a Ctrl-C at the prompt is not meant for the coming answer
    if (!line || *line == "/exit") break;
    if (line->empty()) continue;
    if (*line == "/reset") {
      chat.reset();
      std::fprintf(stderr, "[new conversation]\n");
      continue;
    }
    try {
      chat.turn(*line);
    } catch (const rpc::TransportError&) {
      throw;  // the server is gone: exit 1 rather than fail every following line
    } catch (const nn::Error& e) {
      std::fprintf(stderr, "nnbridge: error: %s (errno %u)\n", e.what(), uint32_t(e.code()));
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "nnbridge: error: %s\n", e.what());
    }
  }
}

}  // namespace

void add_chat(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  auto* c = app.add_subcommand("chat", "Chat with a model served by `nnbridge serve`, streaming the answers");
  c->add_option("--nn-rpc-uri", o->uri, "Server: unix:///abs/path.sock or HOST:PORT")->required();
  c->add_option("-m,--model", o->model, "Model name on the server (its --nn-preload NAME)")->capture_default_str();
  o->prompt_opt = c->add_option("-p,--prompt", o->prompt, "Answer this prompt and exit (default: a conversation)");
  c->add_option("-s,--system", o->system, "System prompt at the start of the conversation");
  c->add_option("--chat-template", o->chat_template,
                "Template instead of the model's own: a built-in name (chatml, llama3, ...) or a Jinja file");
  c->add_flag("--raw", o->raw, "Send each line as it is: no template, no history (base models)");
  o->temp_opt = c->add_option("--temp", o->temp, "Temperature (0: greedy)")->capture_default_str();
  o->n_opt = c->add_option("-n,--n-predict", o->n_predict, "Tokens per answer at most (-1: no limit)")->capture_default_str();
  o->ctx_opt = c->add_option("-c,--ctx-size", o->ctx_size, "Context size in tokens: the whole conversation must fit")
                   ->capture_default_str();
  c->add_option("--config", o->config, "More GGML options as a JSON object, e.g. '{\"top-p\":0.9}'");
  c->add_option("--auth-token-file", o->auth_token_file, "File holding the server's bearer token");
  c->add_option("--tls-ca", o->tls_ca, "CA certificate (PEM) of the server's TLS certificate");
  c->add_option("--tls-cert", o->tls_cert, "Client certificate (PEM) for mutual TLS");
  c->add_option("--tls-key", o->tls_key, "Client key (PEM) for mutual TLS");
  add_connect_timeout_option(c, o->connect_timeout_s);
  c->add_flag("-v,--verbose", o->verbose, "Print token counts, cache reuse and speed of each answer on stderr");
  c->add_flag("--show-prompt", o->show_prompt, "Print each rendered prompt on stderr (to debug templates)");
  c->callback([o] { run_chat(*o); });
}

}  // namespace nnb::cli

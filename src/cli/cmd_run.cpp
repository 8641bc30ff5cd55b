// nnbridge run: runs a WASI command module the way `wasmedge` does, with WASI-NN either on this
// machine's CPU (--nn-preload → the GGML backend) or on a host server (--nn-rpc-uri → the
// remote backend). Same flags as wasmedge: options end at the first positional (the .wasm), so
// app arguments such as `-n` pass through; argv[0] is the file name; the exit code is the app's.
//
// Exit codes: the app's own (return from _start: 0, proc_exit(n): n); a trap: 134 (128+SIGABRT,
// what WasmEdge 0.14 returns for an aborted execution) after "nnbridge: trap: <message>"; a file
// that cannot be read, decoded, validated, linked or instantiated: 1.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/ggml/ggml_backend.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "nn/preload.h"
#include "rpc/client.h"
#include "wasm/runtime.h"
#include "wasm/wasi.h"
#include "wasm/wasi_nn.h"

namespace nnb::cli {
namespace {

constexpr int kTrapExitCode = 128 + SIGABRT;

struct RunOptions {
  std::vector<std::string> dirs, envs, preloads;
  std::string rpc_uri;
  std::string nn_options;  // GGML defaults under the app's own options (--nn-options)
  uint32_t max_call_depth = 0;
  double connect_timeout_s = 5;  // --connect-timeout, with --nn-rpc-uri
  CLI::App* cmd = nullptr;
};

std::vector<uint8_t> read_wasm(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": is a directory, not a .wasm file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return bytes;
}

std::shared_ptr<nn::Backend> make_backend(const RunOptions& o) {
  if (!o.rpc_uri.empty()) {
    if (!o.preloads.empty())
      std::fprintf(stderr, "nnbridge: --nn-preload is ignored with --nn-rpc-uri (the server's models are used)\n");
    if (!o.nn_options.empty())
      std::fprintf(stderr, "nnbridge: --nn-options is ignored with --nn-rpc-uri (give it to the server)\n");
    rpc::ClientOptions co;
    co.uri = o.rpc_uri;
    co.connect_timeout = connect_timeout_of(o.connect_timeout_s);
    return std::make_shared<rpc::RemoteBackend>(co);
  }
  std::vector<nn::PreloadSpec> specs;
  for (const auto& p : o.preloads) specs.push_back(nn::parse_preload(p));
  // A missing model file does not stop start-up (COMPAT §2): load_by_name answers 103.
  ggml::GgmlBackendOptions bo;
  bo.default_options_json = o.nn_options;
  return std::make_shared<ggml::GgmlBackend>(std::move(specs), std::move(bo));
}

int run_app(const RunOptions& o, const std::vector<std::string>& rest) {
  const std::string& path = rest.front();
  const std::vector<uint8_t> wasm = read_wasm(path);

  wasm::WasiOptions w;
  // WasmEdge's argv[0]: the file name with its extension replaced by ".wasm".
  w.args.push_back(std::filesystem::path(path).filename().replace_extension(".wasm").string());
  w.args.insert(w.args.end(), rest.begin() + 1, rest.end());
  w.env = o.envs;
  for (const auto& d : o.dirs) w.preopens.push_back(wasm::parse_dir_spec(d));
  wasm::WasiHost wasi(std::move(w));
  wasm::WasiNnHost nn(make_backend(o));

  std::vector<wasm::HostFunction> host = wasm::wasi_functions(wasi);
  for (auto& f : wasm::wasi_nn_functions(nn)) host.push_back(std::move(f));

  wasm::RuntimeOptions ro;
  ro.max_call_depth = o.max_call_depth;
  auto instance = wasm::instantiate(wasm, host, ro, path);
  try {
    return instance->run_start();
  } catch (const wasm::Trap& t) {
    std::fflush(stdout);  // the app's buffered output first, then the reason it stopped
    std::fprintf(stderr, "nnbridge: trap: %s\n", t.what());
    return kTrapExitCode;
  }
}

void run_command(const RunOptions& o) {
  const std::vector<std::string> rest = o.cmd->remaining();
  if (rest.empty()) throw CLI::RequiredError("APP.wasm");
  // prefix_command() hands over an unknown option met before APP.wasm too: refuse it.
  if (rest.front().size() > 1 && rest.front()[0] == '-') throw CLI::ExtrasError("run", {rest.front()});
  // A guest writing to a closed pipe gets EPIPE from fd_write, as under wasmedge, rather than
  // killing the runtime.
  ::signal(SIGPIPE, SIG_IGN);
  int code;
  try {
    code = run_app(o, rest);
  } catch (const wasm::WasmError& e) {
    std::fprintf(stderr, "nnbridge: error: %s\n", e.what());
    code = 1;
  }
  std::fflush(stdout);
  // CLI11 returns a RuntimeError's code from app.exit() without printing anything.
  if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* c = app.add_subcommand("run",
                               "Run a WASI app (.wasm) as wasmedge does, WASI-NN on this CPU (--nn-preload) or on a "
                               "host server (--nn-rpc-uri)");
  o->cmd = c;
  c->footer("Usage: nnbridge run [OPTIONS] APP.wasm [ARGS...]\nOptions end at APP.wasm; everything after it is passed to the app unchanged.");
  c->add_option("--dir", o->dirs,
                "Preopen a directory: GUEST:HOST, GUEST:HOST:readonly, or DIR (WasmEdge's syntax; repeatable)")
      ->allow_extra_args(false);
  c->add_option("--env", o->envs, "Environment variable KEY=VALUE for the app (repeatable)")->allow_extra_args(false);
  c->add_option("--nn-preload", o->preloads, "NAME:ENCODING:TARGET:PATH, e.g. default:GGML:AUTO:model.gguf (repeatable)")
      ->allow_extra_args(false);
  c->add_option("--nn-rpc-uri", o->rpc_uri, "Run WASI-NN on a host server: unix:///abs/path.sock or HOST:PORT");
  add_connect_timeout_option(c, o->connect_timeout_s);
  c->add_option("--nn-options", o->nn_options,
                "GGML options every graph starts from, beneath the app's own (JSON, e.g. '{\"temp\":0}')")
      ->allow_extra_args(false);
  c->add_option("--max-call-depth", o->max_call_depth,
                "Deepest wasm call nesting before a clean trap (0: default, 1000000; at most 16000000)")
      ->capture_default_str();
  // No positionals are declared: the first one (APP.wasm) and everything after it land in
  // remaining() untouched.
  c->prefix_command();
  c->callback([o] { run_command(*o); });
}

}  // namespace nnb::cli

// nnbridge run: runs a WASI command module the way `wasmedge` does, with WASI-NN either on this
// machine's CPU (--nn-preload → the GGML backend) or on a host server (--nn-rpc-uri → the
// remote backend). Same flags as wasmedge: options end at the first positional (the .wasm), so
// app arguments such as `-n` pass through; argv[0] is the file name; the exit code is the app's.
//
// Exit codes: the app's own (return from _start: 0, proc_exit(n): n); a trap: 134 (128+SIGABRT,
// what WasmEdge 0.14 returns for an aborted execution) after "nnbridge: trap: <message>"; the
// time or gas limit: 134 as well (WasmEdge cancels the execution, which it reports as aborted)
// after "nnbridge: time limit of N ms exceeded" / "nnbridge: gas limit of N ... exceeded"; a
// file that cannot be read, decoded, validated, linked or instantiated (a memory over
// --memory-page-limit included), and a usage error: 1.
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "wasm/run_deadline.h"
#include "wasm/runtime.h"
#include "wasm/wasi.h"
#include "wasm/wasi_nn.h"

namespace nnb::cli {
namespace {

constexpr int kTrapExitCode = 128 + SIGABRT;
// How long a host call may block past --time-limit before the process is ended anyway.
constexpr std::chrono::milliseconds kTimeLimitGrace{1000};

// Numbers are taken as text and converted here, so that a bad one is a usage error (exit 1)
// naming the option, like every other usage error of `run`.
struct RunOptions {
  std::vector<std::string> dirs, envs, preloads;
  std::string rpc_uri;
  std::string nn_options;  // GGML defaults under the app's own options (--nn-options)
  std::string device = "auto";  // --device, local WASI-NN only
  CLI::Option* device_opt = nullptr;
  std::string n_gpu_layers;  // --n-gpu-layers, local WASI-NN only
  CLI::Option* ngl_opt = nullptr;
  std::string kv_type = "f32";  // --kv-type, local WASI-NN only
  CLI::Option* kv_type_opt = nullptr;
  std::string max_call_depth, memory_page_limit, time_limit, gas_limit;
  double connect_timeout_s = 5;  // --connect-timeout, with --nn-rpc-uri
  CLI::App* cmd = nullptr;
};

// A usage error of `run`: printed by CLI11 with its help hint, exit status 1 as wasmedge.
[[noreturn]] void usage_error(const std::string& message) { throw CLI::ParseError(message, 1); }

uint64_t parse_count(const std::string& option, const std::string& text, uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v > max)
    usage_error(option + ": expected a whole number from 0 to " + std::to_string(max) + ", got '" + text + "'");
  return v;
}

std::vector<uint8_t> read_wasm(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": is a directory, not a .wasm file");
  // A module is a file of known size: a FIFO or a device (/dev/zero) would be read without end.
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw std::runtime_error(path + ": not a regular file, not a .wasm file");
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
    if (o.device_opt && o.device_opt->count())
      usage_error("--device: with --nn-rpc-uri the server chooses the device (nnbridge serve --device)");
    if (o.ngl_opt && o.ngl_opt->count())
      usage_error("--n-gpu-layers: with --nn-rpc-uri the server chooses (nnbridge serve --n-gpu-layers)");
    if (o.kv_type_opt && o.kv_type_opt->count())
      usage_error("--kv-type: with --nn-rpc-uri the server chooses (nnbridge serve --kv-type)");
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
  bo.device = o.device;
  if (!o.n_gpu_layers.empty())
    bo.n_gpu_layers = o.n_gpu_layers == "-1" ? -1 : int32_t(parse_count("--n-gpu-layers", o.n_gpu_layers, INT32_MAX));
  bo.kv_type = parse_kv_type(o.kv_type);
  try {
    check_kv_type_for_device(o.kv_type, o.device);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  return std::make_shared<ggml::GgmlBackend>(std::move(specs), std::move(bo));
}

int run_app(const RunOptions& o, const std::vector<std::string>& rest, wasm::RuntimeOptions ro) {
  const std::string& path = rest.front();
  // Counted from here, as wasmedge counts from before it loads the module.
  wasm::RunDeadline deadline(ro.time_limit_ms);
  ro.deadline = deadline.when();
  const std::vector<uint8_t> wasm = read_wasm(path);

  wasm::WasiOptions w;
  // WasmEdge's argv[0]: the file name with its extension replaced by ".wasm".
  w.args.push_back(std::filesystem::path(path).filename().replace_extension(".wasm").string());
  w.args.insert(w.args.end(), rest.begin() + 1, rest.end());
  w.env = o.envs;
  for (const auto& d : o.dirs) w.preopens.push_back(wasm::parse_dir_spec(d));
  wasm::WasiHost wasi(std::move(w));
  wasm::WasiNnHost nn(make_backend(o));
  nn.abort_check = deadline.abort_check();

  std::vector<wasm::HostFunction> host = wasm::wasi_functions(wasi);
  for (auto& f : wasm::wasi_nn_functions(nn)) host.push_back(std::move(f));

  deadline.arm_watchdog(kTrapExitCode, kTimeLimitGrace);
  int code = 0;
  std::string stopped;  // why the run stopped early, printed after the app's own output
  try {
    auto instance = wasm::instantiate(wasm, host, ro, path);
    code = instance->run_start();
  } catch (const wasm::Trap& t) {
    stopped = std::string("trap: ") + t.what();
  } catch (const wasm::LimitExceeded& e) {
    stopped = e.what();
  }
  if (!deadline.finish()) return kTrapExitCode;  // not reached: the watchdog ends the process
  if (stopped.empty()) return code;
  std::fflush(stdout);  // the app's buffered output first, then the reason it stopped
  std::fprintf(stderr, "nnbridge: %s\n", stopped.c_str());
  return kTrapExitCode;
}

void run_command(const RunOptions& o) {
  const std::vector<std::string> rest = o.cmd->remaining();
  if (rest.empty()) usage_error("APP.wasm is required");
  // prefix_command() hands over an unknown option met before APP.wasm too: refuse it.
  if (rest.front().size() > 1 && rest.front()[0] == '-') usage_error("unknown option " + rest.front());
  wasm::RuntimeOptions ro;
  if (!o.max_call_depth.empty())
    ro.max_call_depth = uint32_t(parse_count("--max-call-depth", o.max_call_depth, 16'000'000));
  // wasmedge takes any uint32; past 65536 pages (wasm32's 4 GiB) it means 65536.
  if (!o.memory_page_limit.empty())
    ro.memory_page_limit = uint32_t(parse_count("--memory-page-limit", o.memory_page_limit, UINT32_MAX));
  if (!o.time_limit.empty()) ro.time_limit_ms = parse_count("--time-limit", o.time_limit, UINT64_MAX);
  if (!o.gas_limit.empty()) ro.gas_limit = parse_count("--gas-limit", o.gas_limit, UINT64_MAX);
  // A guest writing to a closed pipe gets EPIPE from fd_write, as under wasmedge, rather than
  // killing the runtime.
  ::signal(SIGPIPE, SIG_IGN);
  int code;
  try {
    code = run_app(o, rest, ro);
  } catch (const wasm::WasmError& e) {
    std::fprintf(stderr, "nnbridge: error: %s\n", e.what());
    code = 1;
  }
  std::fflush(stdout);
  // The app's status is the process's, whatever main() makes of errors thrown through CLI11
  // (it maps every one to 1, the usage-error status). Everything the run owned is gone by now.
  if (code != 0) std::exit(code);
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
  o->device_opt = c->add_option("--device", o->device,
                                "Device of local WASI-NN: auto (a GPU that can run the model, else the CPU), cpu, "
                                "vulkan, vulkan:N")
                      ->allow_extra_args(false)
                      ->check(device_spec_validator());
  o->ngl_opt = c->add_option("--n-gpu-layers", o->n_gpu_layers,
                             "Layers of local WASI-NN on a GPU device, the rest on the CPU (-1: all)")
                   ->allow_extra_args(false)
                   ->type_name("N");
  o->kv_type_opt = add_kv_type_option(c, o->kv_type, " of local WASI-NN")->allow_extra_args(false);
  c->add_option("--max-call-depth", o->max_call_depth,
                "Deepest wasm call nesting before a clean trap (0: default, 1000000; at most 16000000)")
      ->type_name("N");
  // wasmedge takes the last of repeated limits.
  c->add_option("--memory-page-limit", o->memory_page_limit,
                "Most 64 KiB pages a memory may have (default and maximum: 65536, 4 GiB): a larger initial size "
                "is refused, memory.grow past it returns -1")
      ->type_name("PAGES")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  c->add_option("--time-limit", o->time_limit, "Stop the app after this many milliseconds (0: no limit); exit 134")
      ->type_name("MS")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  c->add_option("--gas-limit", o->gas_limit,
                "Stop the app after this many interpreter steps (about one per wasm instruction); exit 134")
      ->type_name("N")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // No positionals are declared: the first one (APP.wasm) and everything after it land in
  // remaining() untouched.
  c->prefix_command();
  c->callback([o] { run_command(*o); });
}

}  // namespace nnb::cli

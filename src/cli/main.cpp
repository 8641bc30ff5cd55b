// nnbridge: WASI-NN across the VM boundary. One binary: the host server (serve), the guest
// runtime (run), the native client (chat) and the engine's tools (generate, tokenize, info,
// mkmodel, bench).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <readline/readline.h>

#include "cli/commands.h"
#include "engine/runtime/devices.h"

namespace {

// Installed (or linked) under WasmEdge's names, nnbridge takes their place in existing scripts:
// `wasi_nn_rpcserver ARGS` is `nnbridge serve ARGS`, `wasmedge ARGS` is `nnbridge run ARGS`.
const char* implied_subcommand(const char* argv0) {
  const char* base = std::strrchr(argv0, '/');
  base = base ? base + 1 : argv0;
  if (std::strcmp(base, "wasi_nn_rpcserver") == 0) return "serve";
  if (std::strcmp(base, "wasmedge") == 0) return "run";
  return nullptr;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s.empty() ? "none" : s;
}

// What a bug report needs besides the version: which kernels and devices this binary can use
// here (the engine picks the CPU path at run time, so the build alone does not say).
std::string version_text() {
  const nnb::BuildInfo b = nnb::build_info();
  return std::string("nnbridge ") + NNB_VERSION + "\n" +
         "cpu kernels: compiled " + joined(b.isa_compiled) + "; this CPU: " + joined(b.isa_cpu) + "; in use: " +
         b.isa_active + "\n" +
         "vulkan: " + (b.vulkan ? "compiled in (devices found here: nnbridge info --devices)" : "not compiled in") +
         "\n" + "http api: compiled in (serve --http, gateway)\n" +
         "readline: GNU readline " + rl_library_version;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  if (const char* sub = implied_subcommand(argv[0])) args.insert(args.begin() + 1, const_cast<char*>(sub));
  argc = int(args.size());
  argv = args.data();
  CLI::App app{"nnbridge: the host's neural-network hardware for programs inside a VM"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text, "Print the version and build features, and exit");
  nnb::cli::add_generate(app);
  nnb::cli::add_tokenize(app);
  nnb::cli::add_info(app);
  nnb::cli::add_mkmodel(app);
  nnb::cli::add_bench(app);
  nnb::cli::add_serve(app);
  nnb::cli::add_chat(app);
  nnb::cli::add_run(app);
  nnb::cli::add_template(app);
  nnb::cli::add_gateway(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed; every usage error exits 1 as the README says
    // (CLI11's own codes, 105–115, tell a script nothing more useful).
    const int code = app.exit(e);
    return code == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nnbridge: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

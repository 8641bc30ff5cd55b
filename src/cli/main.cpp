// nnbridge: WASI-NN across the VM boundary. This binary carries the engine's tools
// (generate, tokenize, info, mkmodel, bench).
#include <cstdio>
#include <exception>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"nnbridge: the host's neural-network hardware for programs inside a VM"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("nnbridge ") + NNB_VERSION);
  nnb::cli::add_generate(app);
  nnb::cli::add_tokenize(app);
  nnb::cli::add_info(app);
  nnb::cli::add_mkmodel(app);
  nnb::cli::add_bench(app);
  nnb::cli::add_serve(app);
  nnb::cli::add_chat(app);
  nnb::cli::add_run(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nnbridge: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

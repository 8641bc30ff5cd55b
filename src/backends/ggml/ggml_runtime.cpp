#include "backends/ggml/ggml_runtime.h"

#include <cstdio>

#include "backends/ggml/ggml_batching.h"

namespace nnb::ggml {

std::string_view log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Note: return "note";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "?";
}

GgmlBackendOptions with_defaults(GgmlBackendOptions o) {
  if (!o.stdout_sink) {
    o.stdout_sink = [](std::string_view s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);  // apps expect to see each piece as it is produced
    };
  }
  if (!o.logger) {
    o.logger = [](LogLevel l, std::string_view line) {
      std::fprintf(stderr, "[nnbridge ggml %.*s] %.*s\n", int(log_level_name(l).size()), log_level_name(l).data(),
                   int(line.size()), line.data());
    };
  }
  if (o.batch_parallel > 0 && !o.batchers) o.batchers = make_batcher_registry();
  return o;
}

}  // namespace nnb::ggml

#include "backends/openai/openai_runtime.h"

#include <cstdio>

namespace nnb::openai {

Runtime::Runtime(OpenAIBackendOptions o) : o_(std::move(o)) {
  if (!o_.log)
    o_.log = [](const std::string& line) {
      std::fprintf(stderr, "[nnbridge openai] %s\n", line.c_str());
      std::fflush(stderr);
    };
}

void Runtime::note_once(const std::string& line) const {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!noted_.insert(line).second) return;
  }
  log(line);
}

}  // namespace nnb::openai

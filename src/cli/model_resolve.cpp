#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "cli/commands.h"
#include "engine/model/model_gen.h"

namespace nnb::cli {

std::filesystem::path resolve_model(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("NNBRIDGE_MODEL"); env && *env) return env;
  std::error_code ec;
  for (const fs::path& base : {fs::path(NNB_SOURCE_DIR) / "..", fs::current_path(ec) / ".."}) {
    const fs::path p = base / "shared" / "fixtures" / "models" / "stories260K.gguf";
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec);
  }
  fs::path cache;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) cache = x;
  else if (const char* h = std::getenv("HOME"); h && *h) cache = fs::path(h) / ".cache";
  else cache = fs::temp_directory_path();
  const fs::path model = cache / "nnbridge" / "default-synthetic-llama.gguf";
  if (!fs::exists(model, ec)) {
    std::fprintf(stderr, "nnbridge: no model given and no ../shared fixtures; generating a small synthetic "
                         "llama (random weights) at %s\n", model.c_str());
    fs::create_directories(model.parent_path());
    ModelSpec spec;
    spec.name = "nnbridge-default-synthetic";
    const fs::path tmp = model.string() + ".tmp";
    write_model(spec, tmp);
    fs::rename(tmp, model);
  } else {
    std::fprintf(stderr, "nnbridge: no model given; using the generated synthetic model %s\n", model.c_str());
  }
  return model;
}

}  // namespace nnb::cli

// An upstream as --nn-preload names it: the PATH of NAME:OPENAI:AUTO:PATH is
// `BASE_URL#MODEL_ID`, e.g. http://gpu1:8000/v1#meta-llama/Llama-3.1-8B-Instruct; the same NAME
// given again adds an upstream. Its API key: `?key_file=FILE` at the end of BASE_URL (the
// file's first line), else the environment
// variable NNBRIDGE_UPSTREAM_KEY, else none. Keys are read from files or the environment, never
// from the command line, where every local user could read them in the process list.
#pragma once

#include <string>
#include <string_view>

#include "backends/openai/upstream_pool.h"

namespace nnb::openai {

inline constexpr const char* kUpstreamKeyEnv = "NNBRIDGE_UPSTREAM_KEY";

// Throws std::invalid_argument naming what is wrong (not http(s), no #MODEL_ID, an unreadable
// or empty key file ...).
Upstream parse_upstream(std::string_view path);

}  // namespace nnb::openai

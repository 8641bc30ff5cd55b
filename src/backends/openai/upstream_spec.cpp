#include "backends/openai/upstream_spec.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace nnb::openai {
namespace {

std::string read_key_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("cannot read the upstream key file '" + file + "'");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) throw std::invalid_argument("the upstream key file '" + file + "' is empty");
  return key;
}

}  // namespace

Upstream parse_upstream(std::string_view path) {
  const std::string spec(path);
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("OpenAI upstream '" + spec + "': " + why +
                                " (expected BASE_URL#MODEL_ID, e.g. http://host:8000/v1#my-model)");
  };
  const size_t hash = spec.rfind('#');
  if (hash == std::string::npos) fail("no #MODEL_ID");
  Upstream u;
  u.model_id = spec.substr(hash + 1);
  if (u.model_id.empty()) fail("empty MODEL_ID");
  std::string base = spec.substr(0, hash);
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) fail("the base URL must be http:// or https://");
  std::string key_file;
  if (const size_t q = base.find('?'); q != std::string::npos) {
    std::string query = base.substr(q + 1), kept;
    base.resize(q);
    size_t pos = 0;
    while (pos <= query.size()) {
      const size_t amp = std::min(query.find('&', pos), query.size());
      const std::string param = query.substr(pos, amp - pos);
      if (param.rfind("key_file=", 0) == 0)
        key_file = param.substr(9);
      else if (!param.empty())
        kept += (kept.empty() ? "" : "&") + param;
      pos = amp + 1;
    }
    if (!kept.empty()) fail("query parameter '" + kept + "' is not understood (only ?key_file=FILE)");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.find("://") + 3 >= base.size()) fail("no host");
  u.base_url = base;
  if (!key_file.empty())
    u.api_key = read_key_file(key_file);
  else if (const char* k = std::getenv(kUpstreamKeyEnv); k && *k)
    u.api_key = k;
  return u;
}

}  // namespace nnb::openai

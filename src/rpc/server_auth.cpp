#include "rpc/server_auth.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nnb::rpc {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer string is visited; the length difference is folded in too.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? (unsigned char)a[i] : 0;
    const unsigned char y = i < b.size() ? (unsigned char)b[i] : 0;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

Authenticator Authenticator::from_file(const std::string& path, std::string* warning) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read --auth-token-file '" + path + "'");
  struct stat st{};
  // stat after open: the mode of the file actually read (a later swap is the owner's doing).
  if (warning && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "0%03o", unsigned(st.st_mode & 0777));
    *warning = "warning: --auth-token-file '" + path + "' is open to " +
               ((st.st_mode & 007) ? "every user of this host" : "its group") + " (mode " + mode +
               "): whoever can read it can use this server; chmod 600 it";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  const char* ws = " \t\r\n";
  const size_t b = t.find_first_not_of(ws);
  if (b == std::string::npos) throw std::runtime_error("--auth-token-file '" + path + "' holds no token");
  t = t.substr(b, t.find_last_not_of(ws) - b + 1);
  if (t.find_first_of(ws) != std::string::npos || t.size() < 16)
    throw std::runtime_error("--auth-token-file '" + path +
                             "': the token must be one word of at least 16 characters (e.g. `openssl rand -hex 32`)");
  Authenticator a;
  a.token_ = std::move(t);
  return a;
}

bool Authenticator::check(const grpc::ServerContextBase& ctx) const {
  if (token_.empty()) return true;
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  const std::string_view v(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (v.size() < kBearer.size() || v.substr(0, kBearer.size()) != kBearer) return false;
  return constant_time_equal(v.substr(kBearer.size()), token_);
}

}  // namespace nnb::rpc

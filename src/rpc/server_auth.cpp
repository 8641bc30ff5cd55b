#include "rpc/server_auth.h"

#include <cstdio>
#include <stdexcept>

#include "rpc/common.h"

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
  mode_t mode = 0;
  std::string t = read_token_file(path, &mode);  // trimmed, never empty; throws naming the file
  // The mode of the file actually read (a later swap is the owner's doing).
  if (warning && (mode & 077) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "0%03o", unsigned(mode & 0777));
    *warning = "warning: --auth-token-file '" + path + "' is open to " +
               ((mode & 007) ? "every user of this host" : "its group") + " (mode " + octal +
               "): whoever can read it can use this server; chmod 600 it";
  }
  if (t.find_first_of(" \t\r\n") != std::string::npos || t.size() < 16)
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

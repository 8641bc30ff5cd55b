// Bearer-token authentication (--auth-token-file): every call must carry the metadata
// `authorization: Bearer <token>`. The comparison takes the same time whatever the token
// sent, so response timing does not reveal how much of a guess was right.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

namespace nnb::rpc {

class Authenticator {
 public:
  Authenticator() = default;  // no token: every call is accepted
  // Reads the token from `path` with read_token_file() (rpc/common.h: surrounding whitespace
  // trimmed; throws std::runtime_error naming the file when it cannot be read or holds no
  // token) and refuses, naming the file, a token that is not one word of at least 16
  // characters. When the file can be read by its group or by others (any of mode 077),
  // *warning (if given) says so: the token is then only as secret as the file, but refusing
  // would break set-ups that share it on purpose.
  static Authenticator from_file(const std::string& path, std::string* warning = nullptr);

  bool enabled() const { return !token_.empty(); }
  // True when auth is off or the call carries the right bearer token.
  bool check(const grpc::ServerContextBase& ctx) const;

 private:
  std::string token_;
};

// Constant-time equality of two strings (time depends only on their lengths).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace nnb::rpc

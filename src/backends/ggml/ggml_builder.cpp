#include "backends/ggml/ggml_builder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "backends/ggml/ggml_model_cache.h"
#include "nn/types.h"

namespace nnb::ggml {

using nn::Errno;
using nn::Error;

bool is_gguf_bytes(std::span<const uint8_t> b) { return b.size() >= 4 && std::memcmp(b.data(), "GGUF", 4) == 0; }

std::optional<std::filesystem::path> builder_path(std::span<const uint8_t> b) {
  // Only an explicit "preload:" prefix (WasmEdge's convention) names a host file: other bytes
  // must never make the host open a path of the guest's choosing.
  static constexpr std::string_view kPrefix = "preload:";
  if (b.size() <= kPrefix.size() || b.size() > kPrefix.size() + 4096) return std::nullopt;  // PATH_MAX
  if (std::memcmp(b.data(), kPrefix.data(), kPrefix.size()) != 0) return std::nullopt;
  std::string s(b.begin() + kPrefix.size(), b.end());
  while (!s.empty() && s.back() == '\0') s.pop_back();  // a C string's terminator
  if (s.empty() || s.find('\0') != std::string::npos) return std::nullopt;
  return std::filesystem::path(s);
}

namespace {

// Removes the temporary file however loading ends.
struct Unlinker {
  std::string path;
  ~Unlinker() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = errno;
      ::close(fd);
      throw Error(Errno::RuntimeError, "cannot write temporary model file " + path + ": " + std::strerror(e));
    }
    p += w;
    n -= size_t(w);
  }
}

}  // namespace

std::shared_ptr<const Model> load_model_bytes(std::span<const uint8_t> gguf) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string tmpl = (dir / "nnbridge-model-XXXXXX.gguf").string();
  const int fd = ::mkstemps(tmpl.data(), 5);
  if (fd < 0)
    throw Error(Errno::RuntimeError, "cannot create a temporary model file in " + dir.string() + ": " +
                                         std::strerror(errno));
  Unlinker guard{tmpl};
  write_all(fd, gguf.data(), gguf.size(), tmpl);
  if (::close(fd) != 0)
    throw Error(Errno::RuntimeError, "cannot write temporary model file " + tmpl + ": " + std::strerror(errno));
  try {
    return load_model_file(tmpl);  // mapped: unlinking afterwards keeps the mapping valid
  } catch (const Error& e) {
    if (e.code() != Errno::InvalidArgument) throw;
    // Name the source as the caller knows it, not the temporary path.
    std::string msg = e.what();
    for (size_t at; (at = msg.find(tmpl)) != std::string::npos;) msg.replace(at, tmpl.size(), "<in-memory GGUF>");
    throw Error(Errno::InvalidArgument, msg);
  }
}

}  // namespace nnb::ggml

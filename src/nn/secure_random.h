// Unpredictable numbers for everything a client could otherwise guess: handles and session
// ids. From the kernel's cryptographic generator (getrandom), never a seeded PRNG.
#pragma once

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace nnb::nn {

inline void secure_random(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    const ssize_t got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed: no secure random source");
    }
    p += got;
    n -= size_t(got);
  }
}

inline uint32_t secure_random_u32() {
  uint32_t v;
  secure_random(&v, sizeof v);
  return v;
}

}  // namespace nnb::nn

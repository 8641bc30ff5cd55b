/* The guest side of the runtime-limit tests (--memory-page-limit, --time-limit, --gas-limit) and
 * of the slicing measurement. Usage: rt_limits.wasm MODE [N]
 *   spin           loops forever (no host call inside the loop)
 *   grow STRIDE    grows memory one page at a time until memory.grow answers -1, writing one
 *                  byte every STRIDE pages, then checks the contents; prints
 *                  "pages=<final size> contents_ok=<1|0>"
 *   grow_once N    one memory.grow by N pages; prints "grow(N)=<result> pages=<size>"
 *   work N         N rounds of integer mixing (pure interpretation); prints "checksum=<x>"
 *   sleep MS       sleeps MS milliseconds in one poll_oneoff, then prints "woke" */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t pages(void) { return (uint32_t)__builtin_wasm_memory_size(0); }

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  const long long n = argc > 2 ? atoll(argv[2]) : 0;
  if (strcmp(mode, "spin") == 0) {
    volatile uint32_t x = 0;
    for (;;) x = x * 1664525u + 1013904223u;
  }
  if (strcmp(mode, "grow") == 0) {
    const uint32_t stride = n > 0 ? (uint32_t)n : 1;
    const uint32_t first = pages();
    uint32_t grown = 0;
    for (;;) {
      const int32_t old = (int32_t)__builtin_wasm_memory_grow(0, 1);
      if (old < 0) break;
      if (++grown % stride == 0) *(volatile uint8_t*)(uintptr_t)((uint64_t)old * 65536u + 100) = 1;
    }
    /* What the host did with untouched pages must not show: written bytes are still there,
     * every other byte looked at (one per 4 KiB) reads zero. */
    uint32_t bad = 0;
    for (uint32_t p = first; p < pages(); ++p) {
      const uint32_t k = p - first + 1;
      for (uint32_t off = 0; off < 65536u; off += 4096u) {
        const uint8_t want = (k % stride == 0 && off == 0) ? 1 : 0;
        if (*(volatile uint8_t*)(uintptr_t)((uint64_t)p * 65536u + off + 100) != want) ++bad;
      }
    }
    printf("pages=%u contents_ok=%d\n", pages(), bad == 0);
    return 0;
  }
  if (strcmp(mode, "grow_once") == 0) {
    const int32_t r = (int32_t)__builtin_wasm_memory_grow(0, (uint32_t)n);
    printf("grow(%lld)=%d pages=%u\n", n, r, pages());
    return 0;
  }
  if (strcmp(mode, "work") == 0) {
    uint64_t h = 1469598103934665603ull;
    for (long long i = 0; i < n; ++i) h = (h ^ (uint64_t)i) * 1099511628211ull;
    printf("checksum=%llu\n", (unsigned long long)h);
    return 0;
  }
  if (strcmp(mode, "sleep") == 0) {
    struct timespec ts = {(time_t)(n / 1000), (long)(n % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    printf("woke\n");
    return 0;
  }
  printf("usage: rt_limits spin | grow STRIDE | grow_once N | work N | sleep MS\n");
  return 2;
}

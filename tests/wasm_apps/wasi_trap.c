// Deliberate failures of the guest: an `unreachable` trap, a recursion of a given depth (to
// probe the call-depth limit), and an out-of-bounds memory access.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Called through a volatile pointer so the compiler can neither inline nor turn the recursion
// into a loop: every level is a real wasm call frame.
static int depth_step(int n);
static int (*volatile step)(int) = depth_step;
static int depth_step(int n) { return n == 0 ? 0 : step(n - 1) + 1; }

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "unreachable")) {
    printf("before trap\n");
    fflush(stdout);
    __builtin_trap();
  }
  if (!strcmp(argv[1], "recurse") && argc > 2) {
    const int n = atoi(argv[2]);
    printf("depth=%d\n", step(n));
    return 0;
  }
  if (!strcmp(argv[1], "oob")) {
    volatile unsigned char* p = (volatile unsigned char*)0xFFFFFFF0u;
    printf("%d\n", *p);
    return 0;
  }
  return 2;
}

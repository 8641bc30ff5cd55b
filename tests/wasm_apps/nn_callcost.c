/* The guest-side cost of one wasi-nn call: N × get_output(1) (the small metadata JSON) after a
 * set_input, timed with the WASI monotonic clock. Locally that is the wasm → host transition,
 * the bounds checks and one JSON render; over RPC it adds a round trip to the server.
 * Prints "calls=N total_us=T us_per_call=X".
 * Usage: nn_callcost.wasm MODEL_NAME [N] */
#include <time.h>

#include "nn_abi.h"

static char buf[4096];

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_callcost MODEL_NAME [N]\n");
    return 2;
  }
  const int n = argc > 2 ? atoi(argv[2]) : 1000;
  uint32_t graph = 0, ctx = 0, written = 0;
  open_model(argv[1], "", &graph, &ctx);
  expect_eq("set_input", set_text(ctx, 0, "Once upon a time"), NN_OK);
  int bad = 0;
  const double t0 = now_us();
  for (int i = 0; i < n; ++i)
    if (nn_get_output(ctx, 1, P(buf), sizeof buf, P(&written)) != NN_OK) ++bad;
  const double t1 = now_us();
  expect_eq("every call succeeded", bad, 0);
  printf("calls=%d total_us=%.0f us_per_call=%.2f\n", n, t1 - t0, (t1 - t0) / n);
  expect_eq("unload", nn_unload(graph), NN_OK);
  return nn_finish();
}

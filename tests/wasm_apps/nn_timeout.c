/* One long wasi-nn `compute` (a single host call generating many tokens), for the test that
 * --time-limit stops a computation in flight. Prints "compute=<errno>" if the call returns
 * and the run is still allowed to go on.
 * Usage: nn_timeout.wasm MODEL_NAME N_PREDICT CTX_SIZE [GRAMMAR]
 * GRAMMAR (GBNF, no quotes or backslashes) constrains the tokens: one that never completes
 * keeps the end-of-generation token out, so the compute runs all N_PREDICT tokens. */
#include "nn_abi.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    printf("usage: nn_timeout MODEL_NAME N_PREDICT CTX_SIZE\n");
    return 2;
  }
  char config[512];
  if (argc > 4)
    snprintf(config, sizeof config, "{\"n-predict\":%s,\"ctx-size\":%s,\"temp\":0,\"grammar\":\"%s\"}", argv[2],
             argv[3], argv[4]);
  else
    snprintf(config, sizeof config, "{\"n-predict\":%s,\"ctx-size\":%s,\"temp\":0}", argv[2], argv[3]);
  uint32_t graph = 0, ctx = 0;
  open_model(argv[1], config, &graph, &ctx);
  if (set_text(ctx, 0, "Once upon a time") != NN_OK) {
    printf("FAIL set_input\n");
    return 2;
  }
  printf("compute=%d\n", (int)nn_compute(ctx));
  return 0;
}

/* Graph lifetime from the guest: load → run → unload five times over (the name loads again
 * after unload, and each round generates text); an unloaded handle is gone (errno 1).
 * Optionally `load` from a builder holding "preload:<model path>": argv[2] = that, argv[3] = the
 * errno expected (0 on a local GGML backend; 6, UnsupportedOperation, over RPC, which carries
 * no model bytes).
 * Usage: nn_unload.wasm MODEL_NAME [MODEL_PATH EXPECTED_LOAD_ERRNO] */
#include "nn_abi.h"

static char buf[8192];

static void run_once(int round, uint32_t graph) {
  char label[96];
  uint32_t ctx = 0, written = 0;
  snprintf(label, sizeof label, "round %d init_execution_context", round);
  expect_eq(label, nn_init_execution_context(graph, P(&ctx)), NN_OK);
  snprintf(label, sizeof label, "round %d set_input", round);
  expect_eq(label, set_text(ctx, 0, "Once upon a time"), NN_OK);
  snprintf(label, sizeof label, "round %d compute", round);
  expect_eq(label, nn_compute(ctx), NN_OK);
  snprintf(label, sizeof label, "round %d get_output", round);
  expect_eq(label, nn_get_output(ctx, 0, P(buf), sizeof buf, P(&written)), NN_OK);
  snprintf(label, sizeof label, "round %d text generated", round);
  expect_true(label, written > 0, "empty output");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_unload MODEL_NAME [MODEL_PATH EXPECTED_LOAD_ERRNO]\n");
    return 2;
  }
  const char* name = argv[1];
  const char* cfg = "{\"n-predict\":8,\"temp\":0}";
  char label[96];
  for (int round = 1; round <= 5; ++round) {
    uint32_t graph = 0, ctx = 0;
    int32_t rc = (round % 2)
                     ? nn_load_by_name_with_config(P(name), (uint32_t)strlen(name), P(cfg), (uint32_t)strlen(cfg),
                                                   P(&graph))
                     : nn_load_by_name(P(name), (uint32_t)strlen(name), P(&graph));
    snprintf(label, sizeof label, "round %d load", round);
    expect_eq(label, rc, NN_OK);
    if (rc != NN_OK) break;
    run_once(round, graph);
    snprintf(label, sizeof label, "round %d unload", round);
    expect_eq(label, nn_unload(graph), NN_OK);
    snprintf(label, sizeof label, "round %d unloaded handle is gone", round);
    expect_eq(label, nn_init_execution_context(graph, P(&ctx)), NN_EINVAL);
    snprintf(label, sizeof label, "round %d second unload", round);
    expect_eq(label, nn_unload(graph), NN_EINVAL);
  }

  /* Two graphs of one name at once are independent: unloading one leaves the other. */
  uint32_t g1 = 0, g2 = 0;
  expect_eq("load twice (1)", nn_load_by_name(P(name), (uint32_t)strlen(name), P(&g1)), NN_OK);
  expect_eq("load twice (2)", nn_load_by_name(P(name), (uint32_t)strlen(name), P(&g2)), NN_OK);
  expect_true("distinct handles", g1 != g2, "same handle twice");
  expect_eq("unload first", nn_unload(g1), NN_OK);
  run_once(6, g2);
  expect_eq("unload second", nn_unload(g2), NN_OK);

  const char* missing = "no-such-model";
  uint32_t g = 0;
  expect_eq("load_by_name unknown name", nn_load_by_name(P(missing), (uint32_t)strlen(missing), P(&g)), NN_ENOTFOUND);

  if (argc >= 4) {
    const char* path = argv[2];
    const int want = atoi(argv[3]);
    uint32_t builder[2] = {P(path), (uint32_t)strlen(path)};
    uint32_t lg = 0;
    int32_t rc = nn_load(P(builder), 1, 6 /* GGML */, 0 /* CPU */, P(&lg));
    expect_eq("load from path builder", rc, want);
    if (rc == NN_OK) {
      run_once(7, lg);
      expect_eq("unload path graph", nn_unload(lg), NN_OK);
    }
    expect_eq("load with ONNX encoding", nn_load(P(builder), 1, 1 /* ONNX */, 0, P(&lg)),
              want == NN_OK ? NN_EENCODING : want);
  }
  return nn_finish();
}

/* What wasmedge-ggml-llama-stream.wasm does (COMPAT §5), written in C so that the project's
 * demo and tests have the app even without ../shared: load_by_name_with_config → init →
 * set_input(0, prompt) → compute_single / get_output_single(0) until 100 (101/102 also stop)
 * → get_output(1). Pieces are printed raw as they arrive. Env: n_predict, ctx_size (as the
 * Rust app reads them).
 * Usage: llama_stream.wasm MODEL_NAME PROMPT */
#include "nn_abi.h"

static char piece[24576];
static char meta[24576];

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL_NAME PROMPT\n", argv[0]);
    return 2;
  }
  const char* name = argv[1];
  const char* prompt = argv[2];
  char config[256];
  const char* n_predict = getenv("n_predict");
  const char* ctx_size = getenv("ctx_size");
  snprintf(config, sizeof config, "{\"ctx-size\":%s,\"n-predict\":%s,\"enable-log\":false}",
           ctx_size ? ctx_size : "1024", n_predict ? n_predict : "128");

  uint32_t graph = 0, ctx = 0, written = 0;
  int32_t rc = nn_load_by_name_with_config(P(name), (uint32_t)strlen(name), P(config), (uint32_t)strlen(config),
                                           P(&graph));
  if (rc != NN_OK) {
    fprintf(stderr, "load_by_name_with_config(%s) failed: errno %d\n", name, (int)rc);
    return 1;
  }
  if ((rc = nn_init_execution_context(graph, P(&ctx))) != NN_OK) {
    fprintf(stderr, "init_execution_context failed: errno %d\n", (int)rc);
    return 1;
  }
  if ((rc = set_text(ctx, 0, prompt)) != NN_OK) {
    fprintf(stderr, "set_input failed: errno %d\n", (int)rc);
    return 1;
  }
  printf("%s", prompt);
  fflush(stdout);
  for (;;) {
    rc = nn_compute_single(ctx);
    if (rc == NN_EOS || rc == NN_ECTXFULL || rc == NN_EPROMPT) break;
    if (rc != NN_OK) {
      fprintf(stderr, "\ncompute_single failed: errno %d\n", (int)rc);
      return 1;
    }
    rc = nn_get_output_single(ctx, 0, P(piece), sizeof piece, P(&written));
    if (rc != NN_OK) {
      fprintf(stderr, "\nget_output_single failed: errno %d\n", (int)rc);
      return 1;
    }
    fwrite(piece, 1, written, stdout);
    fflush(stdout);
  }
  printf("\n");
  if (nn_get_output(ctx, 1, P(meta), sizeof meta - 1, P(&written)) == NN_OK) {
    meta[written] = '\0';
    fprintf(stderr, "metadata: %s\n", meta);
  }
  return 0;
}

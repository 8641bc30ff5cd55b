/* Embedding mode as the WasmEdge embedding example uses it: load with {"embedding": true},
 * set_input(0, text), compute, get_output(0) into an 82,048-byte buffer (the size the real
 * apps use) holding {"n_embedding": N, "embedding": [f, ...]}. Checks: N values follow, their
 * L2 norm is 1, two texts give different vectors, the same text the same vector, and compute
 * without new input is errno 1. Prints "n_embedding N" and "norm X" for the test to read.
 * Usage: nn_embedding.wasm MODEL_NAME */
#include <math.h>

#include "nn_abi.h"

static char out[82048];
static double first[4096];

/* Parses the "embedding" array: count values, sum of squares, first few kept. */
static int parse_embedding(const char* json, double* sumsq, double* keep, int n_keep) {
  const char* p = strstr(json, "\"embedding\":[");
  if (!p) return -1;
  p += strlen("\"embedding\":[");
  int n = 0;
  *sumsq = 0;
  while (*p && *p != ']') {
    char* end = NULL;
    double v = strtod(p, &end);
    if (end == p) return -1;
    if (n < n_keep) keep[n] = v;
    *sumsq += v * v;
    ++n;
    p = end;
    if (*p == ',') ++p;
  }
  return *p == ']' ? n : -1;
}

static int embed(uint32_t ctx, const char* text, double* keep, double* norm) {
  uint32_t written = 0;
  expect_eq("set_input text", set_text(ctx, 0, text), NN_OK);
  expect_eq("compute", nn_compute(ctx), NN_OK);
  expect_eq("get_output embedding", nn_get_output(ctx, 0, P(out), sizeof out - 1, P(&written)), NN_OK);
  out[written] = 0;
  double sumsq = 0;
  const int n = parse_embedding(out, &sumsq, keep, 4096);
  expect_true("embedding parses", n > 0, out);
  expect_eq("n_embedding matches the values", json_int(out, "n_embedding"), n);
  *norm = sqrt(sumsq);
  return n;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_embedding MODEL_NAME\n");
    return 2;
  }
  uint32_t graph = 0, ctx = 0;
  open_model(argv[1], "{\"embedding\":true,\"ctx-size\":256}", &graph, &ctx);
  static double second[4096], again[4096];
  double norm = 0, norm2 = 0, norm3 = 0;
  const int n = embed(ctx, "Once upon a time there was a little dog", first, &norm);
  printf("n_embedding %d\nnorm %.6f\n", n, norm);
  expect_true("unit norm", fabs(norm - 1.0) < 1e-4, "norm is not 1");
  const int n2 = embed(ctx, "The sun was shining on the big red ball", second, &norm2);
  expect_eq("same width", n2, n);
  int differ = 0;
  for (int i = 0; i < n && i < 4096; ++i) differ |= first[i] != second[i];
  expect_true("different texts differ", differ, "two texts gave the same embedding");
  embed(ctx, "Once upon a time there was a little dog", again, &norm3);
  int same = 1;
  for (int i = 0; i < n && i < 4096; ++i) same &= first[i] == again[i];
  expect_true("same text, same embedding", same, "the same text gave another embedding");
  expect_eq("compute without new input", nn_compute(ctx), NN_EINVAL);
  return nn_finish();
}

/* The "grammar" and "json-schema" options as WasmEdge's grammar example sends them: metadata
 * JSON on input 1, then the prompt. Checks: compute's answer is a sentence of the grammar,
 * streaming (compute_single) gives one too and ends with 100, a JSON schema gives JSON of that
 * shape, and a malformed grammar is errno 1 at set_input. Prints "answer X" and "json X" for the
 * test to read.
 * Usage: nn_grammar.wasm MODEL_NAME */
#include "nn_abi.h"

static char out[24576];

static const char* answer(uint32_t ctx) {
  uint32_t written = 0;
  expect_eq("get_output", nn_get_output(ctx, 0, P(out), sizeof out - 1, P(&written)), NN_OK);
  out[written] = 0;
  return out;
}

static int yes_or_no(const char* s) { return strcmp(s, "yes.") == 0 || strcmp(s, "no.") == 0; }

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_grammar MODEL_NAME\n");
    return 2;
  }
  uint32_t graph = 0, ctx = 0;
  open_model(argv[1], "", &graph, &ctx);

  expect_eq("set_input grammar",
            set_text(ctx, 1, "{\"grammar\":\"root ::= (\\\"yes\\\" | \\\"no\\\") \\\".\\\"\",\"n-predict\":16}"), NN_OK);
  expect_eq("set_input prompt", set_text(ctx, 0, "Is the sky blue? Answer:"), NN_OK);
  expect_eq("compute", nn_compute(ctx), NN_OK);
  const char* a = answer(ctx);
  printf("answer %s\n", a);
  expect_true("compute's answer is yes. or no.", yes_or_no(a), a);

  /* The same grammar, streamed. */
  static char streamed[256];
  size_t n = 0;
  expect_eq("set_input prompt again", set_text(ctx, 0, "Is grass green? Answer:"), NN_OK);
  int32_t rc = NN_OK;
  for (int i = 0; i < 64 && (rc = nn_compute_single(ctx)) == NN_OK; ++i) {
    uint32_t written = 0;
    static char piece[256];
    nn_get_output_single(ctx, 0, P(piece), sizeof piece, P(&written));
    if (n + written < sizeof streamed) {
      memcpy(streamed + n, piece, written);
      n += written;
    }
  }
  streamed[n] = 0;
  expect_eq("stream ends with end of generation", rc, NN_EOS);
  expect_true("streamed answer is yes. or no.", yes_or_no(streamed), streamed);
  nn_fini_single(ctx);

  /* A JSON schema instead (the grammar is cleared: both at once is errno 1). */
  expect_eq("grammar and json-schema together",
            set_text(ctx, 1, "{\"json-schema\":\"{\\\"type\\\":\\\"object\\\"}\"}"), NN_EINVAL);
  expect_eq("set_input json-schema",
            set_text(ctx, 1,
                     "{\"grammar\":\"\",\"n-predict\":64,\"json-schema\":\"{\\\"type\\\":\\\"object\\\",\\\"properties\\\":"
                     "{\\\"ok\\\":{\\\"type\\\":\\\"boolean\\\"}},\\\"required\\\":[\\\"ok\\\"]}\"}"),
            NN_OK);
  expect_eq("set_input prompt for JSON", set_text(ctx, 0, "Reply in JSON:"), NN_OK);
  expect_eq("compute JSON", nn_compute(ctx), NN_OK);
  a = answer(ctx);
  static char squeezed[24576];
  size_t k = 0;
  for (const char* p = a; *p; ++p)
    if (*p != ' ' && *p != '\n' && *p != '\t') squeezed[k++] = *p;
  squeezed[k] = 0;
  printf("json %s\n", squeezed);
  expect_true("JSON of the schema's shape", strcmp(squeezed, "{\"ok\":true}") == 0 || strcmp(squeezed, "{\"ok\":false}") == 0,
              a);

  /* A malformed grammar: errno 1 at set_input, the options unchanged. */
  expect_eq("malformed grammar", set_text(ctx, 1, "{\"json-schema\":\"\",\"grammar\":\"root ::= (\\\"a\\\"\"}"), NN_EINVAL);
  return nn_finish();
}

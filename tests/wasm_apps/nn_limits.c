/* The GGML backend's limits as the guest sees them (COMPAT §4):
 *  - a generation that fills a small context stops with 101 and the text so far stays
 *    readable; the streamed form stops with 101 too;
 *  - a prompt longer than the context is 102 (compute and compute_single);
 *  - metadata that is not JSON is 2, a known key of the wrong type is 1.
 * Usage: nn_limits.wasm MODEL_NAME */
#include "nn_abi.h"

static char buf[8192];

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_limits MODEL_NAME\n");
    return 2;
  }
  uint32_t graph = 0, ctx = 0, written = 0;
  open_model(argv[1], "{\"ctx-size\":16,\"n-predict\":200,\"temp\":0}", &graph, &ctx);

  expect_eq("set_input", set_text(ctx, 0, "Once upon a time"), NN_OK);
  expect_eq("compute fills the context", nn_compute(ctx), NN_ECTXFULL);
  expect_eq("text so far readable", nn_get_output(ctx, 0, P(buf), sizeof buf, P(&written)), NN_OK);
  expect_true("text so far not empty", written > 0, "no text");

  expect_eq("set_input for stream", set_text(ctx, 0, "Once upon a time"), NN_OK);
  int rc = 0, steps = 0;
  while ((rc = nn_compute_single(ctx)) == NN_OK && steps < 1000) ++steps;
  expect_eq("compute_single fills the context", rc, NN_ECTXFULL);
  expect_true("streamed some tokens first", steps > 0, "no token before the context filled");
  expect_eq("fini_single", nn_fini_single(ctx), NN_OK);

  const char* long_prompt =
      "Once upon a time there was a little girl named Lily. She loved to play outside in the park "
      "with her friends and her big red ball every single day.";
  expect_eq("set_input long prompt", set_text(ctx, 0, long_prompt), NN_OK);
  expect_eq("compute prompt too long", nn_compute(ctx), NN_EPROMPT);
  expect_eq("set_input long prompt (stream)", set_text(ctx, 0, long_prompt), NN_OK);
  expect_eq("compute_single prompt too long", nn_compute_single(ctx), NN_EPROMPT);
  expect_eq("fini_single after 102", nn_fini_single(ctx), NN_OK);

  expect_eq("metadata not JSON", set_text(ctx, 1, "{not json"), NN_EENCODING);
  expect_eq("metadata wrong type", set_text(ctx, 1, "{\"n-predict\":\"many\"}"), NN_EINVAL);
  expect_eq("metadata unknown key ignored", set_text(ctx, 1, "{\"llama3\":true,\"n-predict\":4}"), NN_OK);
  expect_eq("set_input after metadata", set_text(ctx, 0, "Once"), NN_OK);
  expect_eq("compute within limits", nn_compute(ctx), NN_OK);
  expect_eq("unload", nn_unload(graph), NN_OK);
  return nn_finish();
}

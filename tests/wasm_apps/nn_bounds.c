/* Every pointer the guest hands to wasi_ephemeral_nn is checked against its memory: a pointer
 * or length reaching past the end (or wrapping around 4 GiB) is errno 1 and the host neither
 * crashes nor writes anything. Unknown handles are errno 1 too. After all of it the same
 * context still works, so nothing was corrupted.
 * Usage: nn_bounds.wasm MODEL_NAME */
#include "nn_abi.h"

static char out[4096];

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_bounds MODEL_NAME\n");
    return 2;
  }
  const char* name = argv[1];
  const uint32_t nlen = (uint32_t)strlen(name);
  const uint32_t end = mem_end();
  uint32_t graph = 0, ctx = 0, written = 0;

  /* Names and configs. */
  expect_eq("load_by_name name past end", nn_load_by_name(end - 2, 4, P(&graph)), NN_EINVAL);
  expect_eq("load_by_name name wraps 4GiB", nn_load_by_name(0xFFFFFFFFu, 2, P(&graph)), NN_EINVAL);
  expect_eq("load_by_name graph_out past end", nn_load_by_name(P(name), nlen, end - 3), NN_EINVAL);
  expect_eq("load_by_name_with_config config past end",
            nn_load_by_name_with_config(P(name), nlen, end - 1, 2, P(&graph)), NN_EINVAL);

  /* load's builder array: count*8 overflowing 32 bits, array past end, entry past end. */
  uint32_t builders[2] = {P(name), nlen};
  expect_eq("load builders_len*8 wraps", nn_load(P(builders), 0x20000001u, 6, 0, P(&graph)), NN_EINVAL);
  expect_eq("load builder array past end", nn_load(end - 4, 1, 6, 0, P(&graph)), NN_EINVAL);
  uint32_t bad_builder[2] = {end - 8, 16};
  expect_eq("load builder bytes past end", nn_load(P(bad_builder), 1, 6, 0, P(&graph)), NN_EINVAL);
  expect_eq("load graph_out past end", nn_load(P(builders), 1, 6, 0, end), NN_EINVAL);

  /* Unknown handles (0 is never a handle). */
  expect_eq("init_execution_context unknown graph", nn_init_execution_context(0, P(&ctx)), NN_EINVAL);
  expect_eq("compute unknown context", nn_compute(0x12345u), NN_EINVAL);
  expect_eq("compute_single unknown context", nn_compute_single(0), NN_EINVAL);
  expect_eq("fini_single unknown context", nn_fini_single(0), NN_EINVAL);
  expect_eq("get_output unknown context", nn_get_output(0, 0, P(out), sizeof out, P(&written)), NN_EINVAL);
  expect_eq("unload unknown graph", nn_unload(0), NN_EINVAL);

  const char* cfg = "{\"n-predict\":4,\"temp\":0,\"ctx-size\":64}";
  if (nn_load_by_name_with_config(P(name), nlen, P(cfg), (uint32_t)strlen(cfg), P(&graph)) != NN_OK) {
    printf("FAIL cannot load %s\n", name);
    return 2;
  }
  expect_eq("init_execution_context ctx_out past end", nn_init_execution_context(graph, end - 1), NN_EINVAL);
  if (nn_init_execution_context(graph, P(&ctx)) != NN_OK) {
    printf("FAIL init_execution_context\n");
    return 2;
  }

  /* The tensor struct and what it points at. */
  const char* prompt = "Once upon a time";
  nn_tensor t = text_tensor(prompt, (uint32_t)strlen(prompt));
  expect_eq("set_input tensor struct past end", nn_set_input(ctx, 0, end - 10), NN_EINVAL);
  expect_eq("set_input tensor struct wraps", nn_set_input(ctx, 0, 0xFFFFFFF0u), NN_EINVAL);
  nn_tensor bad = t;
  bad.data_ptr = end - 4;
  expect_eq("set_input data past end", nn_set_input(ctx, 0, P(&bad)), NN_EINVAL);
  bad = t;
  bad.data_len = 0xFFFFFFFFu;
  expect_eq("set_input data_len huge", nn_set_input(ctx, 0, P(&bad)), NN_EINVAL);
  bad = t;
  bad.dims_ptr = end - 2;
  expect_eq("set_input dims past end", nn_set_input(ctx, 0, P(&bad)), NN_EINVAL);
  bad = t;
  bad.dims_len = 0x40000001u; /* *4 wraps to 4 in 32 bits */
  expect_eq("set_input dims_len*4 wraps", nn_set_input(ctx, 0, P(&bad)), NN_EINVAL);
  expect_eq("set_input unknown context", nn_set_input(0, 0, P(&t)), NN_EINVAL);

  /* Old crates write the type as one byte and leave garbage in the padding: only the low byte
   * counts, and GGML ignores the type anyway. dims=[1] for a 16-byte text. */
  nn_tensor quirky = t;
  quirky.type = 0xDEADBE02u;
  expect_eq("set_input type with garbage padding", nn_set_input(ctx, 0, P(&quirky)), NN_OK);

  /* Output buffers and bytes_written; a refused call writes nothing. */
  memset(out, 'x', sizeof out);
  expect_eq("get_output out past end", nn_get_output(ctx, 1, end - 10, 100, P(&written)), NN_EINVAL);
  expect_eq("get_output out wraps 4GiB", nn_get_output(ctx, 1, 0xFFFFFF00u, 0x200, P(&written)), NN_EINVAL);
  written = 77;
  expect_eq("get_output bytes_written past end", nn_get_output(ctx, 1, P(out), sizeof out, end - 2), NN_EINVAL);
  expect_true("refused get_output wrote nothing", out[0] == 'x' && written == 77, "buffer or bytes_written changed");

  expect_eq("compute after bad calls", nn_compute(ctx), NN_OK);
  expect_eq("get_output text", nn_get_output(ctx, 0, P(out), sizeof out, P(&written)), NN_OK);
  expect_true("generated some text", written > 0 && written < sizeof out, "no text");

  /* Streaming: the same checks on get_output_single. */
  expect_eq("set_input for stream", set_text(ctx, 0, prompt), NN_OK);
  expect_eq("compute_single", nn_compute_single(ctx), NN_OK);
  expect_eq("get_output_single out past end", nn_get_output_single(ctx, 0, end - 1, 64, P(&written)), NN_EINVAL);
  expect_eq("get_output_single bytes_written past end",
            nn_get_output_single(ctx, 0, P(out), sizeof out, 0xFFFFFFFEu), NN_EINVAL);
  expect_eq("get_output_single piece", nn_get_output_single(ctx, 0, P(out), sizeof out, P(&written)), NN_OK);
  expect_eq("fini_single", nn_fini_single(ctx), NN_OK);
  expect_eq("unload", nn_unload(graph), NN_OK);
  return nn_finish();
}

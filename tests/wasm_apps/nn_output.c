/* Output and input semantics seen from the guest:
 *  - an output larger than the buffer is errno 7 with the needed size in bytes_written and
 *    nothing written; a buffer of exactly that size then succeeds; reading twice gives the
 *    same bytes (get_output and get_output_single alike);
 *  - a second set_input replaces the prompt rather than appending (input_tokens shows it);
 *  - text length comes from data_len whatever dims says.
 * Usage: nn_output.wasm MODEL_NAME */
#include "nn_abi.h"

static char buf[8192], buf2[8192];

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: nn_output MODEL_NAME\n");
    return 2;
  }
  uint32_t graph = 0, ctx = 0, written = 0;
  open_model(argv[1], "{\"n-predict\":24,\"temp\":0,\"ctx-size\":128}", &graph, &ctx);

  /* set_input twice: the second prompt replaces the first. */
  const char* long_prompt = "Once upon a time there was a little girl named Lily who loved to play";
  const char* short_prompt = "Once upon a time";
  expect_eq("set_input long", set_text(ctx, 0, long_prompt), NN_OK);
  expect_eq("get_output metadata", nn_get_output(ctx, 1, P(buf), sizeof buf, P(&written)), NN_OK);
  buf[written] = 0;
  long long long_tokens = json_int(buf, "input_tokens");
  expect_eq("set_input short", set_text(ctx, 0, short_prompt), NN_OK);
  expect_eq("get_output metadata again", nn_get_output(ctx, 1, P(buf), sizeof buf, P(&written)), NN_OK);
  buf[written] = 0;
  long long short_tokens = json_int(buf, "input_tokens");
  printf("input_tokens long=%lld short=%lld\n", long_tokens, short_tokens);
  expect_true("second set_input replaces", short_tokens > 0 && short_tokens < long_tokens,
              "input_tokens did not drop to the short prompt's");

  /* dims=[1000] on a 16-byte text: the length comes from data_len. */
  uint32_t big_dims[1] = {1000};
  nn_tensor t = text_tensor(short_prompt, (uint32_t)strlen(short_prompt));
  t.dims_ptr = P(big_dims);
  expect_eq("set_input dims ignored", nn_set_input(ctx, 0, P(&t)), NN_OK);
  expect_eq("get_output metadata dims", nn_get_output(ctx, 1, P(buf), sizeof buf, P(&written)), NN_OK);
  buf[written] = 0;
  expect_eq("input_tokens from data_len", json_int(buf, "input_tokens"), short_tokens);

  expect_eq("compute", nn_compute(ctx), NN_OK);
  expect_eq("compute again without input", nn_compute(ctx), NN_EINVAL);

  /* TooLarge: nothing written, bytes_written = size needed. */
  uint32_t needed = 0;
  expect_eq("get_output full", nn_get_output(ctx, 0, P(buf2), sizeof buf2, P(&needed)), NN_OK);
  expect_true("text not empty", needed > 1, "no text generated");
  memset(buf, 'x', sizeof buf);
  written = 0;
  expect_eq("get_output too small", nn_get_output(ctx, 0, P(buf), needed - 1, P(&written)), NN_ETOOLARGE);
  expect_eq("bytes_written = needed", written, needed);
  expect_true("too small wrote nothing", buf[0] == 'x' && buf[needed - 2] == 'x', "partial output written");
  written = 0;
  expect_eq("get_output zero buffer", nn_get_output(ctx, 0, P(buf), 0, P(&written)), NN_ETOOLARGE);
  expect_eq("bytes_written = needed (0 buffer)", written, needed);
  expect_eq("get_output exact size", nn_get_output(ctx, 0, P(buf), needed, P(&written)), NN_OK);
  expect_eq("exact size bytes_written", written, needed);
  expect_true("read twice gives same bytes", memcmp(buf, buf2, needed) == 0, "bytes differ");
  expect_eq("get_output metadata after compute", nn_get_output(ctx, 1, P(buf), sizeof buf, P(&written)), NN_OK);
  buf[written] = 0;
  expect_true("metadata has output_tokens", json_int(buf, "output_tokens") > 0, buf);
  expect_true("metadata has llama_commit", strstr(buf, "\"llama_commit\"") != NULL, buf);
  expect_true("metadata has llama_build_number", strstr(buf, "\"llama_build_number\"") != NULL, buf);

  /* Streaming pieces: the same TooLarge rule, and the concatenated pieces equal the text. */
  expect_eq("set_input for stream", set_text(ctx, 0, short_prompt), NN_OK);
  size_t streamed = 0;
  int rc = 0, steps = 0, toolarge_checked = 0;
  while ((rc = nn_compute_single(ctx)) == NN_OK && steps < 100) {
    ++steps;
    uint32_t n = 0;
    if (!toolarge_checked) {
      /* A buffer of 0 bytes is too small for any non-empty piece. */
      int r0 = nn_get_output_single(ctx, 0, P(buf), 0, P(&n));
      if (n > 0) {
        expect_eq("get_output_single too small", r0, NN_ETOOLARGE);
        toolarge_checked = 1;
      }
    }
    if (nn_get_output_single(ctx, 0, P(buf + streamed), (uint32_t)(sizeof buf - streamed), P(&n)) != NN_OK) break;
    streamed += n;
  }
  expect_eq("stream ends with end-of-sequence", rc, NN_EOS);
  expect_true("piece TooLarge checked", toolarge_checked, "every piece was empty");
  expect_eq("streamed length = computed length", (long long)streamed, needed);
  expect_true("streamed text = computed text", streamed == needed && memcmp(buf, buf2, needed) == 0,
              "streamed text differs");
  expect_eq("fini_single", nn_fini_single(ctx), NN_OK);
  expect_eq("unload", nn_unload(graph), NN_OK);
  return nn_finish();
}

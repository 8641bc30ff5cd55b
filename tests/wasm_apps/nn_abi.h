/* What nnbridge's own wasi-nn test apps share: the eleven `wasi_ephemeral_nn` imports declared
 * by hand (exactly the ABI of COMPAT §1, no crate in between), the 20-byte tensor struct, and
 * PASS/FAIL bookkeeping. Each app prints one line per check and exits 1 if any failed, so the
 * host-side test asserts both the exit code and the lines. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(#name)))

NN_IMPORT(load) int32_t nn_load(uint32_t builders, uint32_t n, uint32_t enc, uint32_t target, uint32_t graph_out);
NN_IMPORT(load_by_name) int32_t nn_load_by_name(uint32_t name, uint32_t len, uint32_t graph_out);
NN_IMPORT(load_by_name_with_config)
int32_t nn_load_by_name_with_config(uint32_t name, uint32_t len, uint32_t cfg, uint32_t cfg_len, uint32_t graph_out);
NN_IMPORT(init_execution_context) int32_t nn_init_execution_context(uint32_t graph, uint32_t ctx_out);
NN_IMPORT(set_input) int32_t nn_set_input(uint32_t ctx, uint32_t index, uint32_t tensor);
NN_IMPORT(compute) int32_t nn_compute(uint32_t ctx);
NN_IMPORT(get_output)
int32_t nn_get_output(uint32_t ctx, uint32_t index, uint32_t out, uint32_t out_max, uint32_t written_out);
NN_IMPORT(compute_single) int32_t nn_compute_single(uint32_t ctx);
NN_IMPORT(get_output_single)
int32_t nn_get_output_single(uint32_t ctx, uint32_t index, uint32_t out, uint32_t out_max, uint32_t written_out);
NN_IMPORT(fini_single) int32_t nn_fini_single(uint32_t ctx);
NN_IMPORT(unload) int32_t nn_unload(uint32_t graph);

/* Guest addresses are 32-bit: a pointer passes as its address. */
#define P(x) ((uint32_t)(uintptr_t)(x))

enum { NN_OK = 0, NN_EINVAL = 1, NN_EENCODING = 2, NN_ERUNTIME = 5, NN_EUNSUPPORTED = 6, NN_ETOOLARGE = 7,
       NN_ENOTFOUND = 8, NN_EOS = 100, NN_ECTXFULL = 101, NN_EPROMPT = 102, NN_EMODEL = 103 };

typedef struct {
  uint32_t dims_ptr, dims_len, type, data_ptr, data_len;
} nn_tensor;
_Static_assert(sizeof(nn_tensor) == 20, "the guest ABI's tensor struct is 20 bytes");

static int nn_failures = 0;

/* One check: prints "PASS name" or "FAIL name: got X want Y". */
static inline void expect_eq(const char* name, long long got, long long want) {
  if (got == want) {
    printf("PASS %s\n", name);
  } else {
    printf("FAIL %s: got %lld want %lld\n", name, got, want);
    ++nn_failures;
  }
}
static inline void expect_true(const char* name, int ok, const char* detail) {
  if (ok) {
    printf("PASS %s\n", name);
  } else {
    printf("FAIL %s: %s\n", name, detail);
    ++nn_failures;
  }
}
static inline int nn_finish(void) {
  printf("%s (%d failed)\n", nn_failures ? "SOME CHECKS FAILED" : "ALL PASSED", nn_failures);
  return nn_failures ? 1 : 0;
}

/* The guest's memory size in bytes: the first address past the end. */
static inline uint32_t mem_end(void) { return (uint32_t)(__builtin_wasm_memory_size(0) * 65536u); }

/* A text (or metadata JSON) tensor as the prebuilt GGML apps send it: dims=[1] whatever the
 * length, type U8 (3 in the 0.7 numbering). */
static uint32_t nn_dims_one[1] = {1};
static inline nn_tensor text_tensor(const char* s, uint32_t len) {
  nn_tensor t = {P(nn_dims_one), 1, 3, P(s), len};
  return t;
}
static inline int32_t set_text(uint32_t ctx, uint32_t index, const char* s) {
  nn_tensor t = text_tensor(s, (uint32_t)strlen(s));
  return nn_set_input(ctx, index, P(&t));
}

/* The integer after "key": in a metadata JSON, or -1. */
static inline long long json_int(const char* json, const char* key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char* p = strstr(json, pat);
  if (!p) return -1;
  p += strlen(pat);
  while (*p == ' ') ++p;
  return strtoll(p, NULL, 10);
}

/* Loads argv[1] with `config` (may be "") and makes a context; exits 2 when that fails,
 * since no later check would mean anything. */
static inline void open_model(const char* name, const char* config, uint32_t* graph, uint32_t* ctx) {
  int32_t rc = nn_load_by_name_with_config(P(name), (uint32_t)strlen(name), P(config), (uint32_t)strlen(config),
                                           P(graph));
  if (rc != NN_OK) {
    printf("FAIL load_by_name_with_config(%s): errno %d\n", name, rc);
    exit(2);
  }
  rc = nn_init_execution_context(*graph, P(ctx));
  if (rc != NN_OK) {
    printf("FAIL init_execution_context: errno %d\n", rc);
    exit(2);
  }
}

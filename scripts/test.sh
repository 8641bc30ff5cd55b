#!/usr/bin/env bash
# The whole test suite: release build + ctest, an ASan/UBSan build of the parser and
# refusal tests, and a bounded libFuzzer run on the GGUF reader. Tests that need
# ../shared/fixtures skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
export GTEST_COLOR=no
FUZZ_SECONDS=${NNB_FUZZ_SECONDS:-45}

scripts/build.sh

echo "== sanitizer build (ASan + UBSan): parsers and refusals"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNNB_SANITIZE=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
SAN_TESTS=(gguf_test vocab_test model_load_test)
cmake --build build-asan -j"$(nproc)" --target "${SAN_TESTS[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${SAN_TESTS[@]}"; do
  echo "-- $t (sanitized)"
  build-asan/tests/"$t" --gtest_brief=1
done

echo "== ThreadSanitizer build: concurrent contexts and the RPC server under load"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_CXX_FLAGS=-fsanitize=thread \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
cmake --build build-tsan -j"$(nproc)" --target nnbridge rpc_concurrency_test backend_ggml_test
# Debian's gRPC/protobuf are not instrumented: their internals are suppressed, and the
# concurrency test fails on any report whose racing access is in our own sources.
export TSAN_OPTIONS="suppressions=$PWD/tests/rpc_tsan.supp halt_on_error=0"
for t in backend_ggml_test rpc_concurrency_test; do
  echo "-- $t (ThreadSanitizer)"
  build-tsan/tests/"$t" --gtest_brief=1
done
unset TSAN_OPTIONS

echo "== fuzzing the GGUF reader for ${FUZZ_SECONDS}s"
scripts/fuzz-gguf.sh "$FUZZ_SECONDS"

echo "== test suite"
ctest --test-dir build --output-on-failure -j"$(nproc)"

# Shared by scripts/fuzz-gguf.sh and scripts/fuzz-parsers.sh (sourced, not run): the fuzz build
# (clang, libFuzzer, ASan + UBSan) and one libFuzzer run. Sets secs (the first argument of the
# calling script, default 60), root, build and fixtures.
secs="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
fixtures="${NNB_FIXTURES:-$root/../shared/fixtures}"

fuzz_build() {  # fuzz_build TARGET...
  cmake -S "$root" -B "$build" -G Ninja -DNNB_FUZZ=ON -DNNB_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
  ninja -C "$build" -j2 "$@"
}

# Runs TARGET for $secs seconds on its corpus (build-fuzz/TARGET-corpus) plus the seed
# directories; a finding exits non-zero and leaves the input in build-fuzz/TARGET-artifacts/.
fuzz_run() {  # fuzz_run TARGET DICT MAX_LEN SEED_DIR...
  local target=$1 dict=$2 max_len=$3
  shift 3
  local corpus="$build/$target-corpus" artifacts="$build/$target-artifacts"
  mkdir -p "$corpus" "$artifacts"
  "$build/fuzz/$target" "$corpus" "$@" -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$max_len" \
    -timeout=10 -dict="$root/fuzz/$dict" -artifact_prefix="$artifacts/" -print_final_stats=1
}

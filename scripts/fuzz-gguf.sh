#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer (clang, ASan + UBSan) for N seconds (default 60).
# The corpus (build-fuzz/gguf-corpus) is seeded with small generated files and, when present,
# the fixture models, negative files and vocabularies. Exits non-zero on a finding; the
# crashing input is left in build-fuzz/gguf-artifacts/.
set -euo pipefail

secs="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
fixtures="${NNB_FIXTURES:-$root/../shared/fixtures}"

cmake -S "$root" -B "$build" -G Ninja -DNNB_FUZZ=ON -DNNB_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
ninja -C "$build" -j2 gguf_fuzz gguf_fuzz_seed

corpus="$build/gguf-corpus"
seeds="$build/gguf-seeds"
artifacts="$build/gguf-artifacts"
mkdir -p "$corpus" "$seeds" "$artifacts"
"$build/fuzz/gguf_fuzz_seed" "$seeds"
if [[ -d "$fixtures" ]]; then
  shopt -s nullglob
  for f in "$fixtures"/models/*.gguf "$fixtures"/models/negative/* "$fixtures"/vocab/*.gguf; do
    cp -f "$f" "$seeds/"
  done
fi

# Seeds larger than -max_len are truncated by libFuzzer, which still exercises their metadata.
"$build/fuzz/gguf_fuzz" "$corpus" "$seeds" \
  -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
  -dict="$root/fuzz/gguf.dict" -artifact_prefix="$artifacts/" -print_final_stats=1

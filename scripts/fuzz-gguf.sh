#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer (clang, ASan + UBSan) for N seconds (default 60).
# The corpus (build-fuzz/gguf_fuzz-corpus) is seeded with small generated files and, when present,
# the fixture models, negative files and vocabularies. Exits non-zero on a finding; the
# crashing input is left in build-fuzz/gguf_fuzz-artifacts/.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/fuzz-common.sh"
fuzz_build gguf_fuzz gguf_fuzz_seed

seeds="$build/gguf-seeds"
mkdir -p "$seeds"
"$build/fuzz/gguf_fuzz_seed" "$seeds"
if [[ -d "$fixtures" ]]; then
  shopt -s nullglob
  for f in "$fixtures"/models/*.gguf "$fixtures"/models/negative/* "$fixtures"/vocab/*.gguf; do
    cp -f "$f" "$seeds/"
  done
fi

# Seeds larger than -max_len are truncated by libFuzzer, which still exercises their metadata.
fuzz_run gguf_fuzz gguf.dict 65536 "$seeds"

#!/usr/bin/env bash
# The main job: install what is missing, build, and stream a story from the default model
# (../shared/fixtures/models/stories260K.gguf when present, else a generated model).
# Extra arguments go to `nnbridge generate` (e.g. -m MODEL -p "PROMPT" -n 200).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/src/nnbridge generate -p "Once upon a time" -n 128 "$@"

#!/usr/bin/env bash
# The main job: install what is missing, build, start a host server (`nnbridge serve`) on a UNIX
# socket with the default model, run the WasmEdge llama-stream example app through it as a
# guest would (`nnbridge run --nn-rpc-uri …`), streaming the story, then stop the server.
# The app is ../shared/fixtures/wasm/wasmedge-ggml-llama-stream.wasm when present, otherwise
# the equivalent C app the build makes (tests/wasm_apps/llama_stream.c). The model is resolved
# as `nnbridge generate` does: $NNBRIDGE_MODEL, the fixtures' stories260K, or a generated one.
# PROMPT and N_PREDICT can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >&2
NNB=build/src/nnbridge
PROMPT=${PROMPT:-"Once upon a time"}

model=${NNBRIDGE_MODEL:-}
if [[ -z "$model" && -f ../shared/fixtures/models/stories260K.gguf ]]; then
  model=$(realpath ../shared/fixtures/models/stories260K.gguf)
fi
if [[ -z "$model" ]]; then
  model=${XDG_CACHE_HOME:-$HOME/.cache}/nnbridge/default-synthetic-llama.gguf
  if [[ ! -f "$model" ]]; then
    echo "demo: no model given and no ../shared fixtures: generating a small synthetic llama (random weights, gibberish text) at $model" >&2
    mkdir -p "$(dirname "$model")"
    "$NNB" mkmodel -o "$model" >&2
  fi
fi
app=../shared/fixtures/wasm/wasmedge-ggml-llama-stream.wasm
[[ -f "$app" ]] || app=build/wasm_apps/llama_stream.wasm

dir=$(mktemp -d)
sock="$dir/nnbridge.sock"
"$NNB" serve --nn-rpc-uri "unix://$sock" --nn-preload "default:GGML:AUTO:$model" 2>"$dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.1; done
[[ -S "$sock" ]] || { cat "$dir/server.log" >&2; echo "demo: the server did not start" >&2; exit 1; }
echo "demo: host server on unix://$sock serving $(basename "$model"); guest app $(basename "$app")" >&2

n_predict=${N_PREDICT:-128} "$NNB" run --env "n_predict=${N_PREDICT:-128}" --nn-rpc-uri "unix://$sock" "$app" default "$PROMPT"

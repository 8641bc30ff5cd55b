#!/usr/bin/env bash
# Fuzzes the text parsers besides GGUF with libFuzzer (clang, ASan + UBSan), N seconds each
# (default 60): the chat-template renderer (src/chat) and the GBNF grammar engine with its JSON
# Schema converter (src/engine/grammar). Exits non-zero on a finding; the crashing input is left
# in build-fuzz/<target>-artifacts/. (GGUF has its own script, scripts/fuzz-gguf.sh.)
set -euo pipefail

secs="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
fixtures="${NNB_FIXTURES:-$root/../shared/fixtures}"

cmake -S "$root" -B "$build" -G Ninja -DNNB_FUZZ=ON -DNNB_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
ninja -C "$build" -j2 chat_template_fuzz gbnf_fuzz

run() {  # run TARGET DICT SEED_DIR...
  local target=$1 dict=$2
  shift 2
  local corpus="$build/$target-corpus" artifacts="$build/$target-artifacts"
  mkdir -p "$corpus" "$artifacts"
  "$build/fuzz/$target" "$corpus" "$@" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=16384 \
    -timeout=10 -dict="$root/fuzz/$dict" -artifact_prefix="$artifacts/" -print_final_stats=1
}

seeds="$build/chat-template-seeds"
mkdir -p "$seeds"
if [[ -d "$fixtures/chat-templates" ]]; then cp -f "$fixtures"/chat-templates/*.jinja "$seeds/"; fi
printf '{%% for m in messages %%}{{ m.role }}: {{ m.content | trim }}\n{%% endfor %%}' > "$seeds/minimal.jinja"
run chat_template_fuzz chat_template.dict "$seeds"

seeds="$build/gbnf-seeds"
mkdir -p "$seeds"
printf 'root ::= "a"+ [0-9]{1,3} ("x" | y)*\ny ::= [^\\n]\n' > "$seeds/1.gbnf"
printf 'root ::= object\nobject ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}"\nvalue ::= object | string | [0-9]+\nstring ::= "\\"" [a-z]* "\\""\nws ::= [ \\t\\n]*\n' > "$seeds/2.gbnf"
printf '{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x","y"]}},"required":["a"]}' > "$seeds/3.json"
run gbnf_fuzz gbnf.dict "$seeds"

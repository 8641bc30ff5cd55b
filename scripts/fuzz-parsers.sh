#!/usr/bin/env bash
# Fuzzes the text parsers besides GGUF with libFuzzer (clang, ASan + UBSan), N seconds each
# (default 60): the chat-template renderer (src/chat) and the GBNF grammar engine with its JSON
# Schema converter (src/engine/grammar). Exits non-zero on a finding; the crashing input is left
# in build-fuzz/<target>-artifacts/. (GGUF has its own script, scripts/fuzz-gguf.sh.)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/fuzz-common.sh"
fuzz_build chat_template_fuzz gbnf_fuzz

seeds="$build/chat-template-seeds"
mkdir -p "$seeds"
if [[ -d "$fixtures/chat-templates" ]]; then cp -f "$fixtures"/chat-templates/*.jinja "$seeds/"; fi
printf '{%% for m in messages %%}{{ m.role }}: {{ m.content | trim }}\n{%% endfor %%}' > "$seeds/minimal.jinja"
fuzz_run chat_template_fuzz chat_template.dict 16384 "$seeds"

seeds="$build/gbnf-seeds"
mkdir -p "$seeds"
printf 'root ::= "a"+ [0-9]{1,3} ("x" | y)*\ny ::= [^\\n]\n' > "$seeds/1.gbnf"
printf 'root ::= object\nobject ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}"\nvalue ::= object | string | [0-9]+\nstring ::= "\\"" [a-z]* "\\""\nws ::= [ \\t\\n]*\n' > "$seeds/2.gbnf"
printf '{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x","y"]}},"required":["a"]}' > "$seeds/3.json"
fuzz_run gbnf_fuzz gbnf.dict 16384 "$seeds"

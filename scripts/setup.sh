#!/usr/bin/env bash
# Installs every Debian package the build needs; with --test-tools also what only the test suite
# uses (a browser, an sshd, Node.js and the locked npm test packages). Idempotent: when everything
# is already installed it only checks (no apt-get update, no network).
#   scripts/setup.sh               the build (scripts/build.sh, so the demo, calls this)
#   scripts/setup.sh --test-tools  the build and the test tools (scripts/test.sh calls this)
set -euo pipefail
test_tools=0
[[ "${1:-}" == "--test-tools" ]] && test_tools=1

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libicu-dev libssl-dev
  clang libclang-rt-14-dev   # libFuzzer and the sanitizer runtimes
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc   # the RPC layer
  wabt                                          # the wasm interpreter (libwabt.a)
  wasi-libc lld libclang-rt-14-dev-wasm32       # building the C test apps for wasm32-wasi
  libvulkan-dev glslc mesa-vulkan-drivers       # the Vulkan device: loader + headers, shader compiler,
                                                # Mesa's lavapipe (a CPU Vulkan device the tests run on)
  libcpp-httplib-dev                            # the OpenAI-compatible HTTP API
  libcurl4-openssl-dev                          # the OpenAI backend's client of upstream servers
  libreadline-dev                               # line editing and history in `nnbridge chat`
)
TEST_PACKAGES=(
  chromium                                      # the web chat page in a real browser
  openssh-server openssh-client                 # guest-tunnel against a real sshd (the test runs its
                                                # own on 127.0.0.1; on a workstation the package also
                                                # enables ssh.service: disable it if unwanted)
)
((test_tools)) && PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present" >&2
fi

((test_tools)) || exit 0
# Node.js runs test tooling only (tests/js: the official `openai` client, playwright-core for the
# browser test); Debian's nodejs + npm when the machine has no node of its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm (test tooling)" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
# The locked test packages, once (npm ci checks them against package-lock.json's hashes).
client="$(dirname "$0")/../tests/js"
if [[ ! -f "$client/node_modules/openai/package.json" || ! -f "$client/node_modules/playwright-core/package.json" ]]; then
  echo "setup: npm ci in tests/js (test tooling)" >&2
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
fi

#!/usr/bin/env bash
# The Debian package on a clean Debian 12 with no build tools, as a VM guest gets it: builds the
# .deb, installs it with apt into a fresh minbase root (which must pull in exactly the runtime
# libraries its Depends name), and talks from inside that root to a `nnbridge serve` running
# outside it through a socket in the root's /tmp — the guest side of the README's setup.
#
# Opt-in (not part of scripts/test.sh): it needs root (debootstrap, chroot, mounts) and the
# network to the machine's Debian mirror. The minbase root is made once and cached under
# ~/.cache/nnbridge/debootstrap; every run installs into a fresh copy of it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/package-test.sh [--build DIR] [--keep] [--refresh]

  --build DIR   build tree for the package and the host-side server (default build-pkg;
                configured as Release with Ninja when missing)
  --keep        leave the test root in place (its path is printed) instead of removing it
  --refresh     make the cached minbase root again (after a Debian point release)
  -h, --help    this text

Environment: NNB_DEBIAN_MIRROR overrides the mirror (default: the first bookworm source in
/etc/apt/sources.list*, else http://deb.debian.org/debian).
EOF
}

build="build-pkg"
keep=0
refresh=0
while (($#)); do
  case "$1" in
    --build) (($# >= 2)) || { usage >&2; exit 2; }; build="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --refresh) refresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "package-test: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "package-test: needs root (debootstrap, chroot, mounts): sudo $0" >&2; exit 2; }

t_start=$SECONDS
stage() { echo "package-test: [$((SECONDS - t_start)) s] $*" >&2; }

# ---- the package
stage "building the package in $build"
[[ -f $build/CMakeCache.txt ]] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" nnbridge
rm -f "$build"/nnbridge_*.deb
(cd "$build" && cpack -G DEB --config CPackConfig.cmake >/dev/null)
arch=$(dpkg --print-architecture)
deb=$(ls "$build"/nnbridge_*_"$arch".deb)
stage "built $deb"
dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ */  depends: /' >&2

# ---- the clean Debian 12 root (cached)
mirror=${NNB_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
  # deb822 .sources (URIs: + Suites: bookworm) or one-line .list entries; not the security archive.
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
      /^URIs:/ { uri = $2 } /^Suites:/ { if ($0 ~ /[ \t]bookworm([ \t]|$)/ && uri !~ /security/) { print uri; exit } }') || true
  [[ -n $mirror ]] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" && $3 == "bookworm" && $2 !~ /security/ { print $2; exit }') || true
  [[ -n $mirror ]] || mirror=http://deb.debian.org/debian
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/nnbridge/debootstrap
base=$cache/bookworm-minbase-$arch
if ((refresh)) || [[ ! -f $base/.nnbridge-complete ]]; then
  command -v debootstrap >/dev/null || {
    stage "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  stage "debootstrap --variant=minbase bookworm from $mirror (once; cached in $base)"
  rm -rf "$base"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$base" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; echo "package-test: debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 1; }
  # Written last: an interrupted debootstrap is never taken for a finished root.
  touch "$base/.nnbridge-complete"
fi

root=$(mktemp -d /var/tmp/nnb-pkgtest.XXXXXX)
serve_pid=""
cleanup() {
  if [[ -n $serve_pid ]]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  for m in "$root/dev" "$root/proc"; do
    if mountpoint -q "$m"; then umount -l "$m" || true; fi
  done
  if ((keep)); then echo "package-test: root kept at $root" >&2; else rm -rf "$root"; fi
}
trap cleanup EXIT
stage "fresh copy of the minbase root in $root"
cp -a "$base/." "$root/"
mount --bind /dev "$root/dev"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The machine's own Debian sources (the versions the package was built against, updates and
# security included) instead of debootstrap's bare bookworm line; only Debian's own files, as
# a third-party repository's keyring is not in the root.
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  rm -f "$root/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
elif grep -qs '^deb .*debian' /etc/apt/sources.list; then
  grep '^deb .*debian' /etc/apt/sources.list >"$root/etc/apt/sources.list"
fi

# ---- install with apt, as a user would
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
cp "$deb" "$root/tmp/nnbridge.deb"
stage "apt-get install /tmp/nnbridge.deb in the root"
n_before=$(in_root dpkg-query -W -f '.\n' | wc -l)
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/nnbridge.deb >"$root/tmp/apt.log" 2>&1 ||
  { tail -30 "$root/tmp/apt.log" >&2; echo "package-test: apt could not install the package" >&2; exit 1; }
n_after=$(in_root dpkg-query -W -f '.\n' | wc -l)
stage "installed: $((n_after - n_before)) packages with their dependencies"

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
tools=$(in_root sh -c 'for t in cc gcc g++ c++ clang cmake ninja make ld; do command -v $t; done' || true)
check "no build tools in the root${tools:+ (found: $tools)}" '[[ -z $tools ]]'
check "the installed files are where they belong" \
  'in_root test -x /usr/bin/nnbridge -a -x /usr/bin/nnbridge-guest-tunnel -a -f /usr/lib/systemd/user/nnbridge.service -a -f /usr/share/doc/nnbridge/README.md'
check "no wasmedge / wasi_nn_rpcserver links (they would shadow WasmEdge)" \
  '! in_root sh -c "command -v wasmedge || command -v wasi_nn_rpcserver"'
in_root nnbridge --version | sed 's/^/  /'
check "nnbridge --version runs in the root (every library resolved)" 'in_root nnbridge --version >/dev/null'
check "nnbridge-guest-tunnel --help runs" 'in_root nnbridge-guest-tunnel --help >/dev/null'

# ---- the guest side against a server outside the root
host_bin=$build/src/nnbridge
mkdir -p "$root/tmp/nnb"
"$host_bin" mkmodel -o "$root/tmp/nnb/tiny.gguf" --seed 7 >/dev/null
"$host_bin" serve --nn-rpc-uri "unix://$root/tmp/nnb/nn.sock" --nn-preload "default:GGML:AUTO:$root/tmp/nnb/tiny.gguf" \
  --threads 2 >"$root/tmp/nnb/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 200); do grep -q "listening on" "$root/tmp/nnb/serve.log" && break; sleep 0.05; done
check "serve (outside the root) is listening" 'grep -q "listening on" "$root/tmp/nnb/serve.log"'
stage "chat and run inside the root through /tmp/nnb/nn.sock"
answer=$(in_root nnbridge chat --raw -p hi -n 8 --temp 0 --nn-rpc-uri unix:///tmp/nnb/nn.sock </dev/null | od -An -c | head -2 || true)
check "chat --raw -p hi inside the root answers through the host's server" '[[ -n ${answer//[[:space:]]/} ]]'
app=""
for a in ../shared/fixtures/wasm/wasmedge-ggml-llama-stream.wasm "$build"/wasm_apps/llama_stream.wasm build/wasm_apps/llama_stream.wasm; do
  [[ -f $a ]] && { app=$a; break; }
done
if [[ -n $app ]]; then
  cp "$app" "$root/tmp/nnb/app.wasm"
  check "nnbridge run $(basename "$app") inside the root through the host's server" \
    'in_root nnbridge run --env n_predict=8 --nn-rpc-uri unix:///tmp/nnb/nn.sock /tmp/nnb/app.wasm default "Once upon a time" >/dev/null'
else
  echo "skip nnbridge run: no llama-stream wasm app (../shared/fixtures or a build's wasm_apps/)"
fi

stage "done"
((fail == 0)) && echo "package-test: all passed" || echo "package-test: FAILED" >&2
exit "$fail"

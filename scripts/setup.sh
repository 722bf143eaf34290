#!/usr/bin/env bash
# Installs what a fresh Debian lacks to build and run modelgate: a C compiler,
# make (jemalloc) and cmake (Pingora builds zlib-ng through cmake), curl (demo), CA roots
# (upstream TLS), systemd-analyze (the test suite verifies systemd/modelgate.service), and
# procps's kill (the suite signals daemons the way systemd's unit does), util-linux's prlimit
# (the suite runs a gateway under a small file descriptor limit). Rust itself comes
# from rustup (Debian's cargo is too old).
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v make >/dev/null 2>&1 || need+=(make)   # jemalloc's build
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)   # the suite verifies the unit
# The suite signals processes with /bin/kill (bash's builtin hides its absence).
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || need+=(procps)
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)
[ -d /etc/ssl/certs ] && [ -n "$(ls -A /etc/ssl/certs 2>/dev/null)" ] || need+=(ca-certificates)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust 1.85 or newer with rustup (https://rustup.rs)." >&2
  exit 1
fi

# The real clients the tests drive (Python SDKs, Claude Code). The benchmark
# drives none of them and skips this (SETUP_SKIP_CLIENTS=1, bench/setup.sh).
[ "${SETUP_SKIP_CLIENTS:-0}" = 1 ] || "$(dirname "$0")/clients.sh"

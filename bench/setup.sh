#!/usr/bin/env bash
# Installs what the benchmark needs on Debian, if missing: wrk and nginx (the
# load generator and the reference proxy), python3 (the harness), iproute2
# (`ss`, connection counts), util-linux (`taskset`); plus the build tools of
# scripts/setup.sh. nginx must not start as a system service: the package's
# post-install step is told not to start anything (policy-rc.d), and the
# harness runs its own nginx in the foreground with a private prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build tools only: the SDKs and Claude Code the test suite drives are not needed here.
SETUP_SKIP_CLIENTS=1 scripts/setup.sh
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
[ "${#need[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  # Deny service starts for the length of the install, then remove the file.
  trap '$sudo rm -f "$policy"' EXIT
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
fi
echo "bench/setup: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null

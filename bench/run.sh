#!/usr/bin/env bash
# modelgate's benchmark, the one command: the mock provider reached directly,
# through nginx and through modelgate, side by side, then a stream soak.
# Writes bench/results/<UTC stamp>.md and prints it. See bench/README.md.
#
#   bench/run.sh --quick          # smoke test, about 2 minutes
#   bench/run.sh                  # full run, about 20 minutes
#   bench/run.sh --help           # every flag (durations, repeats, cells, soak size)
#   bench/run.sh --no-build ...   # skip `cargo build` (binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done

bench/setup.sh
if [ "$build" -eq 1 ]; then
  cargo build --release --locked -p modelgate -p mock-provider -p sse-load -p pingora-floor
fi
# The soak holds thousands of connections: each costs the proxy two sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# exec: Ctrl-C and kill reach the harness directly, which stops everything it
# started (its children die with it even on SIGKILL, via PR_SET_PDEATHSIG; only an
# nginx worker can outlive a SIGKILL: see bench/README.md).
exec python3 bench/harness.py "${args[@]+"${args[@]}"}"

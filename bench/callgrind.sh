#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: the
# stable number on a noisy machine (CPU time moves ±15 % between runs here;
# this moves well under 1 %). It does not see the kernel, so it complements
# bench/run.sh's CPU time per request, it does not replace it.
#
#   bench/callgrind.sh                 # modelgate and Pingora's stock proxy, non-stream and stream
#   bench/callgrind.sh --no-build      # binaries already in target/release
#
# For each target and body: a fresh mock provider, the proxy under callgrind
# (one worker thread), a warm-up, counters zeroed, wrk -c8 for 4 s, counters
# dumped; instructions / completed requests. Writes
# bench/results/<UTC stamp>-callgrind.md and prints it; the callgrind files
# stay in a temporary directory (its path is printed) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    *) echo "usage: bench/callgrind.sh [--no-build]" >&2; exit 2 ;;
  esac
done

bench/setup.sh
if ! command -v valgrind >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bench/callgrind: installing valgrind" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind >/dev/null
fi
if [ "$build" -eq 1 ]; then
  cargo build --release --locked -p modelgate -p mock-provider -p pingora-floor
fi

bin=target/release
work=$(mktemp -d /tmp/mg-callgrind-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
  for _ in $(seq 120); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.5
  done
  echo "bench/callgrind: nothing listens on port $1 (see $work)" >&2
  exit 1
}

python3 - "$work" <<'EOF'
import json, sys
messages = [{"role": "user", "content": "Say hello in one short sentence, please."}]
plain = {"model": "mock-small", "messages": messages}
stream = {**plain, "stream": True, "stream_options": {"include_usage": True}}
open(f"{sys.argv[1]}/non-stream.json", "w").write(json.dumps(plain))
open(f"{sys.argv[1]}/stream.json", "w").write(json.dumps(stream))
EOF

# measure TARGET BODY: prints "instructions requests"
measure() {
  local target=$1 body=$work/$2.json
  local up port out
  up=$(free_port)
  port=$(free_port)
  taskset -c 0 "$bin/mock-provider" --listen "127.0.0.1:$up" --threads 1 >/dev/null 2>&1 &
  # measure runs in $(...), a subshell: the EXIT trap never sees these pids,
  # so each is also killed here.
  local mock=$!
  pids+=("$mock")
  out=$work/$target-$2.callgrind
  local argv
  if [ "$target" = modelgate ]; then
    printf 'version: 1\nthreads: 1\nupstream_keepalive_pool_size: 256\n' >"$work/pingora.yaml"
    printf 'listen: "127.0.0.1:%s"\naccess_log: off\nproviders:\n  - { id: mock-0, type: openai-compatible, base_url: "http://127.0.0.1:%s/v1", api_key: bench-key, models: [mock-small] }\n' \
      "$port" "$up" >"$work/gateway.yaml"
    argv=("$bin/modelgate" -c "$work/pingora.yaml" -g "$work/gateway.yaml")
  else
    argv=("$bin/pingora-floor" "127.0.0.1:$port" "127.0.0.1:$up")
  fi
  RUST_LOG=warn taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${argv[@]}" >/dev/null 2>"$work/$target-$2.log" &
  local vg=$!
  pids+=("$vg")
  wait_http "$port"
  local url="http://127.0.0.1:$port/v1/chat/completions"
  BENCH_BODY_FILE=$body taskset -c 0 wrk -t1 -c8 -d2s -s bench/wrk/post.lua "$url" >/dev/null
  callgrind_control -z "$vg" >/dev/null
  local requests
  requests=$(BENCH_BODY_FILE=$body taskset -c 0 wrk -t1 -c8 -d4s -s bench/wrk/post.lua "$url" |
    sed -n 's/^WRK_RESULT .*"requests":\([0-9]*\).*/\1/p')
  callgrind_control -d "$vg" >/dev/null
  sleep 1
  kill -9 "$vg" "$mock" 2>/dev/null || true
  local dump
  dump=$(ls -t "$out".* | head -1)
  local ir
  ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$ir $requests"
}

stamp=$(date -u +%Y%m%d-%H%M%S)
report=bench/results/$stamp-callgrind.md
{
  echo "# modelgate callgrind, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo
  echo "- commit: $(git rev-parse --short HEAD)"
  echo "- command: bench/callgrind.sh $*"
  echo "- user-space instructions per completed request (valgrind callgrind), wrk -c8 for 4 s after a 2 s warm-up, one worker thread"
  echo
  echo "| body | Pingora stock proxy | modelgate | modelgate ÷ Pingora |"
  echo "|---|---|---|---|"
} >"$report"
for body in non-stream stream; do
  read -r p_ir p_n <<<"$(measure pingora "$body")"
  read -r m_ir m_n <<<"$(measure modelgate "$body")"
  python3 - "$body" "$p_ir" "$p_n" "$m_ir" "$m_n" >>"$report" <<'EOF'
import sys
body, p_ir, p_n, m_ir, m_n = sys.argv[1], *map(int, sys.argv[2:])
p, m = p_ir / p_n, m_ir / m_n
print(f"| {body} | {p:,.0f} ({p_n:,} req) | {m:,.0f} ({m_n:,} req) | {m / p:.2f}× |")
EOF
done
cat "$report"
echo "callgrind files: $work" >&2

#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: the
# stable number on a noisy machine (CPU time moves ±15 % between runs here;
# this moves well under 1 %). It does not see the kernel, so it complements
# bench/run.sh's CPU time per request, it does not replace it.
#
#   bench/callgrind.sh                 # modelgate and Pingora's stock proxy, non-stream and stream,
#                                      # and modelgate's translated streams (Anthropic provider, Responses client)
#   bench/callgrind.sh --no-build      # binaries already in $CARGO_TARGET_DIR/release (or target/release)
#
# For each target and body: a fresh mock provider, the proxy under callgrind
# (one worker thread), a warm-up, counters zeroed, wrk -c8 for 4 s, counters
# dumped; instructions / completed requests. The translated stream is the
# stream request served by an `anthropic-compatible` instance (the mock's
# /v1/messages, translated back into OpenAI chunks), modelgate only; the
# Responses stream is the same prompt as `POST /v1/responses` ("stream": true)
# to the pass-through stream's openai-compatible instance (the chat stream
# translated into Responses events), modelgate only. Both are compared with
# modelgate's pass-through stream. Writes
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

bin=${CARGO_TARGET_DIR:-target}/release
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
# A stream whose client does not ask for usage: the gateway asks for it and
# takes the usage chunk out again.
open(f"{sys.argv[1]}/stream-unasked.json", "w").write(json.dumps({**plain, "stream": True}))
responses = {"model": "mock-small", "input": messages[0]["content"], "stream": True}
open(f"{sys.argv[1]}/responses.json", "w").write(json.dumps(responses))
EOF

# measure TARGET BODY: prints "instructions requests". TARGET is pingora,
# modelgate, or modelgate-translated (its instance speaks Anthropic's format);
# BODY is non-stream, stream, or responses (a Responses stream, to /v1/responses).
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
  local argv auth=''
  if [ "$target" != pingora ]; then
    local type=openai-compatible teams='' price=''
    [ "$target" != modelgate-translated ] || type=anthropic-compatible
    if [ "$target" = modelgate-teams ]; then
      # A team key with limits and a budget never reached, a per-address
      # limit, and a priced model: every check and the cost run.
      teams='auth:\n  per_ip: { rpm: 100000000 }\n  keys:\n    - { name: bench, key: bench-team-key, rate_limit: { rpm: 100000000, tpm: 100000000000 }, budget: { usd: 1000000000, period: monthly } }\n'
      price=', price: { input: 1, output: 2 }'
      auth=bench-team-key
    fi
    printf 'version: 1\nthreads: 1\nupstream_keepalive_pool_size: 256\n' >"$work/pingora.yaml"
    printf "listen: \"127.0.0.1:%s\"\naccess_log: off\nstore: sqlite:%s\n${teams}providers:\n  - { id: mock-0, type: %s, base_url: \"http://127.0.0.1:%s/v1\", api_key: bench-key, models: [mock-small]%s }\n" \
      "$port" "$work/$target-$2.db" "$type" "$up" "$price" >"$work/gateway.yaml"
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
  # The warm-up also checks that every stream ends complete (post.lua gathers
  # the bodies then; wrk alone counts any well-framed 200 as a success).
  local end='' warm
  case "$2" in
    stream | stream-unasked) end=$'data: %[DONE%]\n\n$' ;;
    responses)
      end=$'event: response%.completed\ndata: [^\n]*\n\n$'
      url="http://127.0.0.1:$port/v1/responses"
      ;;
  esac
  export BENCH_AUTH=$auth
  warm=$(BENCH_EXPECT_END=$end BENCH_BODY_FILE=$body taskset -c 0 wrk -t1 -c8 -d2s -s bench/wrk/post.lua "$url" | grep '^WRK_RESULT ')
  if ! grep -q '"incomplete":0}' <<<"$warm"; then
    echo "bench/callgrind: $target $2: warm-up streams did not all end complete: $warm (see $work/$target-$2.log)" >&2
    kill -9 "$vg" "$mock" 2>/dev/null || true
    exit 1
  fi
  callgrind_control -z "$vg" >/dev/null
  local result requests
  result=$(BENCH_BODY_FILE=$body taskset -c 0 wrk -t1 -c8 -d4s -s bench/wrk/post.lua "$url" | grep '^WRK_RESULT ')
  callgrind_control -d "$vg" >/dev/null
  requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$result")
  # A broken setup answers errors fast: instructions per error are no figure.
  if ! grep -q '"connect":0,"read":0,"write":0,"status":0,"timeout":0' <<<"$result"; then
    echo "bench/callgrind: $target $2: wrk saw errors: $result (see $work/$target-$2.log)" >&2
    kill -9 "$vg" "$mock" 2>/dev/null || true
    exit 1
  fi
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
  if [ "$body" = stream ]; then s_ir=$m_ir s_n=$m_n; fi
done
# The stream request again, its instance anthropic-compatible: the gateway
# calls /v1/messages and translates the events. Pingora cannot; the goal is
# at most 2x modelgate's pass-through stream (the issue's limit on CPU time).
read -r t_ir t_n <<<"$(measure modelgate-translated stream)"
# The same prompt as a Responses API stream (Codex's dialect) to the
# pass-through stream's instance: each chat chunk translated into Responses
# events. Same goal.
read -r r_ir r_n <<<"$(measure modelgate responses)"
python3 - "$t_ir" "$t_n" "$r_ir" "$r_n" "$s_ir" "$s_n" >>"$report" <<'EOF'
import sys
t_ir, t_n, r_ir, r_n, s_ir, s_n = map(int, sys.argv[1:])
t, r, s = t_ir / t_n, r_ir / r_n, s_ir / s_n
print(f"| translated stream (anthropic-compatible instance) | — | {t:,.0f} ({t_n:,} req) | — |")
print(f"| Responses stream (`POST /v1/responses`, openai-compatible instance) | — | {r:,.0f} ({r_n:,} req) | — |")
print()
for what, x in (("translated stream", t), ("Responses stream", r)):
    print(f"- modelgate, {what} ÷ pass-through stream: {x / s:.2f}× "
          f"(goal ≤ 2×: {'✓' if x / s <= 2 else '✗ over'})")
EOF
# The same two requests from a team key with rate limits, a budget and a
# per-address limit, on a priced model: what keys, limits and usage
# accounting add to a request (issue 14's budget: within 10 %).
for body in non-stream stream; do
  read -r k_ir k_n <<<"$(measure modelgate-teams "$body")"
  read -r m_ir m_n <<<"$(measure modelgate "$body")"
  python3 - "$body" "$k_ir" "$k_n" "$m_ir" "$m_n" >>"$report" <<'EOF'
import sys
body, k_ir, k_n, m_ir, m_n = sys.argv[1], *map(int, sys.argv[2:])
k, m = k_ir / k_n, m_ir / m_n
print(f"- {body}: team key with limits, budget and per_ip {k:,.0f} vs open {m:,.0f} instructions: "
      f"{k / m:.3f}× (goal ≤ 1.10×: {'✓' if k / m <= 1.10 else '✗ over'})")
EOF
done
read -r u_ir u_n <<<"$(measure modelgate stream-unasked)"
python3 - "$u_ir" "$u_n" "$m_ir" "$m_n" >>"$report" <<'EOF'
import sys
u_ir, u_n, m_ir, m_n = map(int, sys.argv[1:])
u, m = u_ir / u_n, m_ir / m_n
print(f"- stream whose client did not ask for usage (asked upstream, usage chunk filtered out) "
      f"{u:,.0f} vs asked {m:,.0f} instructions: {u / m:.3f}×")
EOF
cat "$report"
echo "callgrind files: $work" >&2

#!/usr/bin/env bash
# A full round trip without any API key: the repo's mock provider on
# 127.0.0.1:9901, modelgate on 127.0.0.1:8080 in front of it, a few requests
# to show it working; then the gateway keeps serving until Ctrl-C.
# MODELGATE_PORT and MOCK_PORT choose other ports. The access log goes to
# target/demo-access.log (one JSON line per request).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p modelgate -p mock-provider
export MODELGATE_PORT="${MODELGATE_PORT:-8080}" MOCK_PORT="${MOCK_PORT:-9901}"
export DEMO_ACCESS_LOG="$PWD/target/demo-access.log"
# A fresh store each run: keys created in an earlier demo would close this
# open gateway, and the README's examples send no key.
export DEMO_STORE="$PWD/target/demo.db"
rm -f "$DEMO_STORE" "$DEMO_STORE-wal" "$DEMO_STORE-shm"
gw_conf=(-c conf/demo/pingora.yaml -g conf/demo/gateway.yaml)
base="http://127.0.0.1:${MODELGATE_PORT}"

target/release/modelgate -t "${gw_conf[@]}"
target/release/mock-provider --listen "127.0.0.1:${MOCK_PORT}" --chunks 20 --chunk-delay-ms 100 --tool-calls &
mock=$!
RUST_LOG="${RUST_LOG:-info}" target/release/modelgate "${gw_conf[@]}" &
gw=$!
trap 'kill -INT "$gw" "$mock" 2>/dev/null || true' EXIT
# Ready when *this* gateway answers /health naming the demo's instances; a
# process of ours that exited (a port in use) stops the demo with its reason.
# (An exited child stays a zombie until waited for, so `kill -0` is no test.)
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
ready=""
for _ in $(seq 100); do
  for p in "$gw" "$mock"; do
    if ! alive "$p"; then
      echo "demo: a process exited at start (is port ${MODELGATE_PORT} or ${MOCK_PORT} in use? set MODELGATE_PORT / MOCK_PORT)" >&2
      exit 1
    fi
  done
  if curl -fs "$base/health" 2>/dev/null | grep -q '"id":"mock-down"'; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "demo: $base/health is not this demo's modelgate" >&2
  exit 1
fi

show() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
show "GET /v1/models"
curl -s "$base/v1/models"; echo
show "POST /v1/chat/completions, model 'fast': mock-down refuses, mock-a serves (see x-modelgate-*)"
curl -si "$base/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"fast","messages":[{"role":"user","content":"Hello!"}]}'; echo
show "Streaming: events arrive as the provider sends them"
curl -sN "$base/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mock-small","stream":true,"messages":[{"role":"user","content":"Count"}]}'
show "POST /v1/messages (Anthropic's API, as Claude Code calls it), served by the Gemini-format instance"
curl -s "$base/v1/messages?beta=true" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"mock-gemini","max_tokens":256,"messages":[{"role":"user","content":"Hello!"}]}'; echo
show "An OpenAI client of the Anthropic-format instance: translated both ways"
curl -s "$base/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mock-claude","messages":[{"role":"user","content":"Hello!"}]}'; echo
show "An unknown model: 404 in OpenAI's error format"
curl -s "$base/v1/chat/completions" -d '{"model":"gpt-9","messages":[]}'; echo
show "GET /v1/usage: every request above, its tokens and cost (the admin key sees every key's)"
curl -s "$base/v1/usage?group_by=model" -H "Authorization: Bearer ${MODELGATE_ADMIN_KEY:-demo-admin-key-change-me}"; echo
printf '\nmodelgate is serving %s/v1 (OpenAI base URL); access log: %s. Ctrl-C stops it.\n' "$base" "$DEMO_ACCESS_LOG"
wait "$gw"

#!/usr/bin/env bash
# A full round trip without any API key: the repo's mock provider on
# 127.0.0.1:9901, modelgate on 127.0.0.1:8080 in front of it, a few requests
# to show it working; then the gateway keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p modelgate -p mock-provider
export MODELGATE_PORT="${MODELGATE_PORT:-8080}" MOCK_PORT="${MOCK_PORT:-9901}"
gw_conf=(-c conf/demo/pingora.yaml -g conf/demo/gateway.yaml)
base="http://127.0.0.1:${MODELGATE_PORT}"

target/release/modelgate -t "${gw_conf[@]}"
target/release/mock-provider --listen "127.0.0.1:${MOCK_PORT}" --chunks 5 --chunk-delay-ms 300 &
mock=$!
RUST_LOG="${RUST_LOG:-info}" target/release/modelgate "${gw_conf[@]}" &
gw=$!
trap 'kill -INT "$gw" "$mock" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done

show() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
show "GET /v1/models"
curl -s "$base/v1/models"; echo
show "POST /v1/chat/completions, model 'fast': mock-down refuses, mock-a serves (see x-modelgate-*)"
curl -si "$base/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"fast","messages":[{"role":"user","content":"Hello!"}]}'; echo
show "Streaming: events arrive as the provider sends them"
curl -sN "$base/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mock-small","stream":true,"messages":[{"role":"user","content":"Count"}]}'
show "An unknown model: 404 in OpenAI's error format"
curl -s "$base/v1/chat/completions" -d '{"model":"gpt-9","messages":[]}'; echo
printf '\nmodelgate is serving %s/v1 (OpenAI base URL). Ctrl-C stops it.\n' "$base"
wait "$gw"

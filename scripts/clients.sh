#!/usr/bin/env bash
# Installs the real clients the tests drive modelgate (and tools/mock-provider) with:
#   - the official Python SDKs pinned in tests/clients/requirements.txt (openai, anthropic,
#     google-genai), into the venv target/clients/venv;
#   - the npm CLIs pinned in tests/clients/package.json + package-lock.json (Claude Code,
#     the Codex CLI),
#     into tests/clients/node_modules (run them from tests/clients/node_modules/.bin).
# Idempotent and quick when already installed: each half is skipped while the stamp it left
# matches the hash of its pin files. Installs python3-venv and Node (Debian packages) when
# missing. Claude Code's native binary comes from an optional dependency and a postinstall
# script, so neither optional dependencies nor install scripts are turned off here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clients="$root/tests/clients"
venv="$root/target/clients/venv"

need=()
if ! command -v python3 >/dev/null 2>&1; then
  need+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)   # Debian ships venv's ensurepip separately
fi
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "clients: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Python SDKs. The stamp lives in the venv: deleting the venv reinstalls.
stamp="$venv/.requirements.sha256"
want="$(hash_of "$clients/requirements.txt")"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "clients: installing the Python SDKs into ${venv#"$root"/}" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$clients/requirements.txt"
  # A client that installed but cannot start is a failed setup, not a later test mystery
  # (importing them takes seconds: only after an install).
  "$venv/bin/python" -c 'import openai, anthropic, google.genai' ||
    { echo "clients: the Python SDKs do not import" >&2; exit 1; }
  echo "$want" >"$stamp"
fi

# npm CLIs. `npm ci` installs exactly the lockfile; the stamp lives in node_modules.
stamp="$clients/node_modules/.modelgate-stamp"
want="$(hash_of "$clients/package.json" "$clients/package-lock.json")"
if [ ! -x "$clients/node_modules/.bin/claude" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "clients: installing the npm clients into tests/clients/node_modules" >&2
  npm ci --prefix "$clients" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# Without the native binary (install scripts or optional dependencies skipped) `claude` is a
# stub that fails; --version is instant either way.
"$clients/node_modules/.bin/claude" --version >/dev/null ||
  { echo "clients: tests/clients/node_modules/.bin/claude does not run" >&2; exit 1; }

#!/usr/bin/env bash
# The whole test suite: unit tests, and the integration tests that run the
# real modelgate binary against mock providers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked

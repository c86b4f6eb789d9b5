#!/usr/bin/env bash
# Builds sagerun (debug) into ./.venv and runs every test: the Rust unit tests
# and the pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/dev-env.sh
cargo test --locked
python -m pytest "$@"

#!/usr/bin/env bash
# Builds sagerun (debug) into ./.venv and runs every test: the Rust unit tests
# and the pytest suite. Extra arguments go to pytest.
# With no arguments, the AsyncClient suites then run a second time in
# ./.venv-aio beside aiobotocore itself (it pins botocore to its own, often
# older, releases, so it cannot share ./.venv, which gets the newest boto3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/dev-env.sh
cargo test --locked
python -m pytest "$@"
if [ $# -eq 0 ]; then
    deactivate
    SAGERUN_EXTRAS=test,aio SAGERUN_VENV=.venv-aio . scripts/dev-env.sh
    python -c 'import aiobotocore' # the reference must be there, not skipped
    python -m pytest -q tests/test_async_*.py tests/test_cli_bench_drivers.py tests/test_bench_sweep.py
fi

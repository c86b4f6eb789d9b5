#!/usr/bin/env bash
# Builds sagerun optimised into ./.venv and runs the benchmarks in benches/,
# each beside botocore/boto3 on the same input in the same run. Extra
# arguments go to pytest; name bench files (e.g. benches/bench_sigv4.py) to
# run only those. Output is not captured (-s): some suites print their own
# ratio tables, and a summary of every pair comes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SAGERUN_PROFILE=release . scripts/dev-env.sh
targets=(benches/)
for arg in "$@"; do
    if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
python -m pytest "${targets[@]}" -s -p no:cacheprovider --benchmark-only \
    --benchmark-columns=min,median,mean,ops,rounds --benchmark-sort=name "$@"

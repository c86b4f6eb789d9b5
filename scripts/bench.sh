#!/usr/bin/env bash
# Builds sagerun optimised into ./.venv and runs the benchmarks in benches/,
# each beside botocore/boto3 on the same input in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
SAGERUN_PROFILE=release . scripts/dev-env.sh
python -m pytest benches/ -p no:cacheprovider --benchmark-only \
    --benchmark-columns=min,median,mean,ops,rounds --benchmark-sort=name "$@"

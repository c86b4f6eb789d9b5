#!/usr/bin/env bash
# Builds sagerun optimised into ./.venv-bench (with the `bench` extra:
# matplotlib, aiobotocore) and runs the benchmarks, each beside
# botocore/boto3/aiobotocore in the same run. A venv of its own: aiobotocore
# pins botocore (and so boto3) to its own releases, often older than the
# newest the test venv (./.venv) gets.
#   bash scripts/bench.sh                     every comparison: the pytest-benchmark
#       suites and the concurrency sweep against `sagerun serve`; writes
#       benches/results/RESULTS.md and benches/results/concurrency.png (~10 min)
#   bash scripts/bench.sh benches/bench_sigv4.py [pytest args]
#       only the bench files named, with pytest's own output and the ratio table
set -euo pipefail
cd "$(dirname "$0")/.."
SAGERUN_PROFILE=release SAGERUN_EXTRAS="${SAGERUN_EXTRAS:-test,bench}" SAGERUN_VENV=.venv-bench \
    . scripts/dev-env.sh
if [ $# -eq 0 ]; then
    exec python benches/run.py
fi
targets=(benches/)
for arg in "$@"; do
    if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
python -m pytest "${targets[@]}" -s -p no:cacheprovider --benchmark-only \
    --benchmark-columns=min,median,mean,ops,rounds --benchmark-sort=name "$@"

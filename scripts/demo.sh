#!/usr/bin/env bash
# The one command for a fresh machine: builds sagerun optimised into ./.venv
# (a few minutes the first time; later runs reuse the build) and runs
# `sagerun demo`: a local SageMaker Runtime, every operation through
# sagerun.Client, then a short bench against boto3. Extra arguments go to
# `sagerun demo` (e.g. --json, --no-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "Building sagerun (release) into ./.venv ..." >&2
SAGERUN_PROFILE=release . scripts/dev-env.sh
exec sagerun demo "$@"

# Sourced by the other scripts: makes ./.venv, installs the build tool and the
# test extras from pyproject.toml, and builds sagerun into it.
#   SAGERUN_PROFILE=release  builds optimised (benchmarks); default: debug.
#   SAGERUN_EXTRAS=test,aio  extras to install (default: test; aio adds aiobotocore,
#                            which pins an older botocore, for benches/bench_async.py;
#                            bench adds aiobotocore and matplotlib for benches/run.py).
#   SAGERUN_VENV=DIR         the virtual environment (default: .venv).
#   SKIP_BUILD=1             use the sagerun already built into it (no pip, no maturin).
# A shared cargo target directory outside the clone lets repeated runs on the
# same machine (CI included) reuse compiled dependencies.
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sagerun/target}"
VENV="${SAGERUN_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
if [ "${SKIP_BUILD:-0}" = 1 ] && python -c 'import sagerun._native' 2>/dev/null; then
    return 0 2>/dev/null || exit 0  # reuse what is installed (benches refuse a debug build)
fi
python -m pip install -q --disable-pip-version-check -U pip "maturin>=1.7,<2"
if [ "${SAGERUN_PROFILE:-debug}" = release ]; then
    maturin develop -q --release -E "${SAGERUN_EXTRAS:-test}"
else
    maturin develop -q -E "${SAGERUN_EXTRAS:-test}"
fi

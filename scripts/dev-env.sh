# Sourced by the other scripts: makes ./.venv, installs the build tool and the
# test extras from pyproject.toml, and builds sagerun into it.
#   SAGERUN_PROFILE=release  builds optimised (benchmarks); default: debug.
#   SAGERUN_EXTRAS=test,bench  the extras to install (default: test).
# A shared cargo target directory outside the clone lets repeated runs on the
# same machine (CI included) reuse compiled dependencies.
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sagerun/target}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --disable-pip-version-check -U pip "maturin>=1.7,<2"
if [ "${SAGERUN_PROFILE:-debug}" = release ]; then
    maturin develop -q --release -E "${SAGERUN_EXTRAS:-test}"
else
    maturin develop -q -E "${SAGERUN_EXTRAS:-test}"
fi

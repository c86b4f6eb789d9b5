"""Shared benchmark helpers: after the run, print for every benchmark group
how the sagerun case compares with its botocore/boto3 case (pairing rules
in _pairing.py; the ratio is of median times, robust on a busy machine)."""

from __future__ import annotations

import os

import pytest
from _pairing import Case, pair

import sagerun._native


def pytest_configure(config):
    # `scripts/test.sh` installs a debug build in place of the release one
    # (both are editable installs of the same checkout): figures from it
    # would be wrong by several times, and look plausible.
    # (getattr: an A/B run may load an older build without the flag)
    if getattr(sagerun._native, "DEBUG_BUILD", False) and os.environ.get("SAGERUN_BENCH_DEBUG") != "1":
        raise pytest.UsageError(
            "sagerun is a debug build here: benchmarks need `bash scripts/bench.sh ...` "
            "(release build into ./.venv-bench); SAGERUN_BENCH_DEBUG=1 runs them anyway"
        )


def _stats(bench):
    stats = bench.stats
    return getattr(stats, "stats", stats)  # pytest-benchmark wraps stats in a Metadata object


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    cases = [Case(b.name, b.group or b.name, _stats(b).median, dict(b.extra_info)) for b in session.benchmarks]
    rows = []
    for p in pair(cases):
        rate = f"{1 / p.ours_time:,.0f} vs {1 / p.ref_time:,.0f} {p.unit}/s" if p.unit else ""
        rows.append(f"  {p.group:<40} {p.ratio:8.1f}x faster than {p.reference}   {rate}")
    if rows:
        terminalreporter.write_sep("-", "sagerun vs reference (ratio of median times)")
        for row in rows:
            terminalreporter.write_line(row)

"""Shared benchmark helpers: after the run, print for every benchmark group
how the sagerun case compares with its botocore/boto3 case.

Convention: a group holds one case whose name contains "sagerun" and one
whose name contains "botocore" (or "boto3"); the ratio is of their median times (robust on a busy machine).
A case may put a unit count in ``extra_info["units"]`` and its name in
``extra_info["unit"]`` (e.g. 20000 "events") to get throughput too.
"""

from __future__ import annotations

REFERENCES = ("botocore", "boto3")


def _stats(bench):
    stats = bench.stats
    return getattr(stats, "stats", stats)  # pytest-benchmark wraps stats in a Metadata object


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, dict[str, object]] = {}
    for bench in session.benchmarks:
        kind = "sagerun" if "sagerun" in bench.name else next((r for r in REFERENCES if r in bench.name), None)
        if kind:
            groups.setdefault(bench.group or bench.name, {})[kind] = bench
    rows = []
    for group, cases in sorted(groups.items()):
        ours = cases.get("sagerun")
        ref_name = next((r for r in REFERENCES if r in cases), None)
        if ours is None or ref_name is None:
            continue
        ref = cases[ref_name]
        ours_mean, ref_mean = _stats(ours).median, _stats(ref).median
        units = ours.extra_info.get("units")
        unit = ours.extra_info.get("unit", "units")
        rate = (f"{units / ours_mean:,.0f} vs {units / ref_mean:,.0f} {unit}/s" if units else "")
        rows.append(f"  {group:<40} {ref_mean / ours_mean:8.1f}x faster than {ref_name}   {rate}")
    if rows:
        terminalreporter.write_sep("-", "sagerun vs reference (ratio of median times)")
        for row in rows:
            terminalreporter.write_line(row)

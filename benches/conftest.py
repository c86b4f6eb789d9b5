"""Shared benchmark helpers: after the run, print for every benchmark group
how the sagerun case compares with its botocore/boto3 case.

Convention: a group holds one case whose name contains "sagerun" and one
whose name contains "botocore" (or "boto3", or "python" for a plain-Python
version); the ratio is of their median times (robust on a busy machine).
A case may put the units one round holds in ``extra_info["units"]`` and their name in
``extra_info["unit"]`` (e.g. 20000 "events"): the ratio is then of the median time
per unit (so the two cases may do different amounts of work per round), and
throughput is printed too.
"""

from __future__ import annotations

# A plain-Python implementation of the same helper counts as a reference too;
# aiobotocore is the async clients' reference (named before "botocore", which it contains).
REFERENCES = ("aiobotocore", "botocore", "boto3", "python")


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
        # Cases may do different amounts of work per round (a fast client
        # gets more requests per round to time them well): compare time per
        # unit when both say how many units a round holds.
        units = ours.extra_info.get("units")
        ref_units = ref.extra_info.get("units", units)
        unit = ours.extra_info.get("unit", "units")
        ours_time = _stats(ours).median / (units or 1)
        ref_time = _stats(ref).median / (ref_units or 1)
        rate = f"{1 / ours_time:,.0f} vs {1 / ref_time:,.0f} {unit}/s" if units else ""
        rows.append(f"  {group:<40} {ref_time / ours_time:8.1f}x faster than {ref_name}   {rate}")
    if rows:
        terminalreporter.write_sep("-", "sagerun vs reference (ratio of median times)")
        for row in rows:
            terminalreporter.write_line(row)

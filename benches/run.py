"""The one benchmark entry point: every comparison in one run, written to
benches/results/RESULTS.md and benches/results/concurrency.png.

    bash scripts/bench.sh                 # release build, then this script
    python benches/run.py [--quick] [--no-micro] [--no-sweep] [--out DIR] [--seconds S]

1. Micro and client suites: the pytest-benchmark files in benches/
   (sagerun beside botocore/boto3 on the same input), paired by _pairing.py.
2. End to end: successful requests/s against concurrency (1 to 256) for
   sagerun (threads, AsyncClient, invoke_endpoint_many), boto3 (threads)
   and aiobotocore (asyncio tasks), all against one ``sagerun serve`` in a
   separate process (sagerun._cli.sweep, the load engine of ``sagerun bench``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from typing import List, Optional, Sequence

from _pairing import Case, Pair, pair

from sagerun import _native
from sagerun._cli.bench_clients import ClientSpec
from sagerun._cli.sweep import CONCURRENCIES, SERIES, Point, Series, plot, served, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL_JSON = b'{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'
#: Each sagerun series beside the reference it is compared with in the table.
SWEEP_PAIRS = (("sagerun", "threads", "boto3", "threads"),
               ("sagerun", "async", "aiobotocore", "async"),
               ("sagerun", "many", "boto3", "threads"))
TABLE_CONCURRENCIES = (1, 16, 256)


def run_micro(pytest_args: Sequence[str]) -> "tuple[List[Pair], List[Case]]":
    """The pytest-benchmark suites in a child process: their paired medians,
    and every case (some, e.g. the wrk ceiling, have no pair)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "benchmarks.json")
        command = [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider",
                   "--benchmark-only", f"--benchmark-json={report}", *pytest_args]
        print("$ " + " ".join(command), flush=True)
        code = subprocess.call(command, cwd=os.path.dirname(HERE))
        if code != 0:
            raise SystemExit(f"the benchmark suites failed (exit {code})")
        with open(report, encoding="utf-8") as f:
            data = json.load(f)
    cases = [Case(b["name"], b.get("group") or b["name"], b["stats"]["median"], b.get("extra_info") or {})
             for b in data["benchmarks"]]
    return pair(cases), cases


def run_sweep(concurrencies: Sequence[int], seconds: float) -> List[Point]:
    def show(p: Point) -> None:
        figure = p.skipped or f"{p.ok_per_s or 0:>9,.0f} requests/s ({p.ok} ok, {p.failed} failed)"
        print(f"  {p.series.label:<40} c={p.concurrency:<4} {figure}", flush=True)

    request = {"EndpointName": "echo", "Body": SMALL_JSON, "ContentType": "application/json"}
    with served({"echo": "echo"}) as url:
        print(f"sweep against sagerun serve at {url} (a separate process)", flush=True)
        spec = ClientSpec(region_name="us-east-1", endpoint_url=url, aws_access_key_id="AKIDBENCH",
                          aws_secret_access_key="bench-secret", max_attempts=1)
        return sweep(SERIES, concurrencies, spec, request, seconds, on_point=show)


# -- RESULTS.md ------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _figure(seconds_per_unit: float, unit: Optional[str]) -> str:
    return f"{1 / seconds_per_unit:,.0f} {unit}/s" if unit else _duration(seconds_per_unit)


def micro_rows(pairs: Sequence[Pair]) -> List[str]:
    rows = []
    for p in pairs:
        rows.append(f"| {p.group} | {_figure(p.ours_time, p.unit)} | {p.reference}: "
                    f"{_figure(p.ref_time, p.unit)} | {p.ratio:.1f}x |")
        for key, ours in sorted(p.ours.extra_info.items()):  # CPU figures the suites measured
            theirs = p.theirs.extra_info.get(key)
            if "cpu" in key and isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and ours:
                rows.append(f"| {p.group}: {key} | {ours:,.1f} | {p.reference}: {theirs:,.1f} | "
                            f"{theirs / ours:.1f}x less CPU |")
    return rows


def unpaired_rows(pairs: Sequence[Pair], cases: Sequence[Case]) -> List[str]:
    """Cases without a sagerun/reference pair that report a rate (e.g. what
    wrk gets from the same server: the ceiling for any client)."""
    paired = {p.group for p in pairs}
    return [f"| {c.group}: {c.name} | {c.extra_info['rps']:,.0f} requests/s |"
            for c in cases if c.group not in paired and isinstance(c.extra_info.get("rps"), (int, float))]


def _find(points: Sequence[Point], client: str, driver: str, concurrency: int) -> Optional[Point]:
    return next((p for p in points if (p.series.client, p.series.driver, p.concurrency)
                 == (client, driver, concurrency)), None)


def _label(client: str, driver: str) -> str:
    return next(s.label for s in SERIES if (s.client, s.driver) == (client, driver))


def sweep_rows(points: Sequence[Point]) -> List[str]:
    rows = []
    measured = sorted({p.concurrency for p in points})
    for c in [c for c in TABLE_CONCURRENCIES if c in measured] or measured[-1:]:
        for ours_client, ours_driver, ref_client, ref_driver in SWEEP_PAIRS:
            ours, ref = _find(points, ours_client, ours_driver, c), _find(points, ref_client, ref_driver, c)
            if ours is None or ref is None or ours.skipped:
                continue  # a skipped series is noted below the table
            case = f"InvokeEndpoint, concurrency {c}: {_label(ours_client, ours_driver)}"
            ref_label = _label(ref_client, ref_driver)
            ratio = (f"{ours.ok_per_s / ref.ok_per_s:.1f}x" if ours.ok_per_s and ref.ok_per_s else "-")
            rows.append(f"| {case} | {_rate(ours)} | {ref_label}: {_rate(ref)} | {ratio} |")
            ours_cpu, ref_cpu = _cpu_us(ours), _cpu_us(ref)
            if ours_cpu and ref_cpu:
                rows.append(f"| {case}: client CPU per request | {ours_cpu:,.0f} µs | {ref_label}: "
                            f"{ref_cpu:,.0f} µs | {ref_cpu / ours_cpu:.1f}x less CPU |")
    return rows


def _cpu_us(p: Point) -> Optional[float]:
    """Process CPU (every thread of the client's process) per request."""
    return p.cpu_seconds / p.requests * 1e6 if p.requests and not p.skipped else None


def _rate(p: Point) -> str:
    if p.skipped:
        return f"skipped: {p.skipped}"
    text = f"{p.ok_per_s or 0:,.0f} requests/s"
    return text + (f" ({p.failed} failed)" if p.failed else "")


def all_points_table(points: Sequence[Point]) -> List[str]:
    series: List[Series] = list(dict.fromkeys(p.series for p in points))
    concurrencies = sorted({p.concurrency for p in points})
    lines = ["| concurrency | " + " | ".join(s.label for s in series) + " |",
             "|---:|" + "---:|" * len(series)]
    for c in concurrencies:
        cells = []
        for s in series:
            p = next(p for p in points if p.series == s and p.concurrency == c)
            cells.append("skipped" if p.skipped else f"{p.ok_per_s or 0:,.0f}" + (f" ({p.failed} failed)" if p.failed else ""))
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return lines


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = ", ".join(f"{n} {_version(n)}" for n in ("sagerun", "botocore", "boto3", "aiobotocore"))
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs; "
            f"Python {platform.python_version()}; {versions}")


def write_results(out: str, command: str, pairs: Sequence[Pair], cases: Sequence[Case],
                  points: Sequence[Point], seconds: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# sagerun benchmark results", "",
             f"Generated by `{command}` on {now}.", "",
             f"Machine: {machine()}.", "",
             "Every figure is measured in the same run beside the reference on the same input; "
             "the ratios are what to compare across machines (a shared machine gives ±20%). "
             "Ratio: how many times faster sagerun was (the reference's time over sagerun's, or "
             "sagerun's rate over the reference's); above 1, sagerun was faster.", ""]
    header = ["| case | sagerun | reference | ratio |", "|---|---|---|---|"]
    if pairs:
        lines += ["## Micro and client suites (pytest-benchmark, median of rounds)", "", *header,
                  *micro_rows(pairs), ""]
    others = unpaired_rows(pairs, cases)
    if others:
        lines += ["Figures without a pair:", "", "| case | rate |", "|---|---|", *others, ""]
    if points:
        lines += ["## End to end: requests/s against concurrency", "",
                  "Small JSON InvokeEndpoint calls against `sagerun serve` (echo model, signatures not "
                  "checked, 2 server threads) in a separate process on the same machine; each point "
                  f"is the median of 3 loads of about {seconds:g} s each, after a warm-up. Concurrency is the number of threads "
                  "sharing one client, of asyncio tasks sharing one async client, or "
                  "`invoke_endpoint_many`'s `concurrency`. Client and server share the CPUs, so a "
                  "cheaper client leaves more for the server.", "",
                  "![requests/s against concurrency](concurrency.png)", "", *header,
                  *sweep_rows(points), "", "All points (successful requests/s):", "",
                  *all_points_table(points), ""]
        skipped = {p.series.label: p.skipped for p in points if p.skipped}
        for label, reason in skipped.items():
            lines.append(f"- {label}: skipped ({reason}).")
        if skipped:
            lines.append("")
    path = os.path.join(out, "RESULTS.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="where RESULTS.md and the plot go")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="seconds per load; a sweep point is the median of 3 (default 1.5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: concurrency 1 and 4, short points")
    parser.add_argument("--no-micro", action="store_true", help="skip the pytest-benchmark suites")
    parser.add_argument("--no-sweep", action="store_true", help="skip the concurrency sweep")
    parser.add_argument("--no-plot", action="store_true", help="write RESULTS.md only (no matplotlib)")
    parser.add_argument("--command", default="bash scripts/bench.sh", help=argparse.SUPPRESS)
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for the pytest-benchmark run")
    args = parser.parse_args(argv)
    if _native.DEBUG_BUILD and not args.quick and os.environ.get("SAGERUN_BENCH_DEBUG") != "1":
        parser.error("sagerun is a debug build here: run `bash scripts/bench.sh` (release build "
                     "into ./.venv-bench); SAGERUN_BENCH_DEBUG=1 runs anyway")

    os.makedirs(args.out, exist_ok=True)
    concurrencies = (1, 4) if args.quick else CONCURRENCIES
    seconds = 0.2 if args.quick else args.seconds
    pairs, cases = ([], []) if args.no_micro else run_micro(args.pytest_args)
    points = [] if args.no_sweep else run_sweep(concurrencies, seconds)
    if points and not args.no_plot:
        png = os.path.join(args.out, "concurrency.png")
        plot(points, png, title=f"sagerun vs boto3/aiobotocore, InvokeEndpoint against sagerun serve "
                                f"({os.cpu_count()} CPUs, {datetime.date.today()})")
        print(f"wrote {png}")
    print(f"wrote {write_results(args.out, args.command, pairs, cases, points, seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

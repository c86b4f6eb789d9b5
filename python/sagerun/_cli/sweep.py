"""A throughput sweep: requests/s against concurrency for several clients
and drivers, against a ``sagerun serve`` running in a separate process.
``benches/run.py`` runs it for the README's plot; it reuses the load engine
of ``sagerun bench`` (:mod:`sagerun._cli.bench_load`), nothing of its own.

    with served({"echo": "echo"}) as url:
        points = sweep(SERIES, [1, 2, 4], ClientSpec(endpoint_url=url, ...), request)
    plot(points, "concurrency.png", title="...")
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from sagerun._cli.bench_clients import ClientSpec, open_load, unavailable
from sagerun._cli.bench_load import DRIVERS, run_load

__all__ = ["Series", "Point", "SERIES", "served", "sweep", "measure", "plot", "CONCURRENCIES"]

CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Series:
    """One line of the plot: a client under a driver."""

    label: str
    client: str
    driver: str


SERIES = (
    Series("sagerun, threads sharing one Client", "sagerun", "threads"),
    Series("sagerun.AsyncClient, asyncio tasks", "sagerun", "async"),
    Series("sagerun Client.invoke_endpoint_many", "sagerun", "many"),
    Series("boto3, threads sharing one client", "boto3", "threads"),
    Series("aiobotocore, asyncio tasks", "aiobotocore", "async"),
)


@dataclass
class Point:
    series: Series
    concurrency: int
    requests: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    skipped: Optional[str] = None  # why the series could not run

    @property
    def ok_per_s(self) -> Optional[float]:
        return self.ok / self.seconds if self.seconds > 0 and self.ok else None


_LISTENING = re.compile(r"listening on (\S+)")


@contextmanager
def served(endpoints: Mapping[str, str], verify_signatures: bool = False, workers: int = 2,
           start_timeout: float = 30.0) -> Iterator[str]:
    """``sagerun serve`` in a child process on a free port; yields its URL.
    Stopped with SIGTERM at the end (killed if it does not stop in time)."""
    command = [sys.executable, "-m", "sagerun.cli", "serve", "--port", "0", "--workers", str(workers)]
    for name, model in endpoints.items():
        command += ["--endpoint", f"{name}={model}"]
    if not verify_signatures:
        command.append("--no-verify-signatures")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield _wait_for_url(proc, lines, start_timeout)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_for_url(proc: "subprocess.Popen[str]", lines: "queue.Queue[Optional[str]]",
                  timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen: List[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"sagerun serve did not start within {timeout:g} s: {''.join(seen)!r}")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"sagerun serve exited ({proc.wait()}): {''.join(seen)!r}")
        seen.append(line)
        match = _LISTENING.search(line)
        if match:
            return match.group(1)


def measure(series: Series, concurrency: int, spec: ClientSpec, request: Dict[str, Any],
            seconds: float, max_requests: int = 200_000) -> Point:
    """One point: a short load to warm up and estimate the rate, then a load
    sized to last about ``seconds``."""
    point = Point(series, concurrency)
    point.skipped = unavailable(series.client, series.driver)
    if point.skipped is not None:
        return point
    driver = DRIVERS[series.driver]
    spec = replace(spec, concurrency=concurrency)
    with open_load(series.client, series.driver, spec, request) as load:
        warm = run_load(driver, load, max(2 * concurrency, 20), concurrency)
        rate = warm.completed / warm.seconds if warm.seconds > 0 else 0.0
        requests = int(min(max(rate * seconds, 2 * concurrency, 20), max_requests))
        recorder = run_load(driver, load, requests, concurrency)
    point.requests, point.ok, point.failed = recorder.completed, recorder.ok, recorder.failures
    point.seconds, point.cpu_seconds = recorder.seconds, recorder.cpu_seconds
    return point


def sweep(series: Sequence[Series], concurrencies: Sequence[int], spec: ClientSpec,
          request: Dict[str, Any], seconds: float = 2.0,
          on_point: Optional[Callable[[Point], None]] = None) -> List[Point]:
    """Every series at every concurrency (a series that cannot run here is
    one skipped point per concurrency, with the reason)."""
    points: List[Point] = []
    for s in series:
        for c in concurrencies:
            point = measure(s, c, spec, request, seconds)
            points.append(point)
            if on_point is not None:
                on_point(point)
    return points


def plot(points: Sequence[Point], path: str, title: str) -> None:
    """requests/s (successful) against concurrency, log-log, one line per
    series; needs matplotlib (``pip install 'sagerun[bench]'``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_series: Dict[Series, List[Point]] = {p.series: [] for p in points}
    for p in points:
        if p.ok_per_s is not None:
            by_series[p.series].append(p)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for index, (s, measured) in enumerate(by_series.items()):
        if not measured:
            continue  # skipped here; its colour stays its own
        style = "-" if s.client == "sagerun" else "--"
        ax.plot([p.concurrency for p in measured], [p.ok_per_s or 0.0 for p in measured], style,
                marker="o", color=f"C{index}", label=s.label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    concurrencies = sorted({p.concurrency for p in points})
    ax.set_xticks(concurrencies)
    ax.set_xticklabels([str(c) for c in concurrencies])
    ax.set_xlabel("concurrency (threads, asyncio tasks or invoke_endpoint_many's limit)")
    ax.set_ylabel("successful requests/s")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

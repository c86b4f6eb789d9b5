"""The drivers of `sagerun bench` beyond threads (asyncio tasks,
invoke_endpoint_many), `--compare aiobotocore`, and the rich output. The
loads run as real subprocesses against a local runtime whose model
container counts what really arrived; AsyncClient and invoke_endpoint_many
are checked when this build has them, else the clear refusal is."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, List

import pytest

import sagerun
from sagerun._cli import bench
from sagerun._cli.bench_progress import RichProgress
from test_cli_bench import bench_json, check_latencies, run_bench

HAS_ASYNC = hasattr(sagerun, "AsyncClient")
HAS_MANY = hasattr(sagerun.Client, "invoke_endpoint_many")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def counted(local_runtime, fake_container):
    """A runtime whose "model" endpoint forwards to a container recording every request."""
    container = fake_container(lambda req: (200, {"Content-Type": "application/json"}, b'{"ok": 1}'))
    return local_runtime({"model": {"model": "proxy", "url": container.url}}), container


# -- the drivers themselves, with fake loads ---------------------------------------------

class Peak:
    def __init__(self) -> None:
        self.running = self.peak = self.calls = 0

    def enter(self) -> None:
        self.running += 1
        self.calls += 1
        self.peak = max(self.peak, self.running)


def test_asyncio_driver_runs_each_request_once_with_bounded_concurrency():
    peak = Peak()

    @asynccontextmanager
    async def opener() -> AsyncIterator[Any]:
        async def call() -> None:
            peak.enter()
            await asyncio.sleep(0.001)  # let the other tasks in
            peak.running -= 1

        yield call

    recorder = bench.run_load(bench.run_asyncio, opener, 57, 5)
    assert peak.calls == 57 and recorder.completed == 57 and len(recorder.latencies) == 57
    assert peak.peak == 5  # the sleep lets every task in, never more


def test_asyncio_driver_counts_failures_and_stops_on_a_fatal_error():
    from botocore.exceptions import NoRegionError

    calls: List[int] = []

    @asynccontextmanager
    async def opener() -> AsyncIterator[Any]:
        async def call() -> None:
            calls.append(1)
            if len(calls) <= 3:
                raise ValueError("ordinary failure")
            raise NoRegionError()

        yield call

    with pytest.raises(NoRegionError):
        bench.run_load(bench.run_asyncio, opener, 1000, 1)
    assert len(calls) == 4  # stopped at the first fatal error


def test_many_driver_records_outcomes_in_order_and_closes_the_fan_out():
    closed = threading.Event()
    seen: List[int] = []

    def fan_out(requests: int, concurrency: int) -> Any:
        assert concurrency == 7
        try:
            for i in range(requests):
                seen.append(i)
                yield KeyError("x") if i % 4 == 0 else None
        finally:
            closed.set()

    recorder = bench.run_load(bench.run_many, fan_out, 10, 7)
    assert (recorder.ok, recorder.failures, dict(recorder.errors)) == (7, 3, {"KeyError": 3})
    assert recorder.latencies == []  # a fan-out does not time single requests
    assert closed.is_set()


def test_many_driver_stops_early_on_a_fatal_error():
    from botocore.exceptions import ParamValidationError

    closed = threading.Event()

    def fan_out(requests: int, concurrency: int) -> Any:
        try:
            yield None
            yield ParamValidationError(report="bad")
            yield None
        finally:
            closed.set()

    with pytest.raises(ParamValidationError):
        bench.run_load(bench.run_many, fan_out, 3, 2)
    assert closed.is_set()


def test_rich_progress_bar_on_a_terminal():
    from rich.console import Console

    terminal = io.StringIO()

    def driver(call: Any, requests: int, concurrency: int, recorder: bench.Recorder) -> None:
        recorder.succeeded(0.001, None)
        recorder.failed("ModelError")
        deadline = time.monotonic() + 10
        while "2/3" not in terminal.getvalue():  # the bar redraws from the recorder
            assert time.monotonic() < deadline, terminal.getvalue()
            time.sleep(0.01)

    console = Console(file=terminal, force_terminal=True, width=100)
    recorder = bench.run_load(driver, None, 3, 1, RichProgress("sagerun", 3, console, interval=0.01))
    text = ANSI.sub("", terminal.getvalue())
    assert "sagerun" in text and "2/3" in text and "1 failed" in text
    assert recorder.completed == 2


# -- sagerun bench --driver async|many, --compare aiobotocore --------------------------------

@pytest.mark.parametrize("driver, available, missing", [
    ("async", HAS_ASYNC, "sagerun.AsyncClient is not in this build"),
    ("many", HAS_MANY, "invoke_endpoint_many is not in this build"),
])
def test_driver_sends_every_request(counted, driver, available, missing):
    rt, container = counted
    args = ("model", "-n", "30", "-c", "8", "--driver", driver, "--body", '{"n": 1}')
    if not available:
        proc = run_bench(rt, *args, expect=2)
        assert missing in proc.stderr and container.requests == []
        return
    summary = bench_json(rt, *args)
    assert len(container.requests) == 30
    assert {r["body"] for r in container.requests} == {b'{"n": 1}'}
    result = summary["clients"]["sagerun"]
    assert (summary["driver"], result["driver"]) == (driver, driver)
    assert (result["requests"], result["ok"], result["failed"]) == (30, 30, 0)
    if driver == "async":
        check_latencies(result["latency_ms"])


@pytest.mark.skipif(not HAS_ASYNC, reason="sagerun.AsyncClient is not in this build yet")
def test_async_driver_reads_streams_to_the_end(local_runtime):
    rt = local_runtime({"llm": {"model": "tokens", "text": "a b c d", "parts": 4}})
    result = bench_json(rt, "llm", "--stream", "--driver", "async", "-n", "12", "-c", "4")["clients"]["sagerun"]
    assert (result["ok"], result["failed"]) == (12, 0)
    check_latencies(result["first_event_ms"])


def test_many_driver_refuses_streams(counted):
    rt, container = counted
    proc = run_bench(rt, "model", "--stream", "--driver", "many", "-n", "3", expect=2)
    assert "not response streams" in proc.stderr or "invoke_endpoint_many is not in this build" in proc.stderr
    assert container.requests == []


def test_thread_concurrency_is_capped_but_not_for_asyncio(counted):
    rt, container = counted
    proc = run_bench(rt, "model", "-n", "3", "-c", "2000", expect=2)
    assert "at most 1024 with threads" in proc.stderr
    if HAS_ASYNC:
        bench_json(rt, "model", "-n", "3", "-c", "2000", "--driver", "async")
        assert len(container.requests) == 3


def test_compare_aiobotocore_runs_the_same_load_through_it(counted):
    pytest.importorskip("aiobotocore")
    rt, container = counted
    summary = bench_json(rt, "model", "-n", "12", "-c", "4", "--compare", "aiobotocore")
    assert len(container.requests) == 24  # 12 through each client
    aio = summary["clients"]["aiobotocore"]
    assert aio["driver"] == "async"
    assert (aio["requests"], aio["ok"], aio["failed"]) == (12, 12, 0)
    check_latencies(aio["latency_ms"])
    assert summary["ratios"]["requests/s"] == pytest.approx(
        summary["clients"]["sagerun"]["requests_per_s"] / aio["requests_per_s"], rel=0.02)


def test_rich_table_when_forced_onto_a_pipe(local_runtime, monkeypatch):
    """FORCE_COLOR (rich's convention) draws the table on a pipe: the same
    counts as the plain table, in box-drawn cells."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "140")
    rt = local_runtime({"broken": {"model": "error", "code": "ModelNotReadyException"}})
    out = run_bench(rt, "broken", "-n", "6", "-c", "3", "--compare", "boto3", "--max-attempts", "1",
                    expect=1).stdout
    assert "\x1b[" in out  # coloured
    rows = {}
    for line in ANSI.sub("", out).splitlines():
        cells = [c.strip() for c in re.split("[│┃]", line)[1:-1]]
        if cells:
            rows[cells[0]] = cells[1:]
    assert rows[""] == ["sagerun", "boto3", "ratio"]
    assert rows["ModelNotReadyException"][:2] == ["6", "6"]
    assert rows["failed"][:2] == ["6", "6"] and rows["ok"][:2] == ["0", "0"]


def test_plain_output_when_rich_is_turned_off(local_runtime, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("SAGERUN_PLAIN", "1")
    rt = local_runtime({"broken": {"model": "error", "code": "ModelError"}})
    out = run_bench(rt, "broken", "-n", "2", "-c", "1", "--max-attempts", "1", expect=1).stdout
    assert "\x1b[" not in out and "│" not in out
    assert out.splitlines()[1].split() == ["sagerun"]


def test_fan_out_load_reads_each_body_and_stops_the_batch_when_left_early():
    """What the many driver gets from Client.invoke_endpoint_many (a stand-in
    with its documented contract: results in input order, exceptions in
    place): None per body read, the exception otherwise; leaving early
    closes the batch."""
    from sagerun._cli.bench_clients import _fan_out

    reads: List[int] = []
    closed = threading.Event()

    class Body:
        def __init__(self, i: int) -> None:
            self.i = i

        def read(self) -> bytes:
            reads.append(self.i)
            if self.i == 2:
                raise ConnectionError("cut")
            return b"ok"

    class Client:
        def invoke_endpoint_many(self, requests: Any, concurrency: int, return_exceptions: bool) -> Any:
            assert return_exceptions and concurrency == 3
            try:
                for i, request in enumerate(requests):
                    assert request == {"EndpointName": "e"}
                    yield KeyError("failed") if i == 1 else {"Body": Body(i)}
            finally:
                closed.set()

    outcomes = _fan_out(Client(), {"EndpointName": "e"})(5, 3)
    first = [next(outcomes) for _ in range(3)]
    assert first[0] is None and isinstance(first[1], KeyError) and isinstance(first[2], ConnectionError)
    assert reads == [0, 2] and not closed.is_set()
    outcomes.close()
    assert closed.is_set()

"""sagerun.Client beside boto3's sagemaker-runtime client, same server, same run.

The LocalRuntime runs in a separate process (a multiprocessing child), so the
CPU measured here is the client's alone. Run with ``bash scripts/bench.sh
benches/bench_client.py`` (release build); the ratio table is printed at
the end and each case's figures are in pytest-benchmark's extra_info.

When ``wrk`` is installed, the table also shows the server's ceiling for the
one-connection cases: ``wrk -t1 -c1`` reading the same responses from the same
server build (a second child that skips signature checks, as wrk cannot sign).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional

import boto3
import pytest
from botocore.config import Config

import sagerun

SMALL_JSON = b'{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'
BIG_PART = 64 * 1024
ENDPOINTS = {
    "echo": {"model": "echo"},
    "tokens200": {"model": "tokens", "text": "tok " * 200, "parts": 200, "format": "raw"},
    "big": {"model": "tokens", "text": "x" * (BIG_PART * 32), "parts": 32, "format": "raw"},
}
CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=32)
RESULTS: Dict[str, Dict[str, float]] = {}


def _serve(endpoints: Dict[str, Any], conn: Any, verify_signatures: bool = True) -> None:
    from sagerun.local import LocalRuntime

    with LocalRuntime(endpoints, worker_threads=2, verify_signatures=verify_signatures) as rt:
        conn.send(rt.client_kwargs())
        conn.recv()  # wait for the stop word


class _ServerChild:
    """A LocalRuntime in a spawned child process."""

    def __init__(self, verify_signatures: bool = True):
        ctx = multiprocessing.get_context("spawn")
        self._parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(ENDPOINTS, child, verify_signatures), daemon=True)
        self._proc.start()
        self.kwargs: Dict[str, str] = self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._proc.join(10)


@pytest.fixture(scope="module")
def server_kwargs():
    server = _ServerChild()
    yield server.kwargs
    server.stop()


@pytest.fixture(scope="module")
def clients(server_kwargs):
    return {
        "sagerun": sagerun.Client(config=CONFIG, **server_kwargs),
        "boto3": boto3.client("sagemaker-runtime", config=CONFIG, **server_kwargs),
    }


def record(case: str, who: str, **figures: float) -> None:
    RESULTS.setdefault(case, {}).update({f"{who}:{k}": v for k, v in figures.items()})


def measure(fn: Callable[[], Any], seconds: float = 2.0) -> "tuple[int, float, float]":
    """Runs fn repeatedly for about `seconds`: (calls, wall, process CPU)."""
    fn()
    calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        fn()
        calls += 1
    return calls, time.perf_counter() - wall0, time.process_time() - cpu0


@contextlib.contextmanager
def cpus_kept_busy() -> Iterator[None]:
    """One lowest-priority (nice 19) spinning process per CPU while the body
    runs. On a VM an idle vCPU halts, and waking it (the server's on our
    request, ours on its answer) costs tens of µs, billed partly to the
    waker: a one-connection client that waits ~30 µs per call pays that on
    every call (wrk -c1 too), boto3 hardly notices. The spinners keep the
    vCPUs running without taking CPU from anything of normal priority, so
    this shows the clients' own cost beside the idle-machine figure."""
    spinners = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.2)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def one_thread_case(benchmark: Any, client: Any, who: str, case: str) -> None:
    def call():
        return client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON,
                                      ContentType="application/json")["Body"].read()

    assert call() == SMALL_JSON
    calls, wall, cpu = measure(call)
    record(case, who, rps=calls / wall, cpu_us=cpu / calls * 1e6)
    benchmark.extra_info.update(rps=calls / wall, cpu_us_per_call=cpu / calls * 1e6)
    benchmark(call)


@pytest.mark.benchmark(group="client-invoke-1-thread")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_invoke_small_json_one_thread(benchmark, clients, who):
    one_thread_case(benchmark, clients[who], who, "invoke 1 thread")


@pytest.mark.benchmark(group="client-invoke-1-thread-cpus-kept-busy")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_invoke_small_json_one_thread_cpus_kept_busy(benchmark, clients, who):
    with cpus_kept_busy():
        one_thread_case(benchmark, clients[who], who, "invoke 1 thread, busy")


@pytest.mark.benchmark(group="client-invoke-16-threads")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_invoke_16_threads_one_client(benchmark, clients, who):
    client = clients[who]
    # Each burst starts 16 new threads, and a sagerun thread opens its own
    # connection (boto3's pool is shared and outlives the threads): enough
    # calls per thread that this set-up is not what is measured.
    per_thread = 500 if who == "sagerun" else 40

    def burst():
        def work():
            for _ in range(per_thread):
                client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON)["Body"].read()

        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    burst()
    t0, cpu0 = time.perf_counter(), time.process_time()
    burst()
    rps = 16 * per_thread / (time.perf_counter() - t0)
    # Process CPU (every thread's) per call: what the client takes from
    # the cores it shares with the server.
    cpu_us = (time.process_time() - cpu0) / (16 * per_thread) * 1e6
    record("invoke 16 threads", who, rps=rps, cpu_us=cpu_us)
    benchmark.extra_info.update(rps=rps, cpu_us_per_call=cpu_us, units=16 * per_thread, unit="requests")
    benchmark.pedantic(burst, rounds=2, iterations=1)


def small_parts_case(benchmark, client: Any, who: str, case: str) -> None:
    def stream():
        r = client.invoke_endpoint_with_response_stream(EndpointName="tokens200", Body=b"{}")
        return sum(1 for _ in r["Body"])

    assert stream() == 200
    calls, wall, cpu = measure(stream)
    record(case, who, events_per_s=calls * 200 / wall, cpu_us_per_event=cpu / calls / 200 * 1e6)
    benchmark.extra_info.update(events_per_s=calls * 200 / wall)
    benchmark.extra_info.update(cpu_us_per_event=cpu / calls / 200 * 1e6)
    benchmark(stream)


@pytest.mark.benchmark(group="client-stream-200-parts")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_stream_200_small_parts(benchmark, clients, who):
    small_parts_case(benchmark, clients[who], who, "stream 200 parts")


@pytest.mark.benchmark(group="client-stream-200-parts-cpus-kept-busy")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_stream_200_small_parts_cpus_kept_busy(benchmark, clients, who):
    """The same with the vCPUs kept awake (see cpus_kept_busy): one round
    trip per stream pays the idle VM's wake-ups like a small call does."""
    with cpus_kept_busy():
        small_parts_case(benchmark, clients[who], who, "stream 200 parts, busy")


@pytest.mark.benchmark(group="client-stream-64k-parts")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_stream_64k_parts(benchmark, clients, who):
    client = clients[who]

    def stream():
        r = client.invoke_endpoint_with_response_stream(EndpointName="big", Body=b"{}")
        return sum(len(e["PayloadPart"]["Bytes"]) for e in r["Body"])

    assert stream() == BIG_PART * 32
    calls, wall, cpu = measure(stream)
    mb = calls * BIG_PART * 32 / 1e6
    mb_s = mb / wall
    record("stream 64 KiB parts", who, mb_per_s=mb_s, cpu_ms_per_mb=cpu / mb * 1e3)
    benchmark.extra_info.update(mb_per_s=mb_s)
    benchmark.extra_info.update(cpu_ms_per_mb=cpu / mb * 1e3)
    benchmark(stream)


_TRANSFER_UNITS = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024**2 / 1e6, "GB": 1024**3 / 1e6}


def wrk_one_connection(url: str, body: bytes, content_type: str, seconds: int = 2) -> "tuple[float, float]":
    """``wrk -t1 -c1`` POSTing `body` to `url`: (requests/s, MB/s read)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "post.lua")
        with open(script, "w") as f:
            f.write(f'wrk.method = "POST"\nwrk.body = {body.decode()!r}\n'
                    f'wrk.headers["Content-Type"] = "{content_type}"\n')
        out = subprocess.run(["wrk", "-t1", "-c1", f"-d{seconds}s", "-s", script, url],
                             capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    amount, unit = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out).groups()
    return rps, float(amount) * _TRANSFER_UNITS[unit]


def record_wrk_ceilings() -> None:
    """The server's ceiling for the one-connection cases (see the module doc)."""
    server = _ServerChild(verify_signatures=False)
    try:
        base = server.kwargs["endpoint_url"]
        rps, _ = wrk_one_connection(f"{base}/endpoints/echo/invocations", SMALL_JSON, "application/json")
        record("invoke 1 thread", "wrk", rps=rps)
        rps, _ = wrk_one_connection(f"{base}/endpoints/tokens200/invocations-response-stream", b"{}", "application/json")
        record("stream 200 parts", "wrk", events_per_s=rps * 200)
        rps, _ = wrk_one_connection(f"{base}/endpoints/big/invocations-response-stream", b"{}", "application/json")
        # wrk's Transfer/sec counts the event-stream framing too: count payload bytes, like the clients.
        record("stream 64 KiB parts", "wrk", mb_per_s=rps * BIG_PART * 32 / 1e6)
    finally:
        server.stop()


@pytest.fixture(scope="module", autouse=True)
def ratio_report():
    """Prints sagerun/boto3 ratios of everything measured (at module end, so
    it also runs under --benchmark-only; use -s to see it), with wrk's
    one-connection ceiling beside them when wrk is installed."""
    yield
    if shutil.which("wrk") and RESULTS:
        record_wrk_ceilings()
    lines = ["", f"{'case':20} | {'figure':18} | {'sagerun':>12} | {'boto3':>12} | ratio  | wrk -c1 ceiling"]
    for case, figures in RESULTS.items():
        for key in sorted({k.split(":", 1)[1] for k in figures}):
            ours, theirs = figures.get(f"sagerun:{key}"), figures.get(f"boto3:{key}")
            if ours is None or theirs is None:
                continue
            # Less CPU is better; more throughput is better.
            ratio = theirs / ours if "cpu" in key else ours / theirs
            ceiling: Optional[float] = figures.get(f"wrk:{key}")
            beside = f"{ceiling:12.1f} ({ceiling / theirs:.1f}x boto3)" if ceiling else ""
            lines.append(f"{case:20} | {key:18} | {ours:12.1f} | {theirs:12.1f} | {ratio:5.1f}x | {beside}")
    print("\n".join(lines))

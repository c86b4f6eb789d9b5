"""Client.invoke_endpoint_many at concurrency 64 beside boto3 with 16
threads sharing one client, on the same small InvokeEndpoint against the
same server, in the same run; wrk against that server is the ceiling.

The LocalRuntime runs in a separate process (signature checks off, so that
wrk's unsigned requests take the same path; both clients still sign). Run
with ``bash scripts/bench.sh benches/bench_many.py`` (release build); the
figures are printed at the end (-s) and kept in pytest-benchmark's
extra_info.
"""

from __future__ import annotations

import itertools
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict

import boto3
import pytest
from botocore.config import Config

import sagerun

SMALL_JSON = b'{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'
REQUEST = {"EndpointName": "echo", "Body": SMALL_JSON, "ContentType": "application/json"}
CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
CONCURRENCY = 64
BOTO3_THREADS = 16
FIGURES: Dict[str, float] = {}


def _serve(conn: Any) -> None:
    from sagerun.local import LocalRuntime

    with LocalRuntime({"echo": {"model": "echo"}}, verify_signatures=False, worker_threads=2) as rt:
        conn.send(rt.client_kwargs())
        conn.recv()  # wait for the stop word


@pytest.fixture(scope="module")
def server_kwargs():
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    kwargs = parent.recv()
    yield kwargs
    parent.send("stop")
    proc.join(10)


def sagerun_batch(client: Any, n: int) -> None:
    for result in client.invoke_endpoint_many(itertools.repeat(REQUEST, n), concurrency=CONCURRENCY):
        if not isinstance(result, dict):
            raise result
        result["Body"].read()


def boto3_threads(client: Any, n: int) -> None:
    per_thread = n // BOTO3_THREADS

    def work() -> None:
        for _ in range(per_thread):
            client.invoke_endpoint(**REQUEST)["Body"].read()

    threads = [threading.Thread(target=work) for _ in range(BOTO3_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.benchmark(group="many-concurrency-64")
@pytest.mark.parametrize("who", ["sagerun", "boto3"])
def test_invoke_many_small_json(benchmark, server_kwargs, who):
    if who == "sagerun":
        client = sagerun.Client(config=CONFIG, **server_kwargs)
        run, n = sagerun_batch, 30_000
    else:
        client = boto3.client("sagemaker-runtime", config=CONFIG, **server_kwargs)
        run, n = boto3_threads, 40 * BOTO3_THREADS
    run(client, n // 4)  # warm up: connections, caches
    rounds = 3
    cpu0 = time.process_time()
    benchmark.pedantic(run, args=(client, n), rounds=rounds, iterations=1)
    cpu_us = (time.process_time() - cpu0) / (rounds * n) * 1e6
    stats = getattr(benchmark.stats, "stats", benchmark.stats)
    # Best and median round: on a shared machine the best round is the
    # client's capability, the median what a busy moment leaves of it.
    FIGURES[who] = n / stats.min
    FIGURES[f"{who} median"] = n / stats.median
    FIGURES[f"{who} cpu"] = cpu_us
    benchmark.extra_info.update(rps=FIGURES[who], rps_median=FIGURES[f"{who} median"],
                                cpu_us_per_request=cpu_us, units=n, unit="requests")


@pytest.mark.benchmark(group="many-wrk-ceiling")
def test_wrk_against_the_same_server(benchmark, server_kwargs):
    """wrk with 64 keep-alive connections on the same request: what the
    server can answer (the ceiling for any client on this machine)."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (benches/wrk_local.sh installs it)")
    url = server_kwargs["endpoint_url"] + "/endpoints/echo/invocations"
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write('wrk.method = "POST"\n'
                     f"wrk.body = '{SMALL_JSON.decode()}'\n"
                     'wrk.headers["Content-Type"] = "application/json"\n')
        script.flush()

        def run() -> str:
            return subprocess.run(
                ["wrk", "-t2", f"-c{CONCURRENCY}", "-d3s", "-s", script.name, url],
                capture_output=True, text=True, timeout=60, check=True).stdout

        out = benchmark.pedantic(run, rounds=1, iterations=1)
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    assert found, out
    FIGURES["wrk"] = float(found.group(1))
    benchmark.extra_info.update(rps=FIGURES["wrk"])


@pytest.fixture(scope="module", autouse=True)
def report():
    """Prints the requests/s side by side at module end (use -s to see it)."""
    yield
    ours, theirs, wrk = (FIGURES.get(k) for k in ("sagerun", "boto3", "wrk"))
    lines = ["", "small InvokeEndpoint, requests/s, best (median) of 3 rounds, same server, same run"]
    if ours:
        lines.append(f"  sagerun invoke_endpoint_many, concurrency {CONCURRENCY}: {ours:8,.0f} "
                     f"({FIGURES['sagerun median']:,.0f})   client CPU {FIGURES['sagerun cpu']:.0f} us/request")
    if theirs:
        lines.append(f"  boto3, {BOTO3_THREADS} threads sharing one client:      {theirs:8,.0f} "
                     f"({FIGURES['boto3 median']:,.0f})   client CPU {FIGURES['boto3 cpu']:.0f} us/request")
    if ours and theirs:
        lines.append(f"  ratio: {ours / theirs:.1f}x best, {FIGURES['sagerun median'] / FIGURES['boto3 median']:.1f}x"
                     " median (goal >= 30x)")
    if wrk:
        lines.append(f"  wrk -c{CONCURRENCY}, 3 s (the server's ceiling):    {wrk:8,.0f}"
                     + (f"   sagerun's best is {ours / wrk:.0%} of it" if ours else ""))
    print("\n".join(lines))

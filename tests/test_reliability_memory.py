"""Memory: a 1 GiB response stream consumed part by part keeps the
process's RSS growth under 50 MiB (the local runtime producing it runs in
this process too, so its memory counts); creating and closing clients
leaks neither memory nor file descriptors. RSS and fds come from /proc."""

from __future__ import annotations

import gc
import os
import time

import botocore.session
import pytest

import sagerun

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")

MIB = 1024 * 1024
PART = 64 * 1024
# Set SAGERUN_SLOW_TESTS=1 for the long variants (see README, Reliability).
slow = pytest.mark.skipif(not os.environ.get("SAGERUN_SLOW_TESTS"),
                          reason="slow: run with SAGERUN_SLOW_TESTS=1")


ENDPOINTS = {"echo": {"model": "echo"}}


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(600)
def test_a_1_gib_stream_read_part_by_part_keeps_rss_growth_under_50_mib(local_runtime):
    total = 1024 * MIB
    rt = local_runtime({"big": {"model": "tokens", "text": "x" * PART, "parts": 1,
                                "repeat": total // PART}})
    client = sagerun.Client(**rt.client_kwargs())
    r = client.invoke_endpoint_with_response_stream(EndpointName="big", Body=b"{}")
    received, parts, peak, baseline = 0, 0, 0, None
    for event in r["Body"]:
        received += len(event["PayloadPart"]["Bytes"])
        parts += 1
        if parts == 256:  # 16 MiB in: buffers, pool and allocator are warm
            gc.collect()
            baseline = rss()
        elif parts % 256 == 0:
            peak = max(peak, rss())
    assert received == total and parts == total // PART
    assert baseline is not None
    growth = peak - baseline
    assert growth < 50 * MIB, f"RSS grew by {growth / MIB:.1f} MiB while reading 1 GiB"


def clients_leak_check(count: int, runtime, session) -> None:
    """`count` clients, each making one call (so each has a pool with a
    connection in it) and then closed and dropped."""
    kwargs = runtime.client_kwargs()

    def churn(n: int) -> None:
        for _ in range(n):
            with sagerun.Client(session=session, **kwargs) as client:
                assert client.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"

    churn(min(count // 5, 500))  # warm-up: caches, allocator arenas, lazy statics
    gc.collect()
    before_rss, before_fds = rss(), open_fds()
    churn(count)
    gc.collect()
    # The runtime (in this process) closes its side of each connection just
    # after the client does: let it settle (bounded wait).
    deadline = time.monotonic() + 10
    while open_fds() > before_fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds() <= before_fds, "file descriptors leaked"
    growth = rss() - before_rss
    # 10 MiB over `count` clients: a leak of a few KiB per client would show.
    assert growth < 10 * MIB, f"RSS grew by {growth / MIB:.1f} MiB over {count} clients"


def test_creating_and_closing_clients_leaks_nothing_measurable(local_runtime):
    # One botocore session, as a service would share one: a new session per
    # client spends ~0.2 s loading botocore's models, not in sagerun.
    clients_leak_check(2_000, local_runtime(ENDPOINTS), botocore.session.Session())


@slow
@pytest.mark.timeout(1800)
def test_creating_and_closing_10000_clients_leaks_nothing_measurable(local_runtime):
    clients_leak_check(10_000, local_runtime(ENDPOINTS), botocore.session.Session())

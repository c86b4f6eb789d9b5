"""sagerun.AsyncClient on the network: cancelling in-flight requests closes
their connections (none leaked, none returned to the pool half-read),
timeouts, retries, the pool size, and the event loop staying free while
requests wait."""

from __future__ import annotations

import asyncio
import time

import botocore.exceptions as bex
import pytest
from botocore.config import Config

import hostile_server as H
import sagerun
from async_support import LOOPS, run

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "s3cr3t-key"}
ESTABLISHED = "01"


def client_connections(port: int) -> int:
    """Open (ESTABLISHED) TCP connections from any local socket to 127.0.0.1:port,
    counted on the client side, from the kernel's table."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == ESTABLISHED:
                count += 1
    return count


async def settle(condition, limit: float = 20.0) -> bool:
    """Waits (bounded) until condition() holds; whether it did."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.mark.parametrize("loop", LOOPS)
def test_cancelling_1000_in_flight_requests_closes_their_connections(local_runtime, loop):
    rt = local_runtime({"slow": {"model": "echo", "faults": {"latency_ms": 30_000}},
                        "ep": {"model": "echo"}})
    cfg = Config(retries={"total_max_attempts": 1}, read_timeout=60, max_pool_connections=16)
    baseline = client_connections(rt.port)

    async def go():
        client = sagerun.AsyncClient(config=cfg, **rt.client_kwargs())
        tasks = [asyncio.create_task(client.invoke_endpoint(EndpointName="slow", Body=b"x"))
                 for _ in range(1000)]
        # All 1,000 requests are on the wire (each on its own connection).
        assert await settle(lambda: client_connections(rt.port) - baseline >= 1000), \
            client_connections(rt.port)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        # Dropping the Rust futures closed every connection (none pooled half-read).
        assert await settle(lambda: client_connections(rt.port) - baseline == 0), \
            client_connections(rt.port)
        # The client still works, on fresh connections, and its pool stays bounded.
        for _ in range(3):
            results = await asyncio.gather(*[client.invoke_endpoint(EndpointName="ep", Body=b"%d" % i)
                                             for i in range(50)])
            assert [await r["Body"].read() for r in results] == [b"%d" % i for i in range(50)]
        assert await settle(lambda: client_connections(rt.port) - baseline <= 16)
        await client.close()
    run(go, loop)


def test_cancelling_a_stream_read_closes_its_connection(local_runtime):
    rt = local_runtime({"drip": {"model": "tokens", "text": "abcdefghij", "parts": 10, "delay_ms": 2000},
                        "ep": {"model": "echo"}})
    baseline = client_connections(rt.port)

    async def go():
        client = sagerun.AsyncClient(**rt.client_kwargs())
        r = await client.invoke_endpoint_with_response_stream(EndpointName="drip", Body=b"{}")
        body = r["Body"]
        first = await body.__anext__()  # the first part comes at once
        assert first["PayloadPart"]["Bytes"] == b"a"
        reading = asyncio.create_task(body.__anext__())  # waits for the next part
        await asyncio.sleep(0.1)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert await settle(lambda: client_connections(rt.port) - baseline == 0)
        r = await client.invoke_endpoint(EndpointName="ep", Body=b"after")
        assert await r["Body"].read() == b"after"
    run(go)


def test_the_event_loop_runs_while_requests_wait(local_runtime):
    """Requests are futures, not blocking calls: other tasks keep running."""
    rt = local_runtime({"slow": {"model": "echo", "faults": {"latency_ms": 300}}})

    async def go():
        client = sagerun.AsyncClient(**rt.client_kwargs())
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        results = await asyncio.gather(*[client.invoke_endpoint(EndpointName="slow", Body=b"x")
                                         for _ in range(20)])
        done.set()
        await ticking
        assert len(results) == 20
        assert ticks >= 5  # the ticker ran while 20 requests waited 300 ms each
    run(go)


def test_read_timeout_raises_read_timeout_error(local_runtime):
    rt = local_runtime({"slow": {"model": "echo", "faults": {"latency_ms": 5000}}, "ep": {"model": "echo"}})
    cfg = Config(retries={"total_max_attempts": 1}, read_timeout=0.5)

    async def go():
        client = sagerun.AsyncClient(config=cfg, **rt.client_kwargs())
        start = time.monotonic()
        with pytest.raises(bex.ReadTimeoutError):
            await client.invoke_endpoint(EndpointName="slow", Body=b"x")
        assert time.monotonic() - start < 4.5  # ended at the read timeout, not the answer
        r = await client.invoke_endpoint(EndpointName="ep", Body=b"ok")
        assert await r["Body"].read() == b"ok"
    run(go)


def test_connection_refused_raises_endpoint_connection_error():
    url = f"http://127.0.0.1:{H.closed_port()}"

    async def go():
        client = sagerun.AsyncClient(endpoint_url=url, config=Config(retries={"total_max_attempts": 1}), **KEYS)
        with pytest.raises(bex.EndpointConnectionError):
            await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        with pytest.raises(bex.EndpointConnectionError):
            await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    run(go)


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_retries_503_then_429_then_success(mode):
    script = [H.status(503, "ServiceUnavailable"), H.status(429, "ThrottlingException"), H.ok]
    with H.HostileServer(script) as srv:
        async def go():
            client = sagerun.AsyncClient(endpoint_url=srv.url, **KEYS, config=Config(
                retries={"mode": mode, "total_max_attempts": 3}, read_timeout=5))
            r = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
            return r["ResponseMetadata"]["RetryAttempts"], await r["Body"].read()
        assert run(go) == (2, H.OK_BODY)
        assert len(srv.requests) == 3


def test_retries_give_up_with_the_last_error_like_the_sync_client():
    script = [H.status(503, "ServiceUnavailable")]
    cfg = Config(retries={"mode": "standard", "total_max_attempts": 2}, read_timeout=5)
    with H.HostileServer(script) as srv:
        with pytest.raises(bex.ClientError) as sync_info:
            sagerun.Client(endpoint_url=srv.url, **KEYS, config=cfg).invoke_endpoint(EndpointName="ep", Body=b"{}")

        async def go():
            client = sagerun.AsyncClient(endpoint_url=srv.url, **KEYS, config=cfg)
            with pytest.raises(bex.ClientError) as info:
                await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
            return info.value
        error = run(go)
    assert type(error).__name__ == type(sync_info.value).__name__
    assert error.response["Error"] == sync_info.value.response["Error"]
    meta = error.response["ResponseMetadata"]
    assert meta["RetryAttempts"] == 1 and meta["MaxAttemptsReached"] is True


FORK_CHILD = """
import asyncio, os, sys
import sagerun
from botocore.config import Config
kwargs = {kwargs!r}
client = sagerun.AsyncClient(config=Config(retries={{"total_max_attempts": 1}}), **kwargs)

async def call(body):
    r = await client.invoke_endpoint(EndpointName="ep", Body=body)
    return await r["Body"].read()

assert asyncio.run(call(b"parent")) == b"parent"   # runtime, pool and queue made before fork
pid = os.fork()
if pid == 0:
    ok = asyncio.run(call(b"child")) == b"child"
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert asyncio.run(call(b"parent again")) == b"parent again"
print("ok")
"""

EXIT_WITH_REQUESTS_IN_FLIGHT = """
import asyncio, sys
import sagerun
client = sagerun.AsyncClient(**{kwargs!r})

async def main():
    for _ in range(200):
        asyncio.ensure_future(client.invoke_endpoint(EndpointName="slow", Body=b"x"))
    await asyncio.sleep(0.3)
    print("leaving", flush=True)
    sys.exit(0)   # the loop ends with 200 requests in flight

asyncio.run(main())
"""


def _python(code: str) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_client_used_before_fork_works_in_the_child_and_the_parent(local_runtime):
    rt = local_runtime({"ep": {"model": "echo"}})
    done = _python(FORK_CHILD.format(kwargs=rt.client_kwargs()))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_leaving_with_requests_in_flight_neither_hangs_nor_crashes(local_runtime):
    rt = local_runtime({"slow": {"model": "echo", "faults": {"latency_ms": 20_000}}})
    done = _python(EXIT_WITH_REQUESTS_IN_FLIGHT.format(kwargs=rt.client_kwargs()))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leaving"


def test_tls_with_a_private_ca_and_without_it(tmp_path):
    trustme = pytest.importorskip("trustme")
    from sagerun.local import LocalRuntime
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    with LocalRuntime({"echo": {"model": "echo"}}, tls_cert=cert_path, tls_key=key_path) as rt:
        async def go():
            trusting = sagerun.AsyncClient(verify=str(ca_path), **rt.client_kwargs())
            r = await trusting.invoke_endpoint(EndpointName="echo", Body=b"tls")
            assert await r["Body"].read() == b"tls"
            untrusting = sagerun.AsyncClient(config=Config(retries={"total_max_attempts": 1}),
                                             **rt.client_kwargs())
            with pytest.raises(bex.SSLError) as info:
                await untrusting.invoke_endpoint(EndpointName="echo", Body=b"tls")
            assert "certificate" in str(info.value).lower()
        run(go)


def test_connect_timeout_raises_connect_timeout_error(unanswered_port):
    async def go():
        client = sagerun.AsyncClient(endpoint_url=f"http://127.0.0.1:{unanswered_port}", **KEYS,
                                     config=Config(connect_timeout=0.3, retries={"total_max_attempts": 1}))
        with pytest.raises(bex.ConnectTimeoutError):
            await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    run(go)


def test_close_closes_the_idle_connections(local_runtime):
    rt = local_runtime({"ep": {"model": "echo"}})
    baseline = client_connections(rt.port)

    async def go():
        async with sagerun.AsyncClient(**rt.client_kwargs()) as client:
            await asyncio.gather(*[client.invoke_endpoint(EndpointName="ep", Body=b"x") for _ in range(8)])
            assert client_connections(rt.port) - baseline >= 1  # pooled, idle
        assert await settle(lambda: client_connections(rt.port) - baseline == 0)
        r = await client.invoke_endpoint(EndpointName="ep", Body=b"again")  # a new pool
        assert await r["Body"].read() == b"again"
    run(go)

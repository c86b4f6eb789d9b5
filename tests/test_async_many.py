"""AsyncClient.invoke_endpoint_many: results in input order whatever the
completion order, failures in their place, on_result as each finishes, the
requests consumed lazily (a generator of a million requests is read only as
far as the window allows), bounded memory over 100,000 requests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Dict, Iterator, List

import botocore.exceptions as bex
import pytest
from botocore.config import Config

import sagerun
from async_support import LOOPS, run
from test_async_network import client_connections

ENDPOINTS = {
    "fast": {"model": "echo"},
    "slow": {"model": "echo", "faults": {"latency_ms": 60}},
    "broken": {"model": "error", "code": "ModelError", "original_status": 500, "message": "no"},
}
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=30)



def mixed(n: int) -> List[Dict[str, Any]]:
    """Slow, fast and failing requests interleaved, so that they finish out of order."""
    names = ["slow", "fast", "fast", "broken"]
    return [{"EndpointName": names[i % 4], "Body": b"%d" % i} for i in range(n)]


async def collect(client: Any, requests: Any, **options: Any) -> List[Any]:
    return [r async for r in client.invoke_endpoint_many(requests, **options)]


@pytest.mark.parametrize("loop", LOOPS)
def test_mixed_results_in_input_order_with_failures_in_place(rt, loop):
    finished: List[int] = []

    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        results = await collect(client, mixed(40), concurrency=8,
                                on_result=lambda i, r: finished.append(i))
        for i, result in enumerate(results):
            if i % 4 == 3:
                assert isinstance(result, client.exceptions.ModelError), result
                assert result.response["OriginalStatusCode"] == 500
            else:
                assert await result["Body"].read() == b"%d" % i
                assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
        return results
    assert len(run(go, loop)) == 40
    assert sorted(finished) == list(range(40))
    assert finished != list(range(40))  # completion order differed: order was restored


def test_the_results_equal_single_calls(rt):
    """Each result is what invoke_endpoint returns for the same request."""
    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        requests = [{"EndpointName": "fast", "Body": b"x%d" % i, "ContentType": "text/plain",
                     "CustomAttributes": "c=%d" % i} for i in range(5)]
        many = await collect(client, requests)
        singles = [await client.invoke_endpoint(**r) for r in requests]
        for a, b in zip(many, singles):
            assert await a["Body"].read() == await b["Body"].read()
            assert a["ContentType"] == b["ContentType"] and a["CustomAttributes"] == b["CustomAttributes"]
    run(go)


def test_bad_items_fail_in_their_place(rt):
    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        requests = [{"EndpointName": "fast", "Body": b"a"}, "not a dict", {"Body": b"no endpoint"},
                    {"EndpointName": "fast", "Body": b"b"}]
        return await collect(client, requests)
    results = run(go)
    assert isinstance(results[1], TypeError)
    assert isinstance(results[2], bex.ParamValidationError)
    assert results[0]["ResponseMetadata"]["HTTPStatusCode"] == results[3]["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_without_return_exceptions_the_first_error_raises_and_the_rest_stops(rt):
    consumed = itertools.count()

    def requests() -> Iterator[Dict[str, Any]]:
        for i in range(10_000):
            next(consumed)
            yield {"EndpointName": "broken" if i == 5 else "fast", "Body": b"%d" % i}

    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        seen = []
        with pytest.raises(bex.ClientError) as info:
            async for result in client.invoke_endpoint_many(requests(), concurrency=4,
                                                            return_exceptions=False):
                seen.append(await result["Body"].read())
        assert info.value.response["Error"]["Code"] == "ModelError"
        assert seen == [b"%d" % i for i in range(5)]
    run(go)
    assert next(consumed) < 5 + 4 * 4 + 2  # nothing read beyond the window


def test_a_million_request_generator_is_consumed_lazily(rt):
    """The first results come out after reading only about the window's
    worth of requests; stopping early leaves the rest unread."""
    consumed = itertools.count()

    def requests() -> Iterator[Dict[str, Any]]:
        for i in range(1_000_000):
            next(consumed)
            yield {"EndpointName": "fast", "Body": b"%d" % i}

    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        got = []
        async for result in client.invoke_endpoint_many(requests(), concurrency=16):
            got.append(await result["Body"].read())
            if len(got) == 100:
                break
        return got
    assert run(go) == [b"%d" % i for i in range(100)]
    assert next(consumed) <= 100 + 4 * 16 + 1


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource
    return pages * resource.getpagesize() // 1024


def test_100000_requests_run_in_bounded_memory(rt):
    """Resident memory after 100,000 requests is within a few MiB of what it
    was after the first 10,000 (results are dropped as they are consumed)."""
    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        requests = ({"EndpointName": "fast", "Body": b"%d" % i} for i in range(100_000))
        count = 0
        warm = None
        async for result in client.invoke_endpoint_many(requests, concurrency=64):
            assert not isinstance(result, Exception), result
            count += 1
            if count == 10_000:
                warm = rss_kib()
        return count, warm, rss_kib()
    count, warm, end = run(go)
    assert count == 100_000
    assert end - warm < 32 * 1024, (warm, end)


def test_async_iterable_requests_and_concurrency_bound(rt):
    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        peak = 0
        running = True

        async def sample():
            nonlocal peak
            while running:
                peak = max(peak, client_connections(rt.port) - baseline)
                await asyncio.sleep(0.005)

        async def requests():
            for i in range(48):
                yield {"EndpointName": "slow", "Body": b"%d" % i}

        baseline = client_connections(rt.port)
        sampler = asyncio.create_task(sample())
        results = await collect(client, requests(), concurrency=6)
        running = False
        await sampler
        assert [await r["Body"].read() for r in results] == [b"%d" % i for i in range(48)]
        return peak
    peak = run(go)
    assert 1 <= peak <= 6


def test_on_result_errors_are_raised_not_lost(rt):
    def boom(index, result):
        if index == 2:
            raise RuntimeError("progress bar broke")

    async def go():
        client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
        with pytest.raises(RuntimeError, match="progress bar broke"):
            await collect(client, mixed(12), on_result=boom)
    run(go)


def test_bad_arguments_raise_at_once(rt):
    client = sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs())
    with pytest.raises(ValueError):
        client.invoke_endpoint_many([], concurrency=0)
    with pytest.raises(TypeError):
        client.invoke_endpoint_many(42)

"""sagerun.AsyncClient beside aiobotocore's sagemaker-runtime client, same
server, same run, same event loop.

The LocalRuntime runs in a separate process (as in bench_client.py), so the
CPU measured here is the clients' alone. aiobotocore comes with the ``aio``
extra (it pins an older botocore, so the test extra does not carry it):

    SAGERUN_EXTRAS=test,aio bash scripts/bench.sh benches/bench_async.py

Each round is a burst of requests over 64 concurrent tasks sharing one
client; the ratio table at the end compares time per request (per event
for streams).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Dict

import pytest
from botocore.config import Config

import sagerun
from bench_client import server_kwargs  # noqa: F401  (the fixture: a runtime in another process)

aiobotocore_session = pytest.importorskip(
    "aiobotocore.session", reason="install the aio extra: pip install -e .[aio]")

SMALL_JSON = b'{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'
CONCURRENCY = 64
CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=CONCURRENCY)
# Requests per task per round: the fast client gets more to be timed well.
PER_TASK = {"sagerun": 40, "aiobotocore": 3}
STREAMS_PER_TASK = {"sagerun": 4, "aiobotocore": 1}
STREAM_TASKS = 16
CPU_PER_UNIT: Dict[str, Dict[str, float]] = {}  # group -> who -> µs of process CPU per unit


@pytest.fixture(scope="module", autouse=True)
def cpu_table():
    """Prints the process CPU per unit of each case beside its reference."""
    yield
    print("\nprocess CPU per unit (all threads), sagerun vs aiobotocore:")
    for group, figures in CPU_PER_UNIT.items():
        ours, theirs = figures.get("sagerun"), figures.get("aiobotocore")
        if ours and theirs:
            print(f"  {group:28} {ours:8.1f} us vs {theirs:8.1f} us  ({theirs / ours:.1f}x less)")


@pytest.fixture(scope="module")
def loop_runner():
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def clients(loop_runner, server_kwargs):  # noqa: F811
    async def make() -> Dict[str, Any]:
        session = aiobotocore_session.get_session()
        context = session.create_client("sagemaker-runtime", config=CONFIG, **server_kwargs)
        return {"sagerun": sagerun.AsyncClient(config=CONFIG, **server_kwargs),
                "aiobotocore": await context.__aenter__(), "_context": context}
    made = loop_runner.run(make())
    yield made
    loop_runner.run(made["_context"].__aexit__(None, None, None))


def run_rounds(benchmark: Any, round_: Callable[[], Any], units: int, unit: str) -> None:
    """Times 5 rounds; records the units per round and the process CPU (all
    threads: the Tokio workers too) per unit."""
    cpu = [0.0]

    def timed() -> Any:
        start = time.process_time()
        try:
            return round_()
        finally:
            cpu[0] += time.process_time() - start

    benchmark.pedantic(timed, rounds=5, iterations=1)
    cpu_per_unit = cpu[0] / (5 * units) * 1e6
    benchmark.extra_info.update(units=units, unit=unit, cpu_us_per_unit=cpu_per_unit)
    who = "sagerun" if "sagerun" in benchmark.name else "aiobotocore"
    CPU_PER_UNIT.setdefault(benchmark.group, {})[who] = cpu_per_unit


def burst(runner: asyncio.Runner, tasks: int, work: Callable[[], Awaitable[int]]) -> Callable[[], int]:
    """A round: `tasks` concurrent copies of `work`; returns the units done."""
    async def together() -> int:
        return sum(await asyncio.gather(*[work() for _ in range(tasks)]))
    return lambda: runner.run(together())


@pytest.mark.benchmark(group="async-invoke-c64")
@pytest.mark.parametrize("who", ["sagerun", "aiobotocore"])
def test_invoke_small_json_64_tasks(benchmark, loop_runner, clients, who):
    client, per_task = clients[who], PER_TASK[who]

    async def work() -> int:
        for _ in range(per_task):
            r = await client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON,
                                             ContentType="application/json")
            assert await r["Body"].read() == SMALL_JSON
        return per_task

    round_ = burst(loop_runner, CONCURRENCY, work)
    round_()  # warm: connections opened
    run_rounds(benchmark, round_, CONCURRENCY * per_task, "requests")


@pytest.mark.benchmark(group="async-many-c64")
@pytest.mark.parametrize("who", ["sagerun", "aiobotocore"])
def test_fan_out_64(benchmark, loop_runner, clients, who):
    """sagerun's invoke_endpoint_many beside aiobotocore driven by the usual
    semaphore-bounded gather."""
    client, total = clients[who], CONCURRENCY * PER_TASK[who]

    async def fan_out() -> int:
        requests = ({"EndpointName": "echo", "Body": SMALL_JSON} for _ in range(total))
        if who == "sagerun":
            done = 0
            async for r in client.invoke_endpoint_many(requests, concurrency=CONCURRENCY):
                done += len(await r["Body"].read()) > 0
            return done
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(kwargs: Dict[str, Any]) -> int:
            async with gate:
                r = await client.invoke_endpoint(**kwargs)
                return len(await r["Body"].read()) > 0
        return sum(await asyncio.gather(*[one(kw) for kw in requests]))

    round_ = lambda: loop_runner.run(fan_out())  # noqa: E731
    assert round_() == total
    run_rounds(benchmark, round_, total, "requests")


@pytest.mark.benchmark(group="async-stream-200-parts")
@pytest.mark.parametrize("who", ["sagerun", "aiobotocore"])
def test_stream_200_small_parts(benchmark, loop_runner, clients, who):
    client, per_task = clients[who], STREAMS_PER_TASK[who]

    async def work() -> int:
        events = 0
        for _ in range(per_task):
            r = await client.invoke_endpoint_with_response_stream(EndpointName="tokens200", Body=b"{}")
            async for _ in r["Body"]:
                events += 1
        assert events == 200 * per_task
        return events

    round_ = burst(loop_runner, STREAM_TASKS, work)
    round_()
    run_rounds(benchmark, round_, STREAM_TASKS * per_task * 200, "events")

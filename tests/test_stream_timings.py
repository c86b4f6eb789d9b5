"""Timings on the response stream body (time to first byte, per-part decode
times) and iter_bytes, against a LocalRuntime. The clock is checked against
Python's own readings taken around the calls; bounds on delays are loose
lower bounds only (the machine may be slow, never faster than the server's
sleeps)."""

from __future__ import annotations

import time
from typing import Any, List

import boto3
import botocore.exceptions as bex
import pytest

import sagerun
from sagerun._cli.stream_stats import StreamStats

DELAY_MS = 60
PARTS = 5
ENDPOINTS = {
    "paced": {"model": "tokens", "text": "one two three four five", "parts": PARTS,
              "delay_ms": DELAY_MS},
    "late-head": {"model": "tokens", "text": "a b", "parts": 2, "faults": {"latency_ms": 150}},
    "burst": {"model": "tokens", "text": "x" * 300, "parts": 300},
    "fails": {"model": "tokens", "text": "a b c d e f", "parts": 6,
              "faults": {"stream_error_after": 3}},
}
from configs import NO_RETRIES



@pytest.fixture(scope="module")
def client(rt):
    return sagerun.Client(config=NO_RETRIES, **rt.client_kwargs())


@pytest.mark.parametrize("clock", [time.monotonic, time.perf_counter], ids=["monotonic", "perf_counter"])
def test_timings_are_on_pythons_clock_and_in_order(client, clock):
    before = clock()
    r = client.invoke_endpoint_with_response_stream(EndpointName="paced", Body=b"{}")
    after_head = clock()
    body = r["Body"]
    assert before <= body.request_sent_at <= body.first_byte_at <= after_head
    assert body.time_to_first_byte == body.first_byte_at - body.request_sent_at > 0
    assert body.part_times == [] and body.time_to_first_part is None
    received: List[float] = []
    for k, event in enumerate(body):
        received.append(clock())
        # A part's time is known by the time it is yielded.
        assert len(body.part_times) >= k + 1
    times = body.part_times
    assert len(times) == len(received) == PARTS
    assert times == sorted(times)
    assert times[0] >= body.first_byte_at
    for decoded, seen in zip(times, received):
        assert decoded <= seen  # decoded in Rust before Python saw it
    assert body.time_to_first_part == times[0] - body.request_sent_at >= body.time_to_first_byte


def test_part_gaps_reflect_the_servers_delays(client):
    body = client.invoke_endpoint_with_response_stream(EndpointName="paced", Body=b"{}")["Body"]
    assert sum(1 for _ in body) == PARTS
    gaps = [b - a for a, b in zip(body.part_times, body.part_times[1:])]
    assert len(gaps) == PARTS - 1
    # The server sleeps DELAY_MS between parts, so the last part cannot
    # come sooner than (PARTS - 1) delays after the call started.
    assert body.part_times[-1] - body.request_sent_at >= (PARTS - 1) * DELAY_MS / 1000
    # Each gap reflects a delay (loose: a part decoded late on a busy
    # machine shortens the gap after it; longer gaps are allowed).
    assert all(gap >= DELAY_MS / 1000 * 0.5 for gap in gaps), gaps


def test_time_to_first_byte_includes_the_servers_latency(client):
    body = client.invoke_endpoint_with_response_stream(EndpointName="late-head", Body=b"{}")["Body"]
    assert body.time_to_first_byte >= 0.15 * 0.9
    list(body)
    assert len(body.part_times) == 2


def test_a_burst_of_parts_has_one_time_per_part(client):
    body = client.invoke_endpoint_with_response_stream(EndpointName="burst", Body=b"{}")["Body"]
    payloads = list(body.iter_bytes())
    assert len(payloads) == len(body.part_times) == 300
    assert body.part_times == sorted(body.part_times)


def test_parts_before_an_in_stream_error_keep_their_times(client):
    body = client.invoke_endpoint_with_response_stream(EndpointName="fails", Body=b"{}")["Body"]
    seen = []
    with pytest.raises(bex.EventStreamError):
        for event in body:
            seen.append(event)
    assert len(seen) == 3
    assert len(body.part_times) == 3


def test_iter_bytes_is_the_payloads_like_boto3(rt, client):
    boto = boto3.client("sagemaker-runtime", config=NO_RETRIES, **rt.client_kwargs())
    theirs = [e["PayloadPart"]["Bytes"] for e in
              boto.invoke_endpoint_with_response_stream(EndpointName="burst", Body=b"{}")["Body"]]
    ours = list(client.invoke_endpoint_with_response_stream(EndpointName="burst", Body=b"{}")["Body"].iter_bytes())
    alias = list(client.invoke_endpoint_with_response_stream(EndpointName="burst", Body=b"{}")["Body"].iter_payload())
    assert ours == alias == theirs


def test_stream_stats_report_the_time_to_first_byte(client):
    stats = StreamStats()
    body = client.invoke_endpoint_with_response_stream(EndpointName="late-head", Body=b"{}")["Body"]
    items = list(stats.count_items(stats.count_parts(body)))
    summary = stats.summary()
    assert len(items) == summary["parts"] == 2
    assert summary["ttfb_ms"] == pytest.approx(body.time_to_first_byte * 1000, abs=0.01)
    assert summary["ttfb_ms"] >= 150 * 0.9
    assert summary["ttft_ms"] >= summary["ttfb_ms"]
    assert "first byte" in stats.describe()


def test_stream_stats_without_timings_stay_as_they_were():
    """A body without timings (boto3's) leaves the time to first byte out."""
    stats = StreamStats()
    items: List[Any] = list(stats.count_items(stats.count_parts([b"a", b"b"])))
    assert items == [b"a", b"b"]
    assert stats.summary()["ttfb_ms"] is None
    assert "first byte" not in stats.describe()


def test_the_async_stream_is_timed_the_same_way(rt):
    """AsyncClient's stream body has the same timings, on the same clock."""
    import asyncio

    async def scenario() -> Any:
        async with sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs()) as client:
            before = time.monotonic()
            r = await client.invoke_endpoint_with_response_stream(EndpointName="paced", Body=b"{}")
            after_head = time.monotonic()
            body = r["Body"]
            received = []
            async for _ in body:
                received.append(time.monotonic())
                assert len(body.part_times) >= len(received)
            return before, after_head, body, received

    before, after_head, body, received = asyncio.run(scenario())
    assert before <= body.request_sent_at <= body.first_byte_at <= after_head
    times = body.part_times
    assert len(times) == len(received) == PARTS
    assert times == sorted(times) and times[0] >= body.first_byte_at
    assert all(decoded <= seen for decoded, seen in zip(times, received))
    assert times[-1] - body.request_sent_at >= (PARTS - 1) * DELAY_MS / 1000
    assert body.time_to_first_part == times[0] - body.request_sent_at >= body.time_to_first_byte

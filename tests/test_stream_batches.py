"""Events that arrive together (one HTTP chunk holding several frames, so
one read decodes them all): the stream bodies hand them out one at a time,
and what the caller sees is what boto3 (and the AsyncClient's reference)
sees for the same bytes: the same events in order, an in-stream exception
raised after the parts before it, and ``close()`` in the middle of such a
batch ending the iteration at once, without the rest and without reading
the connection again (the server holds it open: a read would wait)."""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import botocore.exceptions as bex
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch

import hostile_server as H
import sagerun
from async_support import LOOPS, run
from sagerun.eventstream import encode_message
from test_hostile_client import KEYS, make_client

PARTS = [b"part-%d" % i for i in range(6)]
ONE_CHUNK = b"".join(H.payload_part(p) for p in PARTS)
EXCEPTION = encode_message({":message-type": "exception", ":exception-type": "ModelStreamError",
                            ":content-type": "application/json"},
                           b'{"Message": "boom", "ErrorCode": "E1"}')
# Long enough that a read of the held connection would outlast the test's timeout.
PATIENT = Config(read_timeout=120, retries={"total_max_attempts": 1})


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


def read_all(kind: str, behaviour: H.Behaviour) -> Dict[str, Any]:
    """All events `kind`'s client yields for `behaviour`, and what it raised."""
    events: List[Any] = []
    with H.HostileServer([behaviour]) as srv:
        r = make_client(kind, srv.url).invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
        try:
            for event in r["Body"]:
                events.append(event)
            error = None
        except Exception as e:  # compared below
            error = e
    return {"events": events, "error": error}


def test_a_chunk_of_frames_gives_the_events_boto3_gives():
    behaviour = H.stream_of(ONE_CHUNK, end=H.LAST_CHUNK)
    ours, boto = read_all("sagerun", behaviour), read_all("boto3", behaviour)
    assert boto["error"] is None and ours["error"] is None
    assert ours["events"] == boto["events"]
    assert [e["PayloadPart"]["Bytes"] for e in boto["events"]] == PARTS


def test_an_exception_inside_a_chunk_is_raised_after_the_parts_before_it():
    behaviour = H.stream_of(ONE_CHUNK + EXCEPTION + H.payload_part(b"after"), end=H.LAST_CHUNK)
    ours, boto = read_all("sagerun", behaviour), read_all("boto3", behaviour)
    assert ours["events"] == boto["events"] and len(boto["events"]) == len(PARTS)
    assert type(boto["error"]) is type(ours["error"]) is bex.EventStreamError
    assert ours["error"].response == boto["error"].response


def test_a_corrupt_frame_inside_a_chunk_comes_after_the_good_events_before_it():
    frame = H.payload_part(b"corrupt")
    bad = H.flip(frame, len(frame) - 1)  # its message CRC no longer matches
    behaviour = H.stream_of(ONE_CHUNK + bad, end=H.LAST_CHUNK)
    ours, boto = read_all("sagerun", behaviour), read_all("boto3", behaviour)
    assert ours["events"] == boto["events"] and len(boto["events"]) == len(PARTS)
    assert type(boto["error"]) is ChecksumMismatch and isinstance(ours["error"], ChecksumMismatch)


@pytest.mark.timeout(60)
def test_close_in_the_middle_of_a_batch_ends_the_iteration():
    with H.HostileServer([H.stream_of(ONE_CHUNK, then_hold=True), H.ok]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, config=PATIENT, **KEYS)
        body = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]
        events = iter(body)
        assert [next(events)["PayloadPart"]["Bytes"] for _ in range(2)] == PARTS[:2]
        body.close()
        assert list(events) == []
        assert list(body) == []
        assert client.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read() == H.OK_BODY
        # The stream's connection was dropped, not handed to the next call.
        assert srv.requests[1].connection != srv.requests[0].connection


@pytest.mark.timeout(60)
def test_leaving_the_loop_in_the_middle_of_a_batch_closes_the_stream():
    """`break` drops the loop's iterator: the stream's connection is closed
    then (the server, holding it open, sees the close), not when the body
    is collected; the body cannot be iterated again."""
    peer_closed = threading.Event()
    held = H.stream_of(ONE_CHUNK, then_hold=True)

    def behaviour(conn: H.Conn, request: H.Request) -> bool:
        held(conn, request)  # returns once the client closed the connection
        peer_closed.set()
        return False

    with H.HostileServer([behaviour]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, config=PATIENT, **KEYS)
        body = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]
        got = []
        for event in body:
            got.append(event["PayloadPart"]["Bytes"])
            if len(got) == 2:
                break
        assert got == PARTS[:2]
        assert peer_closed.wait(20)
        assert list(body) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", LOOPS)
def test_async_close_in_the_middle_of_a_batch_ends_the_iteration(loop):
    with H.HostileServer([H.stream_of(ONE_CHUNK, then_hold=True), H.ok]) as srv:
        async def go() -> None:
            async with sagerun.AsyncClient(endpoint_url=srv.url, config=PATIENT, **KEYS) as client:
                r = await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
                body = r["Body"]
                got = []
                async for event in body:
                    got.append(event["PayloadPart"]["Bytes"])
                    if len(got) == 2:
                        body.close()
                assert got == PARTS[:2]
                assert [e async for e in body] == []
                r = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
                assert await r["Body"].read() == H.OK_BODY
        run(go, loop)
        assert srv.requests[1].connection != srv.requests[0].connection


@pytest.mark.parametrize("loop", LOOPS)
def test_async_events_of_a_chunk_and_its_exception(loop):
    behaviour = H.stream_of(ONE_CHUNK + EXCEPTION, end=H.LAST_CHUNK)
    boto = read_all("boto3", behaviour)
    with H.HostileServer([behaviour]) as srv:
        async def go() -> Dict[str, Any]:
            events: List[Any] = []
            async with sagerun.AsyncClient(endpoint_url=srv.url, **KEYS) as client:
                r = await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
                with pytest.raises(bex.EventStreamError) as raised:
                    async for event in r["Body"]:
                        events.append(event)
            return {"events": events, "error": raised.value}
        ours = run(go, loop)
    assert ours["events"] == boto["events"] and len(events_of(boto)) == len(PARTS)
    assert ours["error"].response == boto["error"].response


def events_of(outcome: Dict[str, Any]) -> List[bytes]:
    return [e["PayloadPart"]["Bytes"] for e in outcome["events"]]


# Parts of 64 KiB and more, sent in HTTP chunks that cut across frames: most
# frames are assembled from several chunks (and handed out without copying
# the assembled frame again).
BIG_PARTS = [bytes((i * 7 + j) % 251 for j in range(size))
             for i, size in enumerate([64 * 1024, 64 * 1024 + 1, 1, 200 * 1024, 3])]
BIG_STREAM = b"".join(H.payload_part(p) for p in BIG_PARTS)
CUT_ACROSS = [BIG_STREAM[i:i + 7001] for i in range(0, len(BIG_STREAM), 7001)]


def test_large_parts_assembled_across_chunks_are_the_bytes_boto3_reads():
    behaviour = H.stream_of(*CUT_ACROSS, end=H.LAST_CHUNK)
    ours, boto = read_all("sagerun", behaviour), read_all("boto3", behaviour)
    assert boto["error"] is None and ours["error"] is None
    assert events_of(boto) == BIG_PARTS
    assert ours["events"] == boto["events"]


@pytest.mark.parametrize("loop", LOOPS)
def test_async_large_parts_assembled_across_chunks(loop):
    with H.HostileServer([H.stream_of(*CUT_ACROSS, end=H.LAST_CHUNK)]) as srv:
        async def go() -> List[bytes]:
            async with sagerun.AsyncClient(endpoint_url=srv.url, **KEYS) as client:
                r = await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
                return [e["PayloadPart"]["Bytes"] async for e in r["Body"]]
        assert run(go, loop) == BIG_PARTS

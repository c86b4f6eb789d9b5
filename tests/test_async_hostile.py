"""sagerun.AsyncClient against the misbehaving server (tests/hostile_server.py),
scenario for scenario as the sync client in test_hostile_client.py (its
tables are imported, not copied): every failure is the typed exception
boto3 raises there (observed by those tests), ends within its timeout plus a
margin, and the same client keeps working afterwards, on a fresh connection
when the broken one could not be reused."""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, List, Optional, Tuple

import botocore.exceptions as bex
import pytest
from botocore.config import Config
from botocore.eventstream import ParserError

import hostile_server as H
import sagerun
from async_support import LOOPS, run
from test_hostile_client import (
    CALL_BOUND, FAILING, FIRST, KEYS, READ_TIMEOUT, RETRY_SCRIPTS, STREAM_OPENINGS, STREAMS, config,
)


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


async def invoke(client: Any) -> Tuple[Any, bytes]:
    r = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    return r, await r["Body"].read()


def read_stream(events: List[Any]) -> Callable[[Any], Awaitable[List[Any]]]:
    async def call(client: Any) -> List[Any]:
        r = await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
        async for event in r["Body"]:
            events.append(event)
        return events
    return call


def against(behaviour: Any, call: Callable[[Any], Awaitable[Any]], cfg: Optional[Config] = None,
            loop: str = "asyncio") -> Tuple[Optional[BaseException], Any, List[H.Request]]:
    """One call through an AsyncClient against `behaviour`, bounded in time,
    then a call the server answers well through the same client:
    (error, value, requests the server saw)."""
    with H.HostileServer([behaviour, H.ok]) as srv:
        async def go():
            client = sagerun.AsyncClient(endpoint_url=srv.url, config=cfg or config(), **KEYS)
            start = time.monotonic()
            try:
                value, error = await call(client), None
            except Exception as e:  # inspected by the test
                value, error = None, e
            assert time.monotonic() - start < CALL_BOUND
            _, body = await invoke(client)  # still works
            assert body == H.OK_BODY
            return error, value
        error, value = run(go, loop)
        return error, value, list(srv.requests)


@pytest.mark.parametrize("name", list(FAILING))
def test_invoke_failure_is_typed_bounded_and_leaves_the_pool_usable(name):
    behaviour, expected = FAILING[name]  # `expected`: what boto3 raises there
    error, _, requests = against(behaviour, invoke)
    assert type(error) is expected, error
    assert len(requests) == 2 and requests[1].connection != requests[0].connection


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", list(RETRY_SCRIPTS))
def test_standard_retries_through_hostile_answers(name, loop):
    """The outcomes the sync test observed from boto3 for these scripts."""
    cfg = config(mode="standard", total_max_attempts=3)
    with H.HostileServer(RETRY_SCRIPTS[name]) as srv:
        async def go():
            client = sagerun.AsyncClient(endpoint_url=srv.url, config=cfg, **KEYS)
            try:
                r, body = await invoke(client)
                return "ok", body, r["ResponseMetadata"]["RetryAttempts"]
            except bex.ClientError as e:
                return e.response["Error"]["Code"], None, e.response["ResponseMetadata"]["RetryAttempts"]
        start = time.monotonic()
        seen = run(go, loop) + (len(srv.requests),)
        assert time.monotonic() - start < 3 * READ_TIMEOUT + CALL_BOUND
    if name == "503_429notready_ok":  # standard mode does not retry ModelNotReady
        assert seen == ("ModelNotReadyException", None, 1, 2)
    else:
        assert seen == ("ok", H.OK_BODY, 2, 3)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", list(STREAMS))
def test_a_hostile_stream_raises_after_the_good_events(name, loop):
    behaviour, ours_class, _ = STREAMS[name]
    events: List[Any] = []
    error, _, _ = against(behaviour, read_stream(events), loop=loop)
    assert events == FIRST
    assert isinstance(error, ours_class), error


@pytest.mark.parametrize("name", ["bad_prelude_crc", "bad_message_crc"])
def test_a_connection_that_carried_a_corrupt_stream_is_not_reused(name):
    _, _, requests = against(STREAMS[name][0], read_stream([]))
    assert requests[1].connection != requests[0].connection


@pytest.mark.parametrize("name", STREAM_OPENINGS)
def test_a_stream_request_failing_before_any_event(name):
    behaviour, expected = FAILING[name]
    events: List[Any] = []
    error, _, _ = against(behaviour, read_stream(events))
    assert events == []
    assert type(error) is expected, error


def test_a_silent_stream_ends_at_the_read_timeout():
    events: List[Any] = []
    error, _, _ = against(H.stream_of(H.GOOD_FRAME, then_hold=True), read_stream(events))
    assert events == FIRST
    assert isinstance(error, bex.ReadTimeoutError), error


def test_a_dribbled_response_and_stream_succeed():
    cfg = Config(read_timeout=0.5, retries={"total_max_attempts": 1})
    error, value, _ = against(H.dribble, invoke, cfg)
    assert error is None and value[1] == b"slow"
    events: List[Any] = []
    error, _, _ = against(H.dribble, read_stream(events), cfg)
    assert error is None and events == [{"PayloadPart": {"Bytes": b"slow"}}]


def test_the_4GiB_prelude_fails_at_once():
    cfg = Config(read_timeout=60, retries={"total_max_attempts": 1})
    error, _, _ = against(H.stream_4gib_prelude, read_stream([]), cfg)
    assert isinstance(error, ParserError), error
    assert not isinstance(error, bex.ReadTimeoutError) and "length" in str(error)


def test_refused_then_the_same_client_connects_once_a_server_listens():
    port = H.closed_port()

    async def refused(client):
        with pytest.raises(bex.EndpointConnectionError):
            await invoke(client)

    async def go():
        client = sagerun.AsyncClient(endpoint_url=f"http://127.0.0.1:{port}", config=config(), **KEYS)
        await refused(client)
        with H.HostileServer([H.ok], port=port):
            _, body = await invoke(client)
        return body
    assert run(go) == H.OK_BODY

"""The sync client against a misbehaving server (tests/hostile_server.py):
every failure is a clear typed exception (compared with what boto3 raises
against the very same behaviour), every call ends within its timeout plus a
generous margin, and the same client keeps working afterwards (no broken
connection left in its pool)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, ParserError

import hostile_server as H
import sagerun
from sagerun._errors import EventStreamTruncatedError

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "s3cr3t-key"}
READ_TIMEOUT = 1.0
# A call must end within this: the read timeout plus a wide margin. It is a
# bound on behaviour (no hang), not a speed measurement.
CALL_BOUND = 10.0


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


def config(**retries: Any) -> Config:
    return Config(connect_timeout=READ_TIMEOUT, read_timeout=READ_TIMEOUT,
                  retries=retries or {"total_max_attempts": 1})


def make_client(kind: str, url: str, cfg: Optional[Config] = None) -> Any:
    cfg = cfg or config()
    if kind == "boto3":
        return boto3.client("sagemaker-runtime", endpoint_url=url, config=cfg, **KEYS)
    return sagerun.Client(endpoint_url=url, config=cfg, **KEYS)


@dataclass
class Outcome:
    error: Optional[BaseException]
    value: Any
    elapsed: float


def attempt(call: Callable[[], Any], partial: Optional[List[Any]] = None) -> Outcome:
    start = time.monotonic()
    try:
        value, error = call(), None
    except Exception as e:  # the test inspects what was raised
        value, error = partial, e
    return Outcome(error, value, time.monotonic() - start)


def invoke(client: Any) -> Callable[[], Any]:
    """The call, its body read inside it (boto3 reads bodies lazily): (response, body)."""
    def call() -> "tuple[Dict[str, Any], bytes]":
        r = client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        return r, r["Body"].read()
    return call


def read_stream(client: Any, events: List[Any]) -> Callable[[], Any]:
    """Collects events into `events` (kept when iteration raises)."""
    def call() -> List[Any]:
        r = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
        for event in r["Body"]:
            events.append(event)
        return events
    return call


def still_works(client: Any) -> None:
    r = client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    assert r["Body"].read() == H.OK_BODY


def run_against(kind: str, behaviour: H.Behaviour, call: Callable[[Any], Callable[[], Any]],
                cfg: Optional[Config] = None) -> "tuple[Outcome, List[H.Request]]":
    """One call through `kind`'s client against `behaviour`, then a call that
    the server answers well, through the same client."""
    with H.HostileServer([behaviour, H.ok]) as srv:
        client = make_client(kind, srv.url, cfg)
        outcome = attempt(call(client))
        assert outcome.elapsed < CALL_BOUND
        still_works(client)
        return outcome, list(srv.requests)


# -- connection refused -------------------------------------------------------


def test_refused_then_the_same_client_connects_once_a_server_listens():
    port = H.closed_port()
    url = f"http://127.0.0.1:{port}"
    outcomes = {kind: attempt(invoke(make_client(kind, url))) for kind in ("boto3", "sagerun")}
    assert type(outcomes["boto3"].error) is bex.EndpointConnectionError
    assert type(outcomes["sagerun"].error) is bex.EndpointConnectionError
    assert outcomes["sagerun"].elapsed < CALL_BOUND
    client = make_client("sagerun", url)
    with pytest.raises(bex.EndpointConnectionError):
        invoke(client)()
    with H.HostileServer([H.ok], port=port):
        still_works(client)


# -- InvokeEndpoint: failures ---------------------------------------------------

FAILING = {
    "reset_before_response": (H.reset_before_response, bex.ConnectionClosedError),
    "no_response": (H.no_response, bex.ReadTimeoutError),
    "header_value_1MiB": (H.huge_header(1024 * 1024), bex.ConnectionClosedError),
    "close_after_headers": (H.close_after_headers, bex.ResponseStreamingError),
    "short_body": (H.short_body, bex.ResponseStreamingError),
}


@pytest.mark.parametrize("name", list(FAILING))
def test_invoke_failure_is_typed_bounded_and_leaves_the_pool_usable(name):
    behaviour, _ = FAILING[name]
    outcome, requests = run_against("sagerun", behaviour, invoke)
    # A clear botocore transport error, raised before any response dict.
    assert isinstance(outcome.error, bex.HTTPClientError), outcome.error
    assert "127.0.0.1" in str(outcome.error) or "response stream" in str(outcome.error)
    # The broken connection was not reused for the next call.
    assert len(requests) == 2 and requests[1].connection != requests[0].connection


@pytest.mark.parametrize("name", list(FAILING))
def test_invoke_failure_raises_the_class_boto3_raises(name):
    behaviour, expected = FAILING[name]
    boto, _ = run_against("boto3", behaviour, invoke)
    assert type(boto.error) is expected, boto.error  # the reference, as observed
    ours, _ = run_against("sagerun", behaviour, invoke)
    assert type(ours.error) is type(boto.error), ours.error


def test_no_response_ends_at_the_read_timeout_even_with_retries():
    """Three attempts, each silent: the call ends after about three read timeouts."""
    cfg = config(mode="standard", total_max_attempts=3)
    with H.HostileServer(["no_response", "no_response", "no_response", "ok"]) as srv:
        client = make_client("sagerun", srv.url, cfg)
        outcome = attempt(invoke(client))
        assert type(outcome.error) is bex.ReadTimeoutError
        assert outcome.elapsed < 3 * READ_TIMEOUT + CALL_BOUND
        assert len(srv.requests) == 3
        still_works(client)


# -- InvokeEndpoint: odd but valid responses ----------------------------------------


def test_a_response_dribbled_a_byte_every_10ms_succeeds_like_boto3():
    """The read timeout bounds each wait for a byte, not the whole response
    (as urllib3's does): a 0.5 s timeout, a response taking about 1 s."""
    cfg = Config(read_timeout=0.5, retries={"total_max_attempts": 1})
    bodies = {}
    for kind in ("boto3", "sagerun"):
        outcome, _ = run_against(kind, H.dribble, invoke, cfg)
        assert outcome.error is None, outcome.error
        bodies[kind] = outcome.value[1]
    assert bodies["sagerun"] == bodies["boto3"] == b"slow"


def test_response_headers_sent_one_byte_at_a_time():
    results = {}
    for kind in ("boto3", "sagerun"):
        outcome, _ = run_against(kind, H.headers_byte_by_byte, invoke)
        assert outcome.error is None, outcome.error
        r, body = outcome.value
        results[kind] = (body, r["ContentType"], r["ResponseMetadata"]["RequestId"])
    assert results["sagerun"] == results["boto3"] == (H.OK_BODY, "application/json", "hostile-req")


def test_a_64KiB_header_value_is_read_whole():
    """sagerun accepts it (boto3's http.client refuses header lines over
    64 KiB with ConnectionClosedError: sagerun is more lenient here, and
    still bounded, see the 1 MiB case)."""
    outcome, _ = run_against("sagerun", H.huge_header(64 * 1024), invoke)
    assert outcome.error is None, outcome.error
    r, body = outcome.value
    assert body == H.OK_BODY
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-hostile"] == "v" * 64 * 1024


# -- retries ----------------------------------------------------------------------

RETRY_SCRIPTS = {
    "503_429throttling_ok": [H.status(503, "ServiceUnavailable"), H.status(429, "ThrottlingException"), H.ok],
    "503_429notready_ok": [H.status(503, "ServiceUnavailable"), H.status(429, "ModelNotReadyException"), H.ok],
    "reset_silence_ok": [H.reset_before_response, H.no_response, H.ok],
}


@pytest.mark.parametrize("name", list(RETRY_SCRIPTS))
def test_standard_retries_through_hostile_answers_like_boto3(name):
    cfg = config(mode="standard", total_max_attempts=3)
    seen: Dict[str, Any] = {}
    for kind in ("boto3", "sagerun"):
        with H.HostileServer(RETRY_SCRIPTS[name]) as srv:
            client = make_client(kind, srv.url, cfg)
            outcome = attempt(invoke(client))
            assert outcome.elapsed < 3 * READ_TIMEOUT + CALL_BOUND
            if outcome.error is None:
                r, body = outcome.value
                seen[kind] = ("ok", body, r["ResponseMetadata"]["RetryAttempts"], len(srv.requests))
            elif isinstance(outcome.error, bex.ClientError):
                response = outcome.error.response
                seen[kind] = (response["Error"]["Code"], None,
                              response["ResponseMetadata"]["RetryAttempts"], len(srv.requests))
            else:
                seen[kind] = (type(outcome.error), None, None, len(srv.requests))
            if len(srv.requests) >= len(srv.behaviours):  # the script reached `ok`
                still_works(client)
    assert seen["sagerun"] == seen["boto3"]
    # Sanity of the reference itself: the sequences this test is about.
    if name == "503_429notready_ok":  # standard mode does not retry ModelNotReady
        assert seen["boto3"] == ("ModelNotReadyException", None, 1, 2)
    else:
        assert seen["boto3"] == ("ok", H.OK_BODY, 2, 3)


# -- the response stream ----------------------------------------------------------

FIRST = [{"PayloadPart": {"Bytes": b"first"}}]
STREAMS = {
    # name: (behaviour, sagerun's class, boto3's class or None if boto3 ends silently)
    "cut_mid_frame": (H.stream_cut_mid_frame, EventStreamTruncatedError, Exception),
    "ends_mid_frame": (H.stream_ends_mid_frame, EventStreamTruncatedError, None),
    "prelude_claims_4GiB": (H.stream_4gib_prelude, ParserError, ParserError),
    "bad_prelude_crc": (H.stream_bad_prelude_crc, ChecksumMismatch, ChecksumMismatch),
    "bad_message_crc": (H.stream_bad_message_crc, ChecksumMismatch, ChecksumMismatch),
    "headers_over_128KiB": (H.stream_headers_over_limit, ParserError, ParserError),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_hostile_stream_raises_after_the_good_events(name):
    behaviour, ours_class, boto_class = STREAMS[name]
    got: Dict[str, Outcome] = {}
    for kind in ("boto3", "sagerun"):
        events: List[Any] = []
        got[kind], _ = run_against(kind, behaviour, lambda c: read_stream(c, events))
        got[kind].value = events
    # The event before the bad frame arrives intact in both; then sagerun raises.
    assert got["sagerun"].value == got["boto3"].value == FIRST
    assert isinstance(got["sagerun"].error, ours_class), got["sagerun"].error
    if boto_class is None:
        assert got["boto3"].error is None  # botocore stops silently (PROTOCOL.md)
    else:
        assert isinstance(got["boto3"].error, boto_class), got["boto3"].error
    # Truncation is a ResponseStreamingError; corruption botocore's ParserError.
    expected_base = bex.ResponseStreamingError if ours_class is EventStreamTruncatedError else ParserError
    assert isinstance(got["sagerun"].error, expected_base)


@pytest.mark.parametrize("name", ["bad_prelude_crc", "bad_message_crc"])
def test_a_connection_that_carried_a_corrupt_stream_is_not_reused(name):
    for kind in ("boto3", "sagerun"):
        events: List[Any] = []
        _, requests = run_against(kind, STREAMS[name][0], lambda c: read_stream(c, events))
        assert requests[1].connection != requests[0].connection, kind


STREAM_OPENINGS = ["reset_before_response", "no_response", "header_value_1MiB"]


@pytest.mark.parametrize("name", STREAM_OPENINGS)
def test_a_stream_request_failing_before_any_event_raises_like_boto3(name):
    behaviour, expected = FAILING[name]
    errors = {}
    for kind in ("boto3", "sagerun"):
        events: List[Any] = []
        outcome, _ = run_against(kind, behaviour, lambda c: read_stream(c, events))
        assert events == []
        errors[kind] = outcome.error
    assert type(errors["boto3"]) is expected, errors["boto3"]  # the reference, as observed
    assert type(errors["sagerun"]) is expected, errors["sagerun"]


def test_a_stream_whose_body_never_comes_is_truncated():
    """Content-Length: 100, then the connection closes: boto3 yields no event
    and no error; sagerun says the stream was truncated."""
    events: List[Any] = []
    outcome, _ = run_against("sagerun", H.close_after_headers, lambda c: read_stream(c, events))
    assert events == []
    assert isinstance(outcome.error, EventStreamTruncatedError), outcome.error


def test_the_4GiB_prelude_fails_at_once_without_waiting_for_its_bytes():
    """The server holds the connection open after the prelude: a client that
    waited for the claimed bytes would end only at its read timeout."""
    cfg = Config(read_timeout=60, retries={"total_max_attempts": 1})
    events: List[Any] = []
    outcome, _ = run_against("sagerun", H.stream_4gib_prelude, lambda c: read_stream(c, events), cfg)
    assert isinstance(outcome.error, ParserError) and not isinstance(outcome.error, bex.ReadTimeoutError)
    assert "length" in str(outcome.error)
    assert outcome.elapsed < CALL_BOUND


def test_a_stream_dribbled_a_byte_every_10ms_decodes_like_boto3():
    events: Dict[str, List[Any]] = {}
    for kind in ("boto3", "sagerun"):
        events[kind] = []
        outcome, _ = run_against(kind, H.dribble, lambda c: read_stream(c, events[kind]))
        assert outcome.error is None, outcome.error
    assert events["sagerun"] == events["boto3"] == [{"PayloadPart": {"Bytes": b"slow"}}]


def test_a_silent_stream_ends_at_the_read_timeout():
    """Headers and one event arrive, then nothing: iteration ends with
    ReadTimeoutError after the read timeout (botocore raises the same class)."""
    hold = H.stream_of(H.GOOD_FRAME, then_hold=True)
    errors = {}
    for kind in ("boto3", "sagerun"):
        events: List[Any] = []
        outcome, _ = run_against(kind, hold, lambda c: read_stream(c, events))
        assert events == FIRST
        errors[kind] = outcome.error
    assert isinstance(errors["sagerun"], bex.ReadTimeoutError), errors["sagerun"]


# -- memory ---------------------------------------------------------------------------

MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys
    import sagerun
    from botocore.config import Config
    url = sys.argv[1]
    client = sagerun.Client(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDTEST",
                            aws_secret_access_key="s3cr3t-key",
                            config=Config(read_timeout=30, retries={"total_max_attempts": 1}))
    client.invoke_endpoint(EndpointName="ep", Body=b"{}")  # warm: imports, runtime, pool
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = None
    try:
        for _ in client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]:
            pass
    except Exception as e:
        error = type(e).__name__
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"error": error, "growth_kib": after - before}))
""")


def test_a_4GiB_prelude_followed_by_a_flood_fails_without_allocating():
    """The prelude is followed by 256 MiB of bytes: a client that allocated
    the claimed length, or buffered the flood hoping to complete the frame,
    would grow its peak RSS by far more than 100 MiB. Measured in a fresh
    process so that earlier tests' peaks cannot hide growth."""
    with H.HostileServer([H.ok, H.stream_4gib_prelude_then_flood(256), H.ok]) as srv:
        probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, srv.url],
                               capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout)
    assert result["error"] == "EventStreamCorruptError"
    assert result["growth_kib"] < 100 * 1024

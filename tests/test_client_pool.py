"""The client's keep-alive pool against tests/hostile_server.py, which records
which accepted connection carried each request: connections are reused
when they can be, and never when they cannot (whatever boto3's urllib3 pool
also does: the same scenarios run through boto3 as the reference)."""

from __future__ import annotations

import time
from typing import Any, List

import boto3
import pytest
from botocore.config import Config

import hostile_server as H
import sagerun

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "s3cr3t-key"}
# Retries off: a call that picked a dead connection would fail, not be retried.
CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1})
KINDS = ["sagerun", "boto3"]


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


def client(kind: str, url: str) -> Any:
    if kind == "boto3":
        return boto3.client("sagemaker-runtime", endpoint_url=url, config=CONFIG, **KEYS)
    return sagerun.Client(endpoint_url=url, config=CONFIG, **KEYS)


def invoke(c: Any) -> bytes:
    return c.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read()


def stream(c: Any) -> List[bytes]:
    r = c.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    return [e["PayloadPart"]["Bytes"] for e in r["Body"]]


def connections(srv: H.HostileServer) -> List[int]:
    return [r.connection for r in srv.requests]


@pytest.mark.parametrize("kind", KINDS)
def test_calls_and_streams_read_to_their_end_share_one_connection(kind):
    with H.HostileServer(["ok"]) as srv:
        c = client(kind, srv.url)
        for _ in range(3):
            assert invoke(c) == H.OK_BODY
            assert stream(c) == [b"fine"]
        assert connections(srv) == [0] * 6


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_closed_before_its_end_leaves_its_connection_out(kind):
    parts = H.stream_of(H.payload_part(b"a"), H.payload_part(b"b"), then_hold=True)
    with H.HostileServer([parts, "ok"]) as srv:
        c = client(kind, srv.url)
        body = c.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]
        assert next(iter(body))["PayloadPart"]["Bytes"] == b"a"
        body.close()
        assert invoke(c) == H.OK_BODY
        assert connections(srv) == [0, 1]


def close_after_answer(conn: H.Conn, request: H.Request) -> bool:
    """Answers with `Connection: close`, then closes."""
    conn.send(H.full_response(200, H.OK_BODY, [("Connection", "close")]))
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_after_a_connection_close_answer_the_next_call_opens_a_new_one(kind):
    with H.HostileServer([close_after_answer, "ok"]) as srv:
        c = client(kind, srv.url)
        assert invoke(c) == H.OK_BODY
        assert invoke(c) == H.OK_BODY
        assert connections(srv) == [0, 1]


def answer_then_speak_unasked(conn: H.Conn, request: H.Request) -> bool:
    """Answers, then sends a stray answer on the idle connection (so a reused
    connection would read it as the answer to the next request)."""
    stray = H.full_response(500, b'{"stray": true}')
    return conn.send(H.full_response(200, H.OK_BODY)) and (time.sleep(0.05) or conn.send(stray))


@pytest.mark.parametrize("kind", KINDS)
def test_an_idle_connection_that_received_bytes_unasked_is_not_reused(kind):
    with H.HostileServer([answer_then_speak_unasked, "ok"]) as srv:
        c = client(kind, srv.url)
        assert invoke(c) == H.OK_BODY
        time.sleep(0.3)
        assert invoke(c) == H.OK_BODY
        assert connections(srv) == [0, 1]

"""sagerun.AsyncClient's three operations against a LocalRuntime, each beside
the reference async client (aiobotocore, see tests/async_support.py) on the
same server: equal response dicts (minus per-request values), equal
exceptions (class, code, message, extra fields), equal streams. The
scenarios are those of the sync client's tests (test_client_operations)."""

from __future__ import annotations

import io
import os

import botocore.exceptions as bex
import pytest
from botocore.eventstream import ChecksumMismatch, ParserError
from hypothesis import given, settings
from hypothesis import strategies as st

import sagerun
from async_support import LOOPS, outcome, read_body, read_events, reference_client, run
from sagerun._async_body import AsyncStreamingBody
from sagerun._errors import EventStreamTruncatedError
from test_client_operations import ENDPOINTS  # noqa: F401 (served by conftest's rt)
from test_client_operations import (
    ERROR_CODES, MEMBER_SETS, NO_RETRIES, TEXT, comparable, comparable_error,
)


def both(rt, scenario, loop="asyncio"):
    """Runs ``scenario(client)`` (a coroutine function) with our AsyncClient
    and with the reference client: (ours, reference)."""
    async def go():
        async with sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs()) as ours:
            a = await scenario(ours)
        async with reference_client(rt.client_kwargs(), NO_RETRIES) as ref:
            b = await scenario(ref)
        return a, b
    return run(go, loop)


def invoke(method, **kwargs):
    async def scenario(client):
        r = await getattr(client, method)(**kwargs)
        if "Body" in r:
            body = r["Body"]
            r["Body"] = await (read_body(body) if method == "invoke_endpoint" else read_events(body))
        return r
    return scenario


def failing(method, **kwargs):
    async def scenario(client):
        result, error = await outcome(getattr(client, method)(**kwargs))
        assert result is None, result
        return error
    return scenario


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("members", MEMBER_SETS, ids=lambda m: ",".join(m))
def test_invoke_endpoint_matches_the_reference(rt, members, loop):
    a, b = both(rt, invoke("invoke_endpoint", EndpointName="echo", **members), loop)
    assert a["Body"] == b["Body"]
    assert comparable(a) == comparable(b)
    assert a["ResponseMetadata"]["RetryAttempts"] == 0


def test_the_body_behaves_like_aiobotocores_streaming_body(rt):
    async def go():
        async with sagerun.AsyncClient(**rt.client_kwargs()) as client:
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"line1\nline2\r\nline3")
            body = r["Body"]
            assert await body.read(3) == b"lin"
            assert body.tell() == 3
            assert [line async for line in body.iter_lines()] == [b"e1", b"line2", b"line3"]
            assert await body.read() == b""
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"abcdef")
            async with r["Body"] as body:
                assert [c async for c in body.iter_chunks(chunk_size=4)] == [b"abcd", b"ef"]
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"x" * 2500)
            assert [len(c) async for c in r["Body"]] == [1024, 1024, 452]  # 1 KiB chunks
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"a\nb")
            assert await r["Body"].readlines() == [b"a", b"b"]
            with pytest.raises(TypeError):
                iter(r["Body"])  # async only, as aiobotocore's
    run(go)


def test_new_session_ids_like_the_reference(rt):
    a, b = both(rt, invoke("invoke_endpoint", EndpointName="echo", Body=b"{}", SessionId="NEW_SESSION"))
    assert comparable(a) == comparable(b)
    assert a.get("NewSessionId") and b.get("NewSessionId")


def test_invoke_endpoint_async_matches_the_reference(rt):
    bucket = os.path.join(rt.data_dir, "bucket")
    os.makedirs(bucket, exist_ok=True)
    with open(os.path.join(bucket, "in.json"), "wb") as f:
        f.write(b'{"async": true}')
    kwargs = dict(EndpointName="echo", InputLocation="s3://bucket/in.json",
                  ContentType="application/json", Accept="application/json",
                  CustomAttributes="c=1", RequestTTLSeconds=600, InvocationTimeoutSeconds=60)
    a, b = both(rt, invoke("invoke_endpoint_async", **kwargs))
    assert a["ResponseMetadata"]["HTTPStatusCode"] == b["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert comparable(a) == comparable(b)
    assert isinstance(a["InferenceId"], str) and a["OutputLocation"].startswith("s3://")
    a, b = both(rt, invoke("invoke_endpoint_async", EndpointName="echo",
                           InputLocation="s3://bucket/in.json", InferenceId="fixed-id"))
    assert a["InferenceId"] == b["InferenceId"] == "fixed-id"


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("endpoint", ["raw", "jsonl", "sse", "openai", "sse-bytes", "many", "echo"])
def test_stream_matches_the_reference(rt, endpoint, loop):
    kwargs = dict(EndpointName=endpoint, Body=b'{"inputs": "hi"}', ContentType="application/json",
                  Accept="application/jsonlines", CustomAttributes="x", TargetVariant="AllTraffic",
                  InferenceId="stream-1")
    a, b = both(rt, invoke("invoke_endpoint_with_response_stream", **kwargs), loop)
    assert comparable(a) == comparable(b)
    (ours_events, ours_error), (ref_events, ref_error) = a["Body"], b["Body"]
    assert ours_error is None and ref_error is None
    assert ours_events == ref_events and ours_events
    assert all(set(e) == {"PayloadPart"} and set(e["PayloadPart"]) == {"Bytes"} for e in ours_events)


def same_error(a, b, code):
    assert type(a).__name__ == type(b).__name__  # each client has its own classes
    assert isinstance(a, bex.ClientError)
    assert str(a) == str(b)
    assert comparable_error(a) == comparable_error(b)
    assert a.response["Error"]["Code"] == code


@pytest.mark.parametrize("code", ERROR_CODES)
@pytest.mark.parametrize("method", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_every_error_code_raises_like_the_reference(rt, code, method):
    a, b = both(rt, failing(method, EndpointName=f"err-{code}", Body=b"{}"))
    same_error(a, b, code)


def test_exceptions_are_the_clients_own_classes(rt):
    async def go():
        async with sagerun.AsyncClient(config=NO_RETRIES, **rt.client_kwargs()) as client:
            with pytest.raises(client.exceptions.ModelError) as info:
                await client.invoke_endpoint(EndpointName="model-error", Body=b"{}")
            return info.value
    error = run(go)
    assert error.response["OriginalStatusCode"] == 503
    assert error.response["OriginalMessage"] == "container says no"
    assert error.response["LogStreamArn"] == "arn:aws:logs:x"
    a, b = both(rt, failing("invoke_endpoint", EndpointName="model-error", Body=b"{}"))
    same_error(a, b, "ModelError")


def test_bad_parameters_raise_before_sending(rt):
    """ParamValidationError from botocore's model, as the reference raises it;
    no request reaches the server."""
    cases = [dict(Body=b"{}"), dict(EndpointName="echo"), dict(EndpointName="echo", Body=123),
             dict(EndpointName="echo", Body=b"{}", CustomAttributes="a\r\nX-Injected: 1"),
             dict(EndpointName="echo", Body=b"{}", Unknown=1)]
    for kwargs in cases:
        a, b = both(rt, failing("invoke_endpoint", **kwargs))
        assert type(a) is bex.ParamValidationError, (kwargs, a)
        if "CustomAttributes" not in kwargs:  # botocore has no CR/LF rule (sagerun's own)
            assert type(b) is bex.ParamValidationError, (kwargs, b)

    async def positional():
        async with sagerun.AsyncClient(**rt.client_kwargs()) as client:
            with pytest.raises(TypeError):
                await client.invoke_endpoint({"EndpointName": "echo"})
    run(positional)


def test_wrong_credentials_are_refused_like_the_reference(rt):
    kwargs = {**rt.client_kwargs(), "aws_secret_access_key": "wrong"}

    async def go():
        async with sagerun.AsyncClient(config=NO_RETRIES, **kwargs) as ours:
            a = await failing("invoke_endpoint", EndpointName="echo", Body=b"{}")(ours)
        async with reference_client(kwargs, NO_RETRIES) as ref:
            b = await failing("invoke_endpoint", EndpointName="echo", Body=b"{}")(ref)
        return a, b
    a, b = run(go)
    assert type(a).__name__ == type(b).__name__
    assert a.response["Error"] == b.response["Error"]
    assert a.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("endpoint", ["stream-error", "stream-failure"])
def test_in_stream_exceptions_raise_like_the_reference(rt, endpoint):
    a, b = both(rt, invoke("invoke_endpoint_with_response_stream", EndpointName=endpoint, Body=b"{}"))
    (ours_events, ours_error), (ref_events, ref_error) = a["Body"], b["Body"]
    assert ours_events == ref_events and len(ours_events) in (2, 3)
    assert type(ours_error) is type(ref_error) is bex.EventStreamError
    assert ours_error.response == ref_error.response
    assert str(ours_error) == str(ref_error)


@pytest.mark.parametrize("loop", LOOPS)
def test_truncated_and_corrupt_streams_raise(rt, loop):
    a, b = both(rt, invoke("invoke_endpoint_with_response_stream", EndpointName="stream-cut", Body=b"{}"), loop)
    (ours_events, ours_error), (ref_events, _) = a["Body"], b["Body"]
    assert ours_events == ref_events  # the same complete frames first
    assert isinstance(ours_error, EventStreamTruncatedError)
    assert isinstance(ours_error, bex.ResponseStreamingError)
    a, b = both(rt, invoke("invoke_endpoint_with_response_stream", EndpointName="stream-crc", Body=b"{}"), loop)
    (ours_events, ours_error), (ref_events, ref_error) = a["Body"], b["Body"]
    assert ours_events == ref_events and len(ours_events) == 2
    assert isinstance(ref_error, ChecksumMismatch)
    assert isinstance(ours_error, ChecksumMismatch) and isinstance(ours_error, ParserError)


@pytest.mark.parametrize("loop", LOOPS)
def test_stream_helpers_are_async(rt, loop):
    """The stream's Body offers sagerun.streaming's aiter_* helpers as methods."""
    async def go():
        async with sagerun.AsyncClient(**rt.client_kwargs()) as client:
            async def body(endpoint):
                r = await client.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")
                return r["Body"]
            assert b"".join([p async for p in (await body("raw")).iter_bytes()]) == TEXT.encode()
            assert "".join([t async for t in (await body("raw")).iter_text()]) == TEXT
            lines = [line async for line in (await body("raw")).iter_lines()]
            assert lines == [line.encode() for line in TEXT.split("\n")]
            for fmt in ("jsonl", "sse", "openai", "sse-bytes"):
                assert "".join([t async for t in (await body(fmt)).iter_tokens()]) == TEXT, fmt
            events = [e async for e in (await body("sse")).iter_sse()]
            assert events and all(e.data for e in events)
            with pytest.raises(bex.EventStreamError):
                async for _ in (await body("stream-error")).iter_text():
                    pass
    run(go, loop)


def test_stream_close_and_context_manager(rt):
    async def go():
        async with sagerun.AsyncClient(**rt.client_kwargs()) as client:
            r = await client.invoke_endpoint_with_response_stream(EndpointName="many", Body=b"{}")
            first = await r["Body"].__anext__()
            assert first["PayloadPart"]["Bytes"]
            r["Body"].close()
            assert [e async for e in r["Body"]] == []
            r = await client.invoke_endpoint_with_response_stream(EndpointName="raw", Body=b"{}")
            async with r["Body"] as body:
                assert b"".join([p async for p in body.iter_bytes()]).decode() == TEXT
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"still works")
            assert await r["Body"].read() == b"still works"
    run(go)


def test_one_client_serves_several_event_loops_in_turn(rt):
    client = sagerun.AsyncClient(**rt.client_kwargs())

    async def call():
        r = await client.invoke_endpoint(EndpointName="echo", Body=b"loop")
        return await r["Body"].read()
    assert [run(call, loop) for loop in LOOPS * 2] == [b"loop"] * len(LOOPS) * 2


def test_repr_and_exports():
    assert sagerun.AsyncClient is sagerun._async_client.AsyncClient
    assert "AsyncClient" in sagerun.__all__
    client = sagerun.AsyncClient(region_name="us-east-1", aws_access_key_id="AKID",
                                 aws_secret_access_key="s3cr3t")
    assert "s3cr3t" not in repr(client) and repr(client).startswith("<sagerun.AsyncClient")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.one_of(st.none(), st.integers(-1, 1500)), max_size=8),
       st.integers(1, 2048))
def test_body_reads_like_a_file(data, amounts, chunk_size):
    """read(amt) in any sequence reads as io.BytesIO does; iter_chunks cuts
    the rest into chunk_size pieces."""
    async def go():
        body, reference = AsyncStreamingBody(data), io.BytesIO(data)
        for amt in amounts:
            assert await body.read(amt) == reference.read(amt)
            assert body.tell() == reference.tell()
        rest = reference.read()
        assert [c async for c in body.iter_chunks(chunk_size)] == [
            rest[i:i + chunk_size] for i in range(0, len(rest), chunk_size)]
        assert await body.read() == b""
    run(go)

"""The three operations against a LocalRuntime, each beside boto3 on the same
server: equal response dicts (minus per-request values), equal exceptions
(class, code, message, extra fields), equal streams."""

from __future__ import annotations

import copy

import boto3
import botocore.exceptions as bex
import pytest
from botocore.eventstream import ChecksumMismatch, ParserError

import sagerun
from sagerun._errors import EventStreamTruncatedError

TEXT = "Hello world, this is sagerun streaming tokens.\nSecond line ✓ done"
ENDPOINTS = {
    "echo": {"model": "echo"},
    "raw": {"model": "tokens", "text": TEXT, "parts": 9, "format": "raw"},
    "jsonl": {"model": "tokens", "text": TEXT, "parts": 9, "format": "jsonl"},
    "sse": {"model": "tokens", "text": TEXT, "parts": 9, "format": "sse"},
    "openai": {"model": "tokens", "text": TEXT, "parts": 9, "format": "openai"},
    "sse-bytes": {"model": "tokens", "text": TEXT, "parts": 11, "format": "sse", "split": "bytes"},
    "many": {"model": "tokens", "text": "x" * 200, "parts": 200, "format": "raw"},
    "model-error": {"model": "error", "code": "ModelError", "original_status": 503,
                    "original_message": "container says no", "log_stream_arn": "arn:aws:logs:x"},
    "stream-error": {"model": "tokens", "text": TEXT, "parts": 9,
                     "faults": {"stream_error_after": 3}},
    "stream-failure": {"model": "tokens", "text": TEXT, "parts": 9,
                       "faults": {"stream_error_after": 2, "stream_error": "InternalStreamFailure"}},
    "stream-cut": {"model": "tokens", "text": TEXT, "parts": 9, "faults": {"cut_after_bytes": 300}},
    "stream-crc": {"model": "tokens", "text": TEXT, "parts": 9, "faults": {"corrupt_crc_at": 2}},
}
ERROR_CODES = [
    "ValidationError", "ModelError", "ModelNotReadyException", "InternalFailure",
    "ServiceUnavailable", "InternalDependencyException", "ThrottlingException",
]
for _code in ERROR_CODES:
    ENDPOINTS[f"err-{_code}"] = {"model": "error", "code": _code, "message": f"says {_code}"}

from configs import NO_RETRIES



@pytest.fixture(scope="module")
def session(rt):
    """One boto3 session for both clients, so they share exception classes."""
    return boto3.Session()


@pytest.fixture(scope="module")
def ours(rt, session):
    return sagerun.Client(session=session, config=NO_RETRIES, **rt.client_kwargs())


@pytest.fixture(scope="module")
def boto(rt, session):
    return session.client("sagemaker-runtime", config=NO_RETRIES, **rt.client_kwargs())


VOLATILE_HEADERS = {"date", "x-amzn-requestid", "x-amzn-sagemaker-new-session-id",
                    "x-amzn-sagemaker-outputlocation", "x-amzn-sagemaker-failurelocation", "content-length"}


def comparable(response: dict) -> dict:
    """A response dict without what differs per request (ids, dates) and
    without the Body (compared on its own)."""
    r = {k: v for k, v in response.items() if k != "Body"}
    r = copy.deepcopy(r)
    meta = r["ResponseMetadata"]
    assert meta.pop("RequestId")  # present in both; differs per request
    meta["HTTPHeaders"] = {k: v for k, v in meta["HTTPHeaders"].items() if k not in VOLATILE_HEADERS}
    for key in ("NewSessionId", "InferenceId", "OutputLocation", "FailureLocation"):
        if key in r:
            r[key] = type(r[key])
    return r


def call_both(ours, boto, method: str, **kwargs):
    return getattr(ours, method)(**kwargs), getattr(boto, method)(**kwargs)


MEMBER_SETS = [
    {"Body": b'{"x": 1}'},
    {"Body": "text body ✓", "ContentType": "text/plain; charset=utf-8"},
    {"Body": b"\x00\x01binary", "ContentType": "application/octet-stream", "Accept": "application/json"},
    {"Body": b"{}", "CustomAttributes": "trace=1;c000-b", "TargetVariant": "variant-1",
     "TargetContainerHostname": "host-1", "InferenceId": "inf 42", "EnableExplanations": "`true`"},
    {"Body": b"{}", "TargetModel": "model-a.tar.gz"},
    {"Body": b"{}", "InferenceComponentName": "component-1"},
    {"Body": b""},
]
_MODEL = boto3.Session().client("sagemaker-runtime", region_name="us-east-1").meta.service_model
if "PrefixAwareId" in _MODEL.operation_model("InvokeEndpoint").input_shape.members:
    MEMBER_SETS.append({"Body": b"{}", "PrefixAwareId": "prefix-1"})


@pytest.mark.parametrize("members", MEMBER_SETS, ids=lambda m: ",".join(m))
def test_invoke_endpoint_matches_boto3(ours, boto, members):
    a, b = call_both(ours, boto, "invoke_endpoint", EndpointName="echo", **members)
    assert a["Body"].read() == b["Body"].read()
    assert comparable(a) == comparable(b)
    assert a["ResponseMetadata"]["RetryAttempts"] == 0


def test_invoke_endpoint_body_is_a_streaming_body(ours):
    r = ours.invoke_endpoint(EndpointName="echo", Body=b"line1\nline2\nline3")
    body = r["Body"]
    assert body.read(3) == b"lin"
    assert list(body.iter_lines()) == [b"e1", b"line2", b"line3"]
    body.close()
    r = ours.invoke_endpoint(EndpointName="echo", Body=b"abcdef")
    with r["Body"]:  # botocore's StreamingBody, context manager included
        assert b"".join(r["Body"].iter_chunks(chunk_size=4)) == b"abcdef"


def test_file_like_body(ours, boto, tmp_path):
    path = tmp_path / "payload.json"
    path.write_bytes(b'{"from": "file"}')
    with open(path, "rb") as f1, open(path, "rb") as f2:
        a = ours.invoke_endpoint(EndpointName="echo", Body=f1)
        b = boto.invoke_endpoint(EndpointName="echo", Body=f2)
    assert a["Body"].read() == b["Body"].read() == b'{"from": "file"}'


def test_new_session_ids_like_boto3(ours, boto):
    a, b = call_both(ours, boto, "invoke_endpoint", EndpointName="echo", Body=b"{}", SessionId="NEW_SESSION")
    assert comparable(a) == comparable(b)
    assert a.get("NewSessionId") and b.get("NewSessionId")
    closing = a["NewSessionId"].split(";")[0]
    r = ours.invoke_endpoint(EndpointName="echo", Body=b"{}", SessionId=closing)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_invoke_endpoint_async_matches_boto3(rt, ours, boto):
    import os

    bucket = os.path.join(rt.data_dir, "bucket")
    os.makedirs(bucket, exist_ok=True)
    with open(os.path.join(bucket, "in.json"), "wb") as f:
        f.write(b'{"async": true}')
    kwargs = dict(EndpointName="echo", InputLocation="s3://bucket/in.json",
                  ContentType="application/json", Accept="application/json",
                  CustomAttributes="c=1", RequestTTLSeconds=600, InvocationTimeoutSeconds=60)
    a, b = call_both(ours, boto, "invoke_endpoint_async", **kwargs)
    assert a["ResponseMetadata"]["HTTPStatusCode"] == b["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert comparable(a) == comparable(b)
    assert isinstance(a["InferenceId"], str) and a["OutputLocation"].startswith("s3://")
    a, b = call_both(ours, boto, "invoke_endpoint_async", EndpointName="echo",
                     InputLocation="s3://bucket/in.json", InferenceId="fixed-id")
    assert a["InferenceId"] == b["InferenceId"] == "fixed-id"


@pytest.mark.skipif("Body" not in _MODEL.operation_model("InvokeEndpointAsync").input_shape.members,
                    reason="this botocore has no inline Body for InvokeEndpointAsync")
def test_invoke_endpoint_async_inline_body_matches_boto3(ours, boto):
    kwargs = dict(EndpointName="echo", Body=b'{"inline": 1}', ContentType="application/json")
    a, b = call_both(ours, boto, "invoke_endpoint_async", **kwargs)
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert comparable(a) == comparable(b)
    with pytest.raises(bex.ParamValidationError):
        ours.invoke_endpoint_async(EndpointName="echo", Body=b"x" * 128_001)


@pytest.mark.parametrize("endpoint", ["raw", "jsonl", "sse", "openai", "sse-bytes", "many", "echo"])
def test_stream_matches_boto3(ours, boto, endpoint):
    kwargs = dict(EndpointName=endpoint, Body=b'{"inputs": "hi"}', ContentType="application/json",
                  Accept="application/jsonlines", CustomAttributes="x", TargetVariant="AllTraffic",
                  InferenceId="stream-1")
    a, b = call_both(ours, boto, "invoke_endpoint_with_response_stream", **kwargs)
    assert comparable(a) == comparable(b)
    ours_events, boto_events = list(a["Body"]), list(b["Body"])
    assert ours_events == boto_events
    assert all(set(e) == {"PayloadPart"} and set(e["PayloadPart"]) == {"Bytes"} for e in ours_events)


@pytest.mark.parametrize("endpoint", ["jsonl", "sse", "sse-bytes"])
def test_stream_iter_lines_reassembles_lines(ours, boto, endpoint):
    r = ours.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")
    lines = list(r["Body"].iter_lines())
    whole = b"".join(e["PayloadPart"]["Bytes"] for e in boto.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=b"{}")["Body"])
    assert lines == [line.rstrip(b"\r") for line in whole.split(b"\n")][: len(lines)]
    assert b"".join(lines) == whole.replace(b"\n", b"").replace(b"\r", b"")
    for line in lines:
        line.decode("utf-8")  # UTF-8 split across parts is rejoined


def exception_pair(ours_call, boto_call):
    with pytest.raises(Exception) as ours_info:
        ours_call()
    with pytest.raises(Exception) as boto_info:
        boto_call()
    return ours_info.value, boto_info.value


def comparable_error(e: Exception) -> dict:
    r = copy.deepcopy(e.response)
    meta = r.get("ResponseMetadata")
    if meta:
        meta.pop("RequestId", None)
        meta["HTTPHeaders"] = {k: v for k, v in meta["HTTPHeaders"].items() if k not in VOLATILE_HEADERS}
    return r


@pytest.mark.parametrize("code", ERROR_CODES)
@pytest.mark.parametrize("method", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_every_error_code_raises_like_boto3(ours, boto, code, method):
    kwargs = dict(EndpointName=f"err-{code}", Body=b"{}")
    a, b = exception_pair(lambda: getattr(ours, method)(**kwargs), lambda: getattr(boto, method)(**kwargs))
    assert type(a) is type(b)
    assert isinstance(a, bex.ClientError)
    assert str(a) == str(b)
    assert comparable_error(a) == comparable_error(b)
    assert a.response["Error"]["Code"] == code
    modeled = getattr(boto.exceptions, code, None)
    if modeled is not None:
        assert isinstance(a, modeled)  # `except boto_client.exceptions.X` still catches
        assert isinstance(a, getattr(ours.exceptions, code))


def test_model_error_extra_fields(ours, boto):
    kwargs = dict(EndpointName="model-error", Body=b"{}")
    a, b = exception_pair(lambda: ours.invoke_endpoint(**kwargs), lambda: boto.invoke_endpoint(**kwargs))
    assert a.response["OriginalStatusCode"] == 503
    assert a.response["OriginalMessage"] == "container says no"
    assert a.response["LogStreamArn"] == "arn:aws:logs:x"
    assert comparable_error(a) == comparable_error(b)
    with pytest.raises(ours.exceptions.ModelError):
        ours.invoke_endpoint(**kwargs)


def test_unknown_endpoint_is_a_validation_error_like_boto3(ours, boto):
    kwargs = dict(EndpointName="no-such-endpoint", Body=b"{}")
    a, b = exception_pair(lambda: ours.invoke_endpoint(**kwargs), lambda: boto.invoke_endpoint(**kwargs))
    assert type(a) is type(b) and comparable_error(a) == comparable_error(b)


def test_wrong_credentials_are_refused_like_boto3(rt):
    kwargs = {**rt.client_kwargs(), "aws_secret_access_key": "wrong"}
    a, b = exception_pair(
        lambda: sagerun.Client(config=NO_RETRIES, **kwargs).invoke_endpoint(EndpointName="echo", Body=b"{}"),
        lambda: boto3.client("sagemaker-runtime", config=NO_RETRIES, **kwargs).invoke_endpoint(
            EndpointName="echo", Body=b"{}"),
    )
    assert type(a).__name__ == type(b).__name__
    assert a.response["Error"] == b.response["Error"]
    assert a.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def drain(stream):
    got = []
    try:
        for event in stream:
            got.append(event)
    except Exception as e:  # noqa: BLE001 - returned for comparison
        return got, e
    return got, None


@pytest.mark.parametrize("endpoint", ["stream-error", "stream-failure"])
def test_in_stream_exceptions_raise_like_boto3(ours, boto, endpoint):
    a, b = call_both(ours, boto, "invoke_endpoint_with_response_stream", EndpointName=endpoint, Body=b"{}")
    ours_events, ours_error = drain(a["Body"])
    boto_events, boto_error = drain(b["Body"])
    assert ours_events == boto_events and len(ours_events) in (2, 3)
    assert type(ours_error) is type(boto_error) is bex.EventStreamError
    assert ours_error.response == boto_error.response
    assert str(ours_error) == str(boto_error)


def test_truncated_stream_raises_where_boto3_stops(ours, boto):
    a, b = call_both(ours, boto, "invoke_endpoint_with_response_stream", EndpointName="stream-cut", Body=b"{}")
    ours_events, ours_error = drain(a["Body"])
    boto_events, _ = drain(b["Body"])
    assert ours_events == boto_events  # the same complete frames first
    assert isinstance(ours_error, EventStreamTruncatedError)
    assert isinstance(ours_error, bex.ResponseStreamingError)


def test_corrupt_stream_raises_a_checksum_error_like_boto3(ours, boto):
    a, b = call_both(ours, boto, "invoke_endpoint_with_response_stream", EndpointName="stream-crc", Body=b"{}")
    ours_events, ours_error = drain(a["Body"])
    boto_events, boto_error = drain(b["Body"])
    assert ours_events == boto_events and len(ours_events) == 2
    assert isinstance(boto_error, ChecksumMismatch)
    assert isinstance(ours_error, ChecksumMismatch) and isinstance(ours_error, ParserError)


def test_stream_close_stops_early_and_the_client_keeps_working(ours):
    r = ours.invoke_endpoint_with_response_stream(EndpointName="many", Body=b"{}")
    it = iter(r["Body"])
    next(it)
    r["Body"].close()
    assert list(r["Body"]) == []
    assert ours.invoke_endpoint(EndpointName="echo", Body=b"ok")["Body"].read() == b"ok"


def test_stream_is_a_context_manager(ours):
    with ours.invoke_endpoint_with_response_stream(EndpointName="raw", Body=b"{}")["Body"] as body:
        text = b"".join(body.iter_payload()).decode()
    assert text == TEXT


def test_stream_text_and_token_helpers(ours):
    """The Body offers sagerun.streaming's helpers as methods."""
    raw = ours.invoke_endpoint_with_response_stream(EndpointName="raw", Body=b"{}")
    assert "".join(raw["Body"].iter_text()) == TEXT
    tokens = ours.invoke_endpoint_with_response_stream(EndpointName="sse", Body=b"{}")
    assert "".join(tokens["Body"].iter_tokens()) == TEXT

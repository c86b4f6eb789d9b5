"""The three operations of the local runtime, driven by boto3 itself (an
independent client: botocore's serializer, signer, rest-json and
event-stream parsers)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import pytest

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TEXT = "Hello wörld, ünïcode ✓ tokens"

ENDPOINTS = {
    "echo": {"model": "echo"},
    "raw": {"model": "tokens", "text": TEXT, "parts": 7, "format": "raw"},
    "jsonl": {"model": "tokens", "text": TEXT, "parts": 7, "format": "jsonl"},
    "sse": {"model": "tokens", "text": TEXT, "parts": 7, "format": "sse"},
    "openai": {"model": "tokens", "text": TEXT, "parts": 7, "format": "openai"},
    "raw-bytes": {"model": "tokens", "text": TEXT, "parts": 9, "format": "raw", "split": "bytes"},
    "sse-bytes": {"model": "tokens", "text": TEXT, "parts": 9, "format": "sse", "split": "bytes"},
    "body-tokens": {"model": "tokens", "parts": 3},
    "slow-tokens": {"model": "tokens", "text": "abc", "parts": 3, "delay_ms": 20},
    # More frames than the server writes per flush: all ready at once.
    "many-parts": {"model": "tokens", "text": "tok " * 300, "parts": 300, "format": "raw"},
    "broken": {"model": "error", "code": "ModelError", "original_status": 503, "original_message": "oops"},
}


@pytest.fixture
def rt(local_runtime):
    return local_runtime(ENDPOINTS)


@pytest.fixture
def client(rt, boto_client):
    return boto_client(rt)


def stream_parts(response):
    events = list(response["Body"])
    assert all(set(e) == {"PayloadPart"} for e in events), events
    return [e["PayloadPart"]["Bytes"] for e in events]


# --- InvokeEndpoint ------------------------------------------------------------


def test_echo_returns_body_content_type_and_custom_attributes(client):
    r = client.invoke_endpoint(
        EndpointName="echo", Body=b'{"x": 1}', ContentType="application/json", CustomAttributes="trace=abc"
    )
    assert r["Body"].read() == b'{"x": 1}'
    assert r["ContentType"] == "application/json"
    assert r["CustomAttributes"] == "trace=abc"
    assert r["InvokedProductionVariant"] == "AllTraffic"
    meta = r["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    assert UUID_RE.match(meta["RequestId"])


def test_request_ids_differ_per_response(client):
    ids = {client.invoke_endpoint(EndpointName="echo", Body=b"x")["ResponseMetadata"]["RequestId"] for _ in range(5)}
    assert len(ids) == 5


def test_str_body_and_target_variant(client):
    r = client.invoke_endpoint(EndpointName="echo", Body="héllo", TargetVariant="v2")
    assert r["Body"].read() == "héllo".encode()
    assert r["InvokedProductionVariant"] == "v2"


@pytest.mark.parametrize("name", ["raw", "jsonl", "sse", "openai", "raw-bytes", "sse-bytes"])
def test_tokens_whole_output_equals_the_streamed_parts(client, name):
    whole = client.invoke_endpoint(EndpointName=name, Body=b"ignored")["Body"].read()
    parts = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName=name, Body=b"ignored"))
    assert b"".join(parts) == whole
    assert len(parts) == (8 if name == "openai" else 9 if name.endswith("bytes") else 7)


def test_tokens_raw_joins_to_the_text(client):
    assert client.invoke_endpoint(EndpointName="raw", Body=b"x")["Body"].read().decode() == TEXT


def test_tokens_jsonl_is_lmi_json_lines(client):
    r = client.invoke_endpoint(EndpointName="jsonl", Body=b"x")
    assert r["ContentType"] == "application/jsonlines"
    lines = [json.loads(l) for l in r["Body"].read().decode().splitlines()]
    assert "".join(l["token"]["text"] for l in lines) == TEXT
    assert lines[-1]["generated_text"] == TEXT
    assert all("generated_text" not in l for l in lines[:-1])


def test_tokens_sse_is_tgi_events(client):
    r = client.invoke_endpoint(EndpointName="sse", Body=b"x")
    assert r["ContentType"] == "text/event-stream"
    events = [e for e in r["Body"].read().decode().split("\n\n") if e]
    assert all(e.startswith("data:{") for e in events)
    decoded = [json.loads(e[len("data:"):]) for e in events]
    assert "".join(d["token"]["text"] for d in decoded) == TEXT
    assert [d["generated_text"] for d in decoded[:-1]] == [None] * (len(decoded) - 1)
    assert decoded[-1]["generated_text"] == TEXT


def test_tokens_openai_chunks_end_with_done(client):
    events = [e for e in client.invoke_endpoint(EndpointName="openai", Body=b"x")["Body"].read().decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == TEXT


def test_tokens_byte_split_needs_reassembly(client):
    parts = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName="sse-bytes", Body=b"x"))
    undecodable = 0
    for p in parts:
        try:
            p.decode()
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0, "some part should split a UTF-8 character"
    assert any(not p.endswith(b"\n\n") for p in parts), "some part should split an event"
    events = [e for e in b"".join(parts).decode().split("\n\n") if e]
    assert "".join(json.loads(e[5:])["token"]["text"] for e in events) == TEXT


def test_tokens_without_text_stream_the_request_body(client):
    parts = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName="body-tokens", Body="abcdéf"))
    assert [p.decode() for p in parts] == ["ab", "cd", "éf"]


def test_paced_tokens_arrive_in_order(client):
    parts = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName="slow-tokens", Body=b"x"))
    assert parts == [b"a", b"b", b"c"]


# --- InvokeEndpointWithResponseStream ------------------------------------------------


def test_echo_stream_headers_and_single_part(client):
    r = client.invoke_endpoint_with_response_stream(
        EndpointName="echo", Body=b"streamed", ContentType="text/csv", Accept="text/csv", CustomAttributes="k=v"
    )
    assert r["ContentType"] == "text/csv"
    assert r["CustomAttributes"] == "k=v"
    assert r["InvokedProductionVariant"] == "AllTraffic"
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers.get("transfer-encoding") == "chunked"
    assert UUID_RE.match(r["ResponseMetadata"]["RequestId"])
    assert stream_parts(r) == [b"streamed"]


@pytest.mark.parametrize("name, parts", [("sse", 7), ("many-parts", 300)])
def test_each_payload_part_is_its_own_chunk(rt, client, name, parts):
    """Reads the chunked body by hand: every chunk holds exactly one frame,
    also when many frames are ready at once and go out in one write."""
    import socket

    from botocore.eventstream import EventStreamBuffer

    host, port = "127.0.0.1", rt.port
    # Unsigned requests are refused: capture botocore's signed request and
    # replay it over a bare socket.
    captured = {}

    def capture(request, **_):
        captured["headers"] = dict(request.headers)
        captured["body"] = request.body

    client.meta.events.register("before-send.sagemaker-runtime.*", capture)
    expected = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName=name, Body=b"x"))
    head = "".join(f"{k}: {v.decode() if isinstance(v, bytes) else v}\r\n" for k, v in captured["headers"].items())
    body = captured["body"] if isinstance(captured["body"], bytes) else captured["body"].encode()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(
            f"POST /endpoints/{name}/invocations-response-stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
            + head.replace(f"Host: 127.0.0.1:{port}\r\n", "").encode()
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    header_block, _, rest = data.partition(b"\r\n\r\n")
    assert b" 200 " in header_block.split(b"\r\n")[0]
    chunks = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    assert len(chunks) == parts == len(expected)
    for chunk, payload in zip(chunks, expected):
        buf = EventStreamBuffer()
        buf.add_data(chunk)
        messages = list(buf)
        assert len(messages) == 1
        assert messages[0].headers[":event-type"] == "PayloadPart"
        assert messages[0].payload == payload


# --- errors -------------------------------------------------------------------------------


def test_model_error_carries_original_status_message_and_log_stream(client):
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint(EndpointName="broken", Body=b"x")
    resp = info.value.response
    assert resp["Error"]["Code"] == "ModelError"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert resp["OriginalStatusCode"] == 503
    assert resp["OriginalMessage"] == "oops"
    assert resp["LogStreamArn"].startswith("arn:aws:logs:us-east-1:")
    assert "Received server error (503)" in resp["Error"]["Message"]
    assert UUID_RE.match(resp["ResponseMetadata"]["RequestId"])


def test_model_error_on_a_stream_is_an_http_error(client):
    with pytest.raises(client.exceptions.ModelError):
        client.invoke_endpoint_with_response_stream(EndpointName="broken", Body=b"x")


@pytest.mark.parametrize(
    "code,status",
    [
        ("ValidationError", 400),
        ("ModelNotReadyException", 429),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
        ("InternalDependencyException", 530),
        ("ThrottlingException", 400),
    ],
)
def test_error_model_answers_any_code(local_runtime, boto_client, code, status):
    from botocore.exceptions import ClientError

    rt = local_runtime({"e": {"model": "error", "code": code, "message": f"says {code}"}})
    client = boto_client(rt)
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    err = info.value.response
    assert err["Error"]["Code"] == code
    assert err["Error"]["Message"] == f"says {code}"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    modeled = getattr(client.exceptions, code, None)
    if modeled is not None:
        assert isinstance(info.value, modeled)


def test_unknown_endpoint_is_a_validation_error(client):
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint(EndpointName="nowhere", Body=b"x")
    assert info.value.response["Error"]["Message"] == "Endpoint nowhere of account 123456789012 not found."
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_body_over_6_mib_is_refused_with_413(client):
    from botocore.exceptions import ClientError

    limit = 6 * 1024 * 1024
    assert len(client.invoke_endpoint(EndpointName="echo", Body=b"a" * limit)["Body"].read()) == limit
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=b"a" * (limit + 1))
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] == "413"
    assert err["Error"]["Message"] == f"HTTP content length exceeded {limit} bytes."


def test_unknown_path_is_an_aws_style_error(rt, raw_http):
    status, headers, body = raw_http(rt.url, "GET", "/ping")
    assert status == 404
    assert headers["x-amzn-errortype"].split(":")[0] == "UnknownOperationException"
    assert UUID_RE.match(headers["x-amzn-requestid"])
    assert "message" in json.loads(body)


def test_wrong_method_on_an_operation_path(rt, raw_http):
    status, headers, _ = raw_http(rt.url, "GET", "/endpoints/echo/invocations")
    assert status == 404 and headers["x-amzn-errortype"].startswith("UnknownOperationException")


# --- InvokeEndpointAsync ------------------------------------------------------------------


def wait_for_file(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear within {timeout}s")


def local_path(rt, s3_uri):
    assert s3_uri.startswith("s3://")
    return os.path.join(rt.data_dir, *s3_uri[len("s3://"):].split("/"))


def test_async_reads_input_and_writes_output(rt, client):
    os.makedirs(os.path.join(rt.data_dir, "in-bucket", "requests"))
    with open(os.path.join(rt.data_dir, "in-bucket", "requests", "r1.json"), "wb") as f:
        f.write(b'{"async": true}')
    r = client.invoke_endpoint_async(
        EndpointName="echo", InputLocation="s3://in-bucket/requests/r1.json", ContentType="application/json"
    )
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert UUID_RE.match(r["InferenceId"])
    assert r["OutputLocation"].startswith("s3://") and r["FailureLocation"].startswith("s3://")
    assert wait_for_file(local_path(rt, r["OutputLocation"])) == b'{"async": true}'
    assert not os.path.exists(local_path(rt, r["FailureLocation"]))


def test_async_keeps_a_given_inference_id_and_output_options(rt, client):
    os.makedirs(os.path.join(rt.data_dir, "b"))
    with open(os.path.join(rt.data_dir, "b", "k"), "wb") as f:
        f.write(b"data")
    r = client.invoke_endpoint_async(
        EndpointName="raw", InputLocation="s3://b/k", InferenceId="my-id-1", S3OutputPathExtension="ext/dir",
        Filename="result.txt",
    )
    assert r["InferenceId"] == "my-id-1"
    assert r["OutputLocation"].endswith("/ext/dir/result.txt")
    assert wait_for_file(local_path(rt, r["OutputLocation"])).decode() == TEXT


def test_async_model_failure_is_written_to_the_failure_location(rt, client):
    os.makedirs(os.path.join(rt.data_dir, "b"))
    with open(os.path.join(rt.data_dir, "b", "k"), "wb") as f:
        f.write(b"x")
    r = client.invoke_endpoint_async(EndpointName="broken", InputLocation="s3://b/k")
    failure = json.loads(wait_for_file(local_path(rt, r["FailureLocation"])))
    assert failure["OriginalStatusCode"] == 503
    assert not os.path.exists(local_path(rt, r["OutputLocation"]))


def test_async_missing_input_is_a_failure(rt, client):
    r = client.invoke_endpoint_async(EndpointName="echo", InputLocation="s3://b/missing")
    failure = json.loads(wait_for_file(local_path(rt, r["FailureLocation"])))
    assert "missing" in failure["Message"]


@pytest.mark.parametrize("location", ["s3://b/../etc/passwd", "file:///etc/passwd", "gs://b/k"])
def test_async_refuses_locations_outside_the_data_dir(client, location):
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint_async(EndpointName="echo", InputLocation=location)


def signed_async_request(rt, body, extra_headers=None):
    """InvokeEndpointAsync with an inline Body, signed by botocore's own
    SigV4 signer (the installed service model predates the Body member)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{rt.url}/endpoints/echo/async-invocations"
    req = AWSRequest(method="POST", url=url, data=body, headers=dict(extra_headers or {}))
    SigV4Auth(Credentials(*rt.credentials[0]), "sagemaker", rt.region).add_auth(req)
    return dict(req.headers.items())


def test_async_inline_body(rt, raw_http):
    body = b"inline payload"
    headers = signed_async_request(rt, body, {"X-Amzn-SageMaker-Content-Type": "text/plain"})
    status, h, data = raw_http(rt.url, "POST", "/endpoints/echo/async-invocations", body, headers)
    assert status == 202, data
    out = json.loads(data)
    assert UUID_RE.match(out["InferenceId"])
    assert wait_for_file(local_path(rt, h["x-amzn-sagemaker-outputlocation"])) == body


def test_async_inline_body_limits(rt, raw_http):
    big = b"a" * 128_001
    status, h, data = raw_http(rt.url, "POST", "/endpoints/echo/async-invocations", big, signed_async_request(rt, big))
    assert status == 400 and h["x-amzn-errortype"] == "ValidationError"
    headers = signed_async_request(rt, b"x", {"X-Amzn-SageMaker-InputLocation": "s3://b/k"})
    status, h, data = raw_http(rt.url, "POST", "/endpoints/echo/async-invocations", b"x", headers)
    assert status == 400 and "mutually exclusive" in json.loads(data)["Message"]
    status, h, data = raw_http(rt.url, "POST", "/endpoints/echo/async-invocations", b"", signed_async_request(rt, b""))
    assert status == 400 and h["x-amzn-errortype"] == "ValidationError"


# --- stateful sessions ----------------------------------------------------------------------


def model_pattern(client, shape_name):
    """A shape's pattern from botocore's service model (the reference)."""
    return client.meta.service_model.shape_for(shape_name).metadata["pattern"]


def test_session_lifecycle(client):
    r = client.invoke_endpoint(EndpointName="echo", Body=b"open", SessionId="NEW_SESSION")
    assert re.fullmatch(model_pattern(client, "NewSessionResponseHeader"), r["NewSessionId"]), r["NewSessionId"]
    session_id, _, expires = r["NewSessionId"].partition("; Expires=")
    uuid.UUID(session_id)
    import datetime

    expiry = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
    assert expiry > datetime.datetime.now(datetime.timezone.utc)
    assert client.invoke_endpoint(EndpointName="echo", Body=b"again", SessionId=session_id)["Body"].read() == b"again"
    parts = stream_parts(client.invoke_endpoint_with_response_stream(EndpointName="echo", Body=b"s", SessionId=session_id))
    assert parts == [b"s"]
    r = client.invoke_endpoint(EndpointName="echo", Body=b'{"requestType": "CLOSE"}', SessionId=session_id)
    assert r["ClosedSessionId"] == session_id
    assert "NewSessionId" not in r
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint(EndpointName="echo", Body=b"after close", SessionId=session_id)


def test_unknown_and_expired_sessions_are_refused(local_runtime, boto_client, client):
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=b"x", SessionId="no-such-session")
    assert "no-such-session" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=b"x", SessionId="not a valid id")
    assert "sessionId" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint_with_response_stream(EndpointName="echo", Body=b"x", SessionId="NEW_SESSION")
    short = boto_client(local_runtime({"echo": {"model": "echo"}}, session_ttl_seconds=0))
    sid = short.invoke_endpoint(EndpointName="echo", Body=b"x", SessionId="NEW_SESSION")["NewSessionId"].split(";")[0]
    with pytest.raises(short.exceptions.ValidationError):
        short.invoke_endpoint(EndpointName="echo", Body=b"x", SessionId=sid)


def test_invalid_endpoint_name_is_a_validation_error(client):
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint(EndpointName="bad_name", Body=b"x")
    assert "endpointName" in info.value.response["Error"]["Message"]


def test_header_members_over_their_limits_are_refused(client):
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=b"x", CustomAttributes="a" * 1025)
    assert "customAttributes" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["echo", "raw", "jsonl", "sse", "openai", "sse-bytes"])
def test_async_output_equals_invoke_endpoint_output(rt, client, name):
    os.makedirs(os.path.join(rt.data_dir, "b"), exist_ok=True)
    with open(os.path.join(rt.data_dir, "b", name), "wb") as f:
        f.write(b"payload")
    whole = client.invoke_endpoint(EndpointName=name, Body=b"payload")["Body"].read()
    r = client.invoke_endpoint_async(EndpointName=name, InputLocation=f"s3://b/{name}")
    assert wait_for_file(local_path(rt, r["OutputLocation"])) == whole


def test_connections_are_kept_alive(local_runtime):
    import http.client

    rt = local_runtime({"echo": {"model": "echo"}}, verify_signatures=False)
    conn = http.client.HTTPConnection("127.0.0.1", rt.port, timeout=30)
    try:
        sockets = set()
        for i in range(5):
            conn.request("POST", "/endpoints/echo/invocations", body=f"req {i}".encode())
            resp = conn.getresponse()
            assert resp.read() == f"req {i}".encode()
            assert resp.getheader("Connection", "keep-alive").lower() != "close"
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
    finally:
        conn.close()

"""Fault injection, observed through boto3 (and a bare socket where the
byte-level behaviour matters)."""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import ClientError

TEXT = "abcdefghij"


def tokens(**faults):
    return {"model": "tokens", "text": TEXT, "parts": 5, "faults": faults}


def parts_until_error(response):
    parts = []
    with pytest.raises(ClientError) as info:
        for event in response["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])
    return parts, info.value


def test_not_ready_first_n_calls(local_runtime, boto_client):
    c = boto_client(local_runtime({"e": {"model": "echo", "faults": {"not_ready_first": 2}}}))
    for _ in range(2):
        with pytest.raises(c.exceptions.ModelNotReadyException) as info:
            c.invoke_endpoint(EndpointName="e", Body=b"x")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert c.invoke_endpoint(EndpointName="e", Body=b"x")["Body"].read() == b"x"


def test_error_rate_one_always_fails_with_the_code(local_runtime, boto_client):
    c = boto_client(local_runtime({"e": {"model": "echo", "faults": {"error_rate": 1.0, "error_code": "ThrottlingException"}}}))
    for _ in range(3):
        with pytest.raises(ClientError) as info:
            c.invoke_endpoint(EndpointName="e", Body=b"x")
        assert info.value.response["Error"]["Code"] == "ThrottlingException"


def outcomes(client, n):
    out = []
    for _ in range(n):
        try:
            client.invoke_endpoint(EndpointName="e", Body=b"x")
            out.append("ok")
        except ClientError as e:
            out.append(e.response["Error"]["Code"])
    return out


def test_seeded_error_rate_is_reproducible(local_runtime, boto_client):
    decl = {"e": {"model": "echo", "faults": {"error_rate": 0.5, "seed": 42}}}
    first = outcomes(boto_client(local_runtime(decl)), 40)
    second = outcomes(boto_client(local_runtime(decl)), 40)
    assert first == second
    assert set(first) == {"ok", "ServiceUnavailable"}


def test_latency_still_answers(local_runtime, boto_client):
    c = boto_client(local_runtime({"e": {"model": "echo", "faults": {"latency_ms": 30}}}))
    assert c.invoke_endpoint(EndpointName="e", Body=b"x")["Body"].read() == b"x"


def test_stream_error_after_n_parts(local_runtime, boto_client):
    c = boto_client(local_runtime({"t": tokens(stream_error_after=2)}))
    parts, err = parts_until_error(c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x"))
    assert parts == [b"ab", b"cd"]
    assert err.response["Error"]["Code"] == "ModelStreamError"
    assert err.response["Error"]["Message"]


def test_model_stream_error_payload_carries_its_error_code(local_runtime, boto_client):
    """botocore drops the ErrorCode member of in-stream errors, so the frame
    is decoded with botocore's own event-stream buffer from the raw body."""
    import json

    from botocore.eventstream import EventStreamBuffer

    rt = local_runtime({"t": tokens(stream_error_after=1, stream_error_code="ModelInvocationTimeExceeded")})
    c = boto_client(rt)
    captured = signed_headers(c, "invoke_endpoint_with_response_stream", EndpointName="t", Body=b"x")
    _, raw_body = read_raw(rt, "/endpoints/t/invocations-response-stream", captured)
    payload, finished = dechunk(raw_body)
    assert finished
    buf = EventStreamBuffer()
    buf.add_data(payload)
    messages = list(buf)
    assert [m.headers[":message-type"] for m in messages] == ["event", "exception"]
    assert messages[1].headers[":exception-type"] == "ModelStreamError"
    body = json.loads(messages[1].payload)
    assert body["ErrorCode"] == "ModelInvocationTimeExceeded" and body["Message"]


def test_stream_error_can_be_an_internal_stream_failure(local_runtime, boto_client):
    c = boto_client(local_runtime({"t": tokens(stream_error_after=0, stream_error="InternalStreamFailure")}))
    parts, err = parts_until_error(c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x"))
    assert parts == []
    assert err.response["Error"]["Code"] == "InternalStreamFailure"


def test_corrupt_crc_is_a_checksum_mismatch_in_botocore(local_runtime, boto_client):
    from botocore.eventstream import ChecksumMismatch

    c = boto_client(local_runtime({"t": tokens(corrupt_crc_at=1)}))
    r = c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x")
    parts = []
    with pytest.raises(ChecksumMismatch):
        for event in r["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])
    assert parts == [b"ab"]


def signed_headers(client, op, **kwargs):
    captured = {}

    def capture(request, **_):
        captured["headers"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        captured["body"] = request.body if isinstance(request.body, bytes) else request.body.encode()

    client.meta.events.register("before-send.sagemaker-runtime.*", capture)
    try:
        getattr(client, op)(**kwargs)
    except Exception:
        pass  # the response is cut; only the signed request matters here
    return captured


def read_raw(rt, path, captured):
    """Sends a signed request over a bare socket and reads until the server
    closes: (status line + headers, body bytes as sent on the wire)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in captured["headers"].items() if k.lower() != "content-length")
    if "host" not in {k.lower() for k in captured["headers"]}:
        head = f"Host: 127.0.0.1:{rt.port}\r\n" + head
    with socket.create_connection(("127.0.0.1", rt.port), timeout=30) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(captured['body'])}\r\n"
            "Connection: close\r\n\r\n".encode()
            + captured["body"]
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def dechunk(raw):
    """Payload bytes of a chunked body and whether its final chunk came."""
    out = b""
    while raw:
        size_line, sep, rest = raw.partition(b"\r\n")
        if not sep:
            return out, False
        size = int(size_line, 16)
        if size == 0:
            return out, True
        out += rest[:size]
        if len(rest) < size + 2:
            return out, False
        raw = rest[size + 2:]
    return out, False


def test_cut_after_bytes_on_a_stream(local_runtime, boto_client):
    rt = local_runtime({"t": tokens(cut_after_bytes=150)})
    c = boto_client(rt)
    # botocore sees a broken or short stream, never the whole of it.
    try:
        parts = [e["PayloadPart"]["Bytes"] for e in c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x")["Body"]]
    except Exception:
        parts = None
    assert parts is None or b"".join(parts) != TEXT.encode()
    # On the wire: exactly 150 body bytes (mid-frame), then the connection ends
    # without the last chunk.
    captured = signed_headers(c, "invoke_endpoint_with_response_stream", EndpointName="t", Body=b"x")
    head, raw_body = read_raw(rt, "/endpoints/t/invocations-response-stream", captured)
    assert b" 200 " in head.split(b"\r\n")[0]
    payload, finished = dechunk(raw_body)
    assert (len(payload), finished) == (150, False)


def test_cut_after_bytes_on_invoke_endpoint(local_runtime, boto_client):
    rt = local_runtime({"e": {"model": "echo", "faults": {"cut_after_bytes": 10}}})
    c = boto_client(rt)
    with pytest.raises(Exception) as info:
        c.invoke_endpoint(EndpointName="e", Body=b"0123456789abcdefghij")["Body"].read()
    assert not isinstance(info.value, ClientError)
    captured = signed_headers(c, "invoke_endpoint", EndpointName="e", Body=b"0123456789abcdefghij")
    head, raw_body = read_raw(rt, "/endpoints/e/invocations", captured)
    assert b"content-length: 20" in head.lower()
    assert raw_body == b"0123456789"


def test_bodies_shorter_than_the_cut_complete(local_runtime, boto_client):
    c = boto_client(local_runtime({"e": {"model": "echo", "faults": {"cut_after_bytes": 1000}}}))
    assert c.invoke_endpoint(EndpointName="e", Body=b"short")["Body"].read() == b"short"

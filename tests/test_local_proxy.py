"""The `proxy` model against a real HTTP server playing a model container
(http.server in a thread), driven by boto3."""

from __future__ import annotations

import threading

import pytest


def test_proxy_passes_headers_and_body_both_ways(local_runtime, boto_client, fake_container):
    container = fake_container(
        lambda req: (200, {"Content-Type": "application/x-out", "X-Amzn-SageMaker-Custom-Attributes": "from=container"},
                     b"out:" + req["body"])
    )
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url}}))
    r = c.invoke_endpoint(
        EndpointName="real", Body=b"in", ContentType="application/x-in", Accept="application/x-out",
        CustomAttributes="from=client", InferenceId="inf-1", TargetModel="model-a.tar.gz",
    )
    assert r["Body"].read() == b"out:in"
    assert r["ContentType"] == "application/x-out"
    assert r["CustomAttributes"] == "from=container"
    seen = container.requests[0]
    assert seen["path"] == "/invocations"
    assert seen["body"] == b"in"
    h = seen["headers"]
    assert h["content-type"] == "application/x-in"
    assert h["accept"] == "application/x-out"
    assert h["x-amzn-sagemaker-custom-attributes"] == "from=client"
    assert h["x-amzn-sagemaker-inference-id"] == "inf-1"
    assert h["x-amzn-sagemaker-target-model"] == "model-a.tar.gz"
    assert "authorization" not in h


def test_stream_accept_header_reaches_the_container_as_accept(local_runtime, boto_client, fake_container):
    container = fake_container(lambda req: (200, {"Content-Type": "text/plain"}, [b"a", b"b"]))
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url}}))
    r = c.invoke_endpoint_with_response_stream(EndpointName="real", Body=b"x", Accept="text/plain")
    assert [e["PayloadPart"]["Bytes"] for e in r["Body"]] == [b"a", b"b"]
    assert r["ContentType"] == "text/plain"
    assert container.requests[0]["headers"]["accept"] == "text/plain"


def test_chunks_become_payload_parts_as_they_arrive(local_runtime, boto_client, fake_container):
    """The container sends its second chunk only after the client has
    received the first PayloadPart: a runtime that buffered the response
    would never deliver it (the wait below is bounded)."""
    first_received = threading.Event()

    def wait_for_client():
        assert first_received.wait(timeout=20), "the first part never reached the client"

    container = fake_container(lambda req: (200, {"Content-Type": "text/event-stream"},
                                            [b"data: one\n\n", wait_for_client, b"data: two\n\n", b"data: three\n\n"]))
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url}}))
    r = c.invoke_endpoint_with_response_stream(EndpointName="real", Body=b"x")
    events = iter(r["Body"])
    assert next(events)["PayloadPart"]["Bytes"] == b"data: one\n\n"
    first_received.set()
    rest = [e["PayloadPart"]["Bytes"] for e in events]
    assert b"".join(rest) == b"data: two\n\ndata: three\n\n"


def test_chunked_container_answer_is_joined_for_invoke_endpoint(local_runtime, boto_client, fake_container):
    container = fake_container(lambda req: (200, {"Content-Type": "text/plain"}, [b"one ", b"two ", b"three"]))
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url}}))
    assert c.invoke_endpoint(EndpointName="real", Body=b"x")["Body"].read() == b"one two three"


@pytest.mark.parametrize("status,side", [(400, "client"), (500, "server")])
def test_container_errors_become_model_errors(local_runtime, boto_client, fake_container, status, side):
    container = fake_container(lambda req: (status, {"Content-Type": "application/json"}, b'{"error": "bad input"}'))
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url}}))
    with pytest.raises(c.exceptions.ModelError) as info:
        c.invoke_endpoint(EndpointName="real", Body=b"x")
    resp = info.value.response
    assert resp["OriginalStatusCode"] == status
    assert resp["OriginalMessage"] == '{"error": "bad input"}'
    assert f"Received {side} error ({status})" in resp["Error"]["Message"]
    assert resp["LogStreamArn"].endswith("/aws/sagemaker/Endpoints/real")
    with pytest.raises(c.exceptions.ModelError):
        c.invoke_endpoint_with_response_stream(EndpointName="real", Body=b"x")


def test_unreachable_container_is_a_model_error(local_runtime, boto_client):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on `port` once the socket is closed.
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": f"http://127.0.0.1:{port}"}}))
    with pytest.raises(c.exceptions.ModelError) as info:
        c.invoke_endpoint(EndpointName="real", Body=b"x")
    assert "container" in info.value.response["Error"]["Message"]


def test_slow_container_times_out_as_a_model_error(local_runtime, boto_client, fake_container):
    release = threading.Event()
    container = fake_container(lambda req: (release.wait(timeout=20), (200, {}, b"late"))[1])
    c = boto_client(local_runtime({"real": {"model": "proxy", "url": container.url, "timeout_ms": 200}}))
    try:
        with pytest.raises(c.exceptions.ModelError) as info:
            c.invoke_endpoint(EndpointName="real", Body=b"x")
        assert "timed out" in info.value.response["Error"]["Message"]
    finally:
        release.set()


def test_async_through_the_proxy(local_runtime, boto_client, fake_container):
    import os
    import time

    container = fake_container(lambda req: (200, {"Content-Type": "text/plain"}, [b"async ", req["body"]]))
    rt = local_runtime({"real": {"model": "proxy", "url": container.url}})
    c = boto_client(rt)
    os.makedirs(os.path.join(rt.data_dir, "bucket"))
    with open(os.path.join(rt.data_dir, "bucket", "in"), "wb") as f:
        f.write(b"input")
    r = c.invoke_endpoint_async(EndpointName="real", InputLocation="s3://bucket/in", ContentType="text/plain")
    out = os.path.join(rt.data_dir, *r["OutputLocation"][len("s3://"):].split("/"))
    deadline = time.monotonic() + 10
    while not os.path.exists(out) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(out, "rb") as f:
        assert f.read() == b"async input"
    assert container.requests[0]["headers"]["content-type"] == "text/plain"

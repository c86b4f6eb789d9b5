"""The response dicts of every entry point (Client, AsyncClient,
invoke_endpoint_many; the three operations) and of error responses, beside
boto3 on the same scripted answers, retries included: the dict is shaped in
one place (``response_dict`` in rust/python/src/client.rs), and every way of
calling must give exactly boto3's, ResponseMetadata's retry fields included.

The scripted server answers with fixed headers (a fixed request id, no
Date), so whole dicts are compared, not parts of them."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config

import hostile_server as H
import sagerun
from async_support import run

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDTEST",
        "aws_secret_access_key": "s3cr3t-key"}

#: Every header-bound member of InvokeEndpoint's answer, and a repeated
#: header (joined with ", " as urllib3 joins it).
MEMBER_HEADERS = [
    ("Content-Type", "application/json"),
    ("x-Amzn-Invoked-Production-Variant", "variant-1"),
    ("X-Amzn-SageMaker-Custom-Attributes", "trace=1"),
    ("X-Amzn-SageMaker-New-Session-Id", "sess-1; Expires=2026-11-22T00:00:00Z"),
    ("X-Amzn-SageMaker-Closed-Session-Id", "sess-0"),
    ("X-Repeated", "1"),
    ("X-Repeated", "2"),
]


def answer_with_members(conn: H.Conn, request: H.Request) -> bool:
    if request.path.endswith("/invocations-response-stream"):
        return H.ok(conn, request)
    if request.path.endswith("/async-invocations"):
        return conn.send(H.full_response(202, b'{"InferenceId": "inf-1"}', [
            ("Content-Type", "application/json"),
            ("X-Amzn-SageMaker-OutputLocation", "s3://bucket/out"),
            ("X-Amzn-SageMaker-FailureLocation", "s3://bucket/failed"),
        ]))
    return conn.send(H.full_response(200, H.OK_BODY, MEMBER_HEADERS))


BUSY = H.status(503, "ServiceUnavailable")
SCRIPTS: Dict[str, List[Any]] = {
    "first-attempt": [answer_with_members],
    "after-a-retry": [BUSY, answer_with_members],
    "retries-exhausted": [BUSY],
    "not-retried": [H.status(400, "ValidationError", "bad input")],
}
OPERATIONS = {
    "invoke_endpoint": {"EndpointName": "ep", "Body": b"{}"},
    "invoke_endpoint_async": {"EndpointName": "ep", "InputLocation": "s3://bucket/in"},
    "invoke_endpoint_with_response_stream": {"EndpointName": "ep", "Body": b"{}"},
}


def config(mode: str) -> Config:
    return Config(retries={"mode": mode, "total_max_attempts": 2}, read_timeout=5)


def outcome(call: Callable[[], Any]) -> Any:
    """The response dict without its Body, or the error's response dict."""
    try:
        response = call()
    except bex.ClientError as e:
        return ("error", type(e).__name__, e.response)
    return ("ok", {k: v for k, v in response.items() if k != "Body"})


def via_boto3(url: str, mode: str, method: str) -> Any:
    client = boto3.client("sagemaker-runtime", endpoint_url=url, config=config(mode), **KEYS)
    return outcome(lambda: getattr(client, method)(**OPERATIONS[method]))


def via_client(url: str, mode: str, method: str) -> Any:
    client = sagerun.Client(endpoint_url=url, config=config(mode), **KEYS)
    return outcome(lambda: getattr(client, method)(**OPERATIONS[method]))


def via_async_client(url: str, mode: str, method: str) -> Any:
    async def go() -> Any:
        client = sagerun.AsyncClient(endpoint_url=url, config=config(mode), **KEYS)
        try:
            return ("ok", await getattr(client, method)(**OPERATIONS[method]))
        except bex.ClientError as e:
            return ("error", e)

    result = run(go)
    return outcome(lambda: result[1]) if result[0] == "ok" else outcome(_raiser(result[1]))


def via_many(url: str, mode: str, method: str) -> Any:
    client = sagerun.Client(endpoint_url=url, config=config(mode), **KEYS)
    [result] = client.invoke_endpoint_many([OPERATIONS[method]], concurrency=1)
    return outcome(_raiser(result) if isinstance(result, Exception) else lambda: result)


def _raiser(error: BaseException) -> Callable[[], Any]:
    def call() -> Any:
        raise error

    return call


WAYS = {"Client": via_client, "AsyncClient": via_async_client, "invoke_endpoint_many": via_many}


def each_way(script: List[Any], mode: str, method: str) -> Dict[str, Any]:
    results = {}
    for name, way in {"boto3": via_boto3, **WAYS}.items():
        if name == "invoke_endpoint_many" and method != "invoke_endpoint":
            continue
        with H.HostileServer(script) as srv:
            results[name] = way(srv.url, mode, method)
    return results


@pytest.mark.parametrize("mode", ["standard", "legacy"])
@pytest.mark.parametrize("script", list(SCRIPTS))
@pytest.mark.parametrize("method", list(OPERATIONS))
def test_every_way_of_calling_gives_boto3s_dict(method, script, mode):
    results = each_way(SCRIPTS[script], mode, method)
    expected = results.pop("boto3")
    assert expected[0] == ("ok" if script in ("first-attempt", "after-a-retry") else "error")
    for name, got in results.items():
        assert got == expected, name


def test_the_retry_fields_are_there_to_compare():
    """The scripts reach what they are meant to (else the comparisons
    above would compare dicts without the fields at stake)."""
    results = each_way(SCRIPTS["retries-exhausted"], "standard", "invoke_endpoint")
    metadata = results["Client"][2]["ResponseMetadata"]
    assert metadata["RetryAttempts"] == 1 and metadata["MaxAttemptsReached"] is True
    results = each_way(SCRIPTS["after-a-retry"], "standard", "invoke_endpoint")
    response = results["Client"][1]
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-repeated"] == "1, 2"
    assert response["InvokedProductionVariant"] == "variant-1"
    assert response["NewSessionId"].startswith("sess-1")

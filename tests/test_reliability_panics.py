"""Rust panics (bugs) are caught at the boundary: the caller gets
``sagerun.InternalError`` (a RuntimeError, so ``except Exception`` sees it,
unlike PyO3's PanicException, a BaseException) and the client keeps working.
Real panics are triggered through the test-only hook
``sagerun._native._panic_for_tests``; the local runtime answers a panicking
request with a 500 InternalFailure and keeps serving."""

from __future__ import annotations

import pytest
from botocore.config import Config

import sagerun
from sagerun import _native

ENDPOINTS = {"echo": {"model": "echo"}, "tok": {"model": "tokens", "text": "abcdef", "parts": 3}}
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


def still_works(client):
    assert client.invoke_endpoint(EndpointName="echo", Body=b"ok")["Body"].read() == b"ok"
    r = client.invoke_endpoint_with_response_stream(EndpointName="tok", Body=b"{}")
    assert b"".join(e["PayloadPart"]["Bytes"] for e in r["Body"]) == b"abcdef"


def test_internal_error_is_an_ordinary_exception():
    assert issubclass(sagerun.InternalError, RuntimeError)
    assert sagerun.InternalError is _native.InternalError


@pytest.mark.parametrize("where, text", [
    ("call", "deliberate panic in a call"),
    ("block_on", "deliberate panic in a future run by block_on"),
    ("task", "deliberate panic in a spawned task"),
])
def test_a_panic_becomes_internal_error_and_the_client_keeps_working(local_runtime, where, text):
    client = sagerun.Client(**local_runtime(ENDPOINTS).client_kwargs())
    still_works(client)  # this thread's runtime and pool exist before the panic
    with pytest.raises(sagerun.InternalError) as e:
        _native._panic_for_tests(where)
    message = str(e.value)
    assert text in message and "bug in sagerun" in message
    still_works(client)


def test_the_hook_refuses_unknown_places():
    with pytest.raises(ValueError, match="unknown panic place"):
        _native._panic_for_tests("nowhere")


def test_a_panic_in_the_local_servers_handler_is_a_500_and_serving_goes_on(local_runtime, boto_client):
    rt = local_runtime(ENDPOINTS)
    client = sagerun.Client(**rt.client_kwargs(), config=ONE_ATTEMPT)
    boto = boto_client(rt)
    for caller in (client, boto):  # the same answer as boto3 reads it
        _native._panic_for_tests("server")
        with pytest.raises(caller.exceptions.ClientError) as e:
            caller.invoke_endpoint(EndpointName="echo", Body=b"x")
        assert e.value.response["Error"]["Code"] == "InternalFailure"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert "a bug" in e.value.response["Error"]["Message"]
    still_works(client)
    assert boto.invoke_endpoint(EndpointName="echo", Body=b"b")["Body"].read() == b"b"


def test_a_retried_call_gets_past_a_one_off_server_panic(local_runtime):
    client = sagerun.Client(**local_runtime(ENDPOINTS).client_kwargs(),
                            config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    _native._panic_for_tests("server")
    r = client.invoke_endpoint(EndpointName="echo", Body=b"retried")
    assert r["Body"].read() == b"retried" and r["ResponseMetadata"]["RetryAttempts"] == 1


def test_a_panic_in_an_async_calls_task_reaches_its_awaiter(local_runtime):
    """An AsyncClient call runs as a Tokio task: its panic must settle the
    asyncio future with InternalError (not leave the awaiter waiting) and the
    async client must keep working."""
    import asyncio

    from sagerun import _async_bridge

    kwargs = local_runtime(ENDPOINTS).client_kwargs()

    async def scenario():
        async with sagerun.AsyncClient(**kwargs) as client:
            with pytest.raises(sagerun.InternalError, match="deliberate panic in an async call"):
                await asyncio.wait_for(
                    _async_bridge.run(_native._panic_in_async_call_for_tests), timeout=10
                )
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"ok")
            assert await r["Body"].read() == b"ok"

    asyncio.run(scenario())

"""The operations ``sagerun demo`` shows, each against the demo's local
runtime through ``sagerun.Client``. Every step returns plain data (what the
runtime answered) and checks it against what the endpoint was declared to
do, raising :class:`DemoFailure` when it differs."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, Mapping

from sagerun._cli.stream_stats import StreamStats
from sagerun.streaming import iter_tokens

#: The text the token-streaming endpoint is declared to generate.
TOKENS_TEXT = (
    "SageMaker endpoints stream tokens as event-stream PayloadParts; "
    "sagerun decodes them in Rust and hands you the text as it arrives."
)
#: How the demo's error endpoint fails, as a model container would.
ERROR_ORIGINAL_STATUS = 503
ERROR_ORIGINAL_MESSAGE = "the model container is warming up"
ERROR_LOG_STREAM_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/demo-broken"
#: The bucket (a sub-directory of the runtime's data_dir) for the async input.
ASYNC_BUCKET = "demo-bucket"
ASYNC_INPUT_KEY = "requests/input.json"

ECHO_BODY = b'{"inputs": "Hello from sagerun"}'
STREAM_BODY = b'{"inputs": "Tell me about sagerun", "parameters": {"max_new_tokens": 32}}'
ASYNC_BODY = b'{"inputs": "an async request, read from S3 (here: a local file)"}'


def endpoints(token_delay_ms: int) -> Dict[str, Dict[str, Any]]:
    """The demo's endpoint declarations (the data ``LocalRuntime`` takes)."""
    return {
        "demo-echo": {"model": "echo"},
        "demo-tokens": {
            "model": "tokens", "text": TOKENS_TEXT, "parts": 24, "format": "sse",
            "delay_ms": token_delay_ms,
        },
        "demo-broken": {
            "model": "error", "code": "ModelError", "original_status": ERROR_ORIGINAL_STATUS,
            "original_message": ERROR_ORIGINAL_MESSAGE, "log_stream_arn": ERROR_LOG_STREAM_ARN,
        },
    }


class DemoFailure(RuntimeError):
    """The runtime answered something other than what the demo declared."""


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailure(what)


def _metadata(response: Mapping[str, Any]) -> Dict[str, Any]:
    meta = response["ResponseMetadata"]
    return {"HTTPStatusCode": meta["HTTPStatusCode"], "RequestId": meta.get("RequestId")}


def invoke(client: Any) -> Dict[str, Any]:
    request = {"EndpointName": "demo-echo", "Body": ECHO_BODY,
               "ContentType": "application/json", "Accept": "application/json"}
    r = client.invoke_endpoint(**request)
    body = r["Body"].read()
    _expect(body == ECHO_BODY, f"the echo endpoint answered {body!r}, not the request body")
    return {
        "request": {**request, "Body": ECHO_BODY.decode()},
        "response": {
            "Body": body.decode("utf-8", "replace"),
            "ContentType": r.get("ContentType"),
            "InvokedProductionVariant": r.get("InvokedProductionVariant"),
            "ResponseMetadata": _metadata(r),
        },
    }


def stream(client: Any, on_token: Callable[[str], None]) -> Dict[str, Any]:
    request = {"EndpointName": "demo-tokens", "Body": STREAM_BODY, "ContentType": "application/json"}
    stats = StreamStats()
    r = client.invoke_endpoint_with_response_stream(**request)
    tokens = []
    with r["Body"] as body:
        for token in stats.count_items(iter_tokens(stats.count_parts(body))):
            on_token(token)
            tokens.append(token)
    text = "".join(tokens)
    _expect(text == TOKENS_TEXT, f"the streamed text {text!r} is not the endpoint's text")
    return {
        "request": {**request, "Body": STREAM_BODY.decode()},
        "response": {"ContentType": r.get("ContentType"), "ResponseMetadata": _metadata(r)},
        "tokens": tokens,
        "text": text,
        **stats.summary(),
    }


def model_error(client: Any) -> Dict[str, Any]:
    request = {"EndpointName": "demo-broken", "Body": ECHO_BODY, "ContentType": "application/json"}
    try:
        client.invoke_endpoint(**request)
    except client.exceptions.ModelError as e:
        answer = e.response
    else:
        raise DemoFailure("the error endpoint answered without an error")
    fields = {
        "exception": "client.exceptions.ModelError",
        "Code": answer["Error"].get("Code"),
        "Message": answer["Error"].get("Message"),
        "OriginalStatusCode": answer.get("OriginalStatusCode"),
        "OriginalMessage": answer.get("OriginalMessage"),
        "LogStreamArn": answer.get("LogStreamArn"),
        "ResponseMetadata": _metadata(answer),
    }
    _expect(fields["OriginalStatusCode"] == ERROR_ORIGINAL_STATUS,
            f"OriginalStatusCode is {fields['OriginalStatusCode']!r}, not {ERROR_ORIGINAL_STATUS}")
    return {"request": {**request, "Body": ECHO_BODY.decode()}, "error": fields}


def _local_path(data_dir: str, s3_uri: str) -> str:
    """Where the local runtime keeps ``s3://bucket/key``."""
    _expect(s3_uri.startswith("s3://"), f"{s3_uri!r} is not an s3:// location")
    return os.path.join(data_dir, *s3_uri[len("s3://"):].split("/"))


def _wait_for_file(path: str, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise DemoFailure(f"the async result {path} did not appear within {timeout:.0f} s") from None
            time.sleep(0.02)


def invoke_async(client: Any, data_dir: str, timeout: float = 15.0) -> Dict[str, Any]:
    input_location = f"s3://{ASYNC_BUCKET}/{ASYNC_INPUT_KEY}"
    input_path = _local_path(data_dir, input_location)
    os.makedirs(os.path.dirname(input_path), exist_ok=True)
    with open(input_path, "wb") as f:
        f.write(ASYNC_BODY)
    request = {"EndpointName": "demo-echo", "InputLocation": input_location,
               "ContentType": "application/json"}
    r = client.invoke_endpoint_async(**request)
    status = r["ResponseMetadata"]["HTTPStatusCode"]
    _expect(status == 202, f"InvokeEndpointAsync answered HTTP {status}, not 202")
    output = _wait_for_file(_local_path(data_dir, r["OutputLocation"]), timeout)
    _expect(output == ASYNC_BODY, f"the async output {output!r} is not the echoed input")
    return {
        "request": request,
        "input_file": input_path,
        "response": {
            "InferenceId": r.get("InferenceId"),
            "OutputLocation": r.get("OutputLocation"),
            "FailureLocation": r.get("FailureLocation"),
            "ResponseMetadata": _metadata(r),
        },
        "output": output.decode("utf-8", "replace"),
    }

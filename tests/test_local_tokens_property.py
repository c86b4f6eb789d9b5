"""Property: whatever the text and part count, the streamed parts (decoded
by botocore) reassemble to exactly what the format promises."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FORMATS = ["raw", "jsonl", "sse", "openai"]


@pytest.fixture(scope="module")
def streams():
    import boto3
    from botocore.config import Config

    from sagerun.local import LocalRuntime

    endpoints = {
        f"{fmt}-{split}-{parts}": {"model": "tokens", "format": fmt, "split": split, "parts": parts}
        for fmt in FORMATS
        for split in ("chars", "bytes")
        for parts in (1, 3, 17)
    }
    with LocalRuntime(endpoints) as rt:
        client = boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}), **rt.client_kwargs())
        yield client


def tokens_of(fmt, data):
    text = data.decode("utf-8")
    if fmt == "raw":
        return text, None
    if fmt == "jsonl":
        lines = [json.loads(line) for line in text.split("\n") if line]
        return "".join(l["token"]["text"] for l in lines), lines[-1]["generated_text"]
    events = [e for e in text.split("\n\n") if e]
    if fmt == "sse":
        decoded = [json.loads(e[len("data:"):]) for e in events]
        return "".join(d["token"]["text"] for d in decoded), decoded[-1]["generated_text"]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    return "".join(c["choices"][0]["delta"]["content"] for c in chunks), None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(min_size=1, max_size=60),
    fmt=st.sampled_from(FORMATS),
    split=st.sampled_from(["chars", "bytes"]),
    parts=st.sampled_from([1, 3, 17]),
)
def test_streamed_parts_reassemble(streams, text, fmt, split, parts):
    name = f"{fmt}-{split}-{parts}"
    r = streams.invoke_endpoint_with_response_stream(EndpointName=name, Body=text.encode("utf-8"))
    chunks = [e["PayloadPart"]["Bytes"] for e in r["Body"]]
    whole = streams.invoke_endpoint(EndpointName=name, Body=text.encode("utf-8"))["Body"].read()
    assert b"".join(chunks) == whole
    expected_chunks = min(parts, len(text)) + (1 if fmt == "openai" and split == "chars" else 0)
    if split == "chars":
        assert len(chunks) == expected_chunks
    else:
        assert 1 <= len(chunks) <= parts
    joined, generated = tokens_of(fmt, whole)
    assert joined == text
    if generated is not None:
        assert generated == text

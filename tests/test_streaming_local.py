"""sagerun.streaming over real response streams: boto3 talking to
sagerun.local.LocalRuntime's `tokens` model over loopback HTTP, in every
format it speaks, one token per PayloadPart or cut at arbitrary bytes.
The model streams back the text it was sent, so the reference is the input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagerun import streaming as s

local = pytest.importorskip("sagerun.local", reason="needs the local runtime (branch local)")

FORMATS = ["raw", "jsonl", "sse", "openai"]
SPLITS = ["chars", "bytes"]


@pytest.fixture(scope="module")
def client():
    import boto3
    from botocore.config import Config

    endpoints = {f"{fmt}-{split}": {"model": "tokens", "format": fmt, "split": split, "parts": 7}
                 for fmt in FORMATS for split in SPLITS}
    with local.LocalRuntime(endpoints) as rt:
        yield boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}),
                           **rt.client_kwargs())


def stream(client, name, text):
    r = client.invoke_endpoint_with_response_stream(EndpointName=name, Body=text.encode())
    return r["Body"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("fmt", ["jsonl", "sse", "openai"])
def test_tokens_in_every_format(client, fmt, split):
    text = "Hello, wörld! €5 😀\nsecond line"
    body = stream(client, f"{fmt}-{split}", text)
    tokens = list(s.iter_tokens(event["PayloadPart"]["Bytes"] for event in body))
    assert "".join(tokens) == text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=80), fmt=st.sampled_from(["jsonl", "sse", "openai"]),
       split=st.sampled_from(SPLITS))
def test_any_text_round_trips(client, text, fmt, split):
    body = stream(client, f"{fmt}-{split}", text)
    assert "".join(s.iter_tokens(body)) == text  # the event dicts as boto3 yields them


@pytest.mark.parametrize("split", SPLITS)
def test_raw_text_and_lines(client, split):
    text = "first line\r\nsecond ünïcode line\nlast without newline 😀"
    assert "".join(s.iter_text(stream(client, f"raw-{split}", text))) == text
    assert list(s.iter_lines(stream(client, f"raw-{split}", text))) == [
        b"first line", "second ünïcode line".encode(), "last without newline 😀".encode()]


def test_sse_events_from_the_wire(client):
    events = list(s.iter_sse(stream(client, "openai-bytes", "abc")))
    assert events and all(e.event == "message" for e in events)
    assert all(e.data.startswith("{") for e in events)  # [DONE] ended the iteration

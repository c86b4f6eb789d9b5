"""`sagerun invoke` and `sagerun stream` as real subprocesses against a local
runtime, compared with what boto3 gets from the same endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest


TEXT = "Streaming ✓ tokens, lines and events — ünïcode included."
ENDPOINTS = {
    "echo": {"model": "echo"},
    "sse": {"model": "tokens", "text": TEXT, "parts": 9, "format": "sse"},
    "jsonl": {"model": "tokens", "text": TEXT, "parts": 7, "format": "jsonl", "split": "bytes"},
    "raw": {"model": "tokens", "text": TEXT, "parts": 5, "format": "raw", "split": "bytes"},
    "broken": {"model": "error", "code": "ModelError", "original_status": 418,
               "original_message": "short and stout"},
}



@pytest.fixture(scope="module")
def b3(rt):
    return boto3.client("sagemaker-runtime", **rt.client_kwargs())


@pytest.fixture(scope="module")
def env(rt, tmp_path_factory):
    """Credentials and region through the environment, as for any AWS tool;
    no config file of this machine's user."""
    home = tmp_path_factory.mktemp("home")
    access_key, secret_key = rt.credentials[0]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key,
                 AWS_CONFIG_FILE=str(home / "config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"))
    return clean


def sagerun_cli(rt, env, *args, stdin=b"", expect=0):
    command = [sys.executable, "-m", "sagerun.cli", *args, "--endpoint-url", rt.url, "--region", rt.region]
    proc = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60)
    assert proc.returncode == expect, proc.stderr.decode()
    return proc.stdout, proc.stderr.decode()


def test_invoke_prints_the_body_and_the_fields_boto3_gets(rt, env, b3):
    body = '{"inputs": "héllo"}'
    out, err = sagerun_cli(rt, env, "invoke", "echo", "--body", body, "--content-type", "application/json",
                           "--accept", "application/json", "--custom-attributes", "trace=1")
    expected = b3.invoke_endpoint(EndpointName="echo", Body=body, ContentType="application/json",
                                  Accept="application/json", CustomAttributes="trace=1")
    assert out == expected["Body"].read() == body.encode()
    fields = json.loads(err)
    for member in ("ContentType", "InvokedProductionVariant", "CustomAttributes"):
        assert fields[member] == expected[member]
    assert fields["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_invoke_body_from_file_stdin_and_output_file(rt, env, tmp_path):
    data = bytes(range(256)) * 3
    (tmp_path / "in.bin").write_bytes(data)
    out, _ = sagerun_cli(rt, env, "invoke", "echo", "--body", f"@{tmp_path / 'in.bin'}",
                         "-o", str(tmp_path / "out.bin"))
    assert out == b"" and (tmp_path / "out.bin").read_bytes() == data
    out, _ = sagerun_cli(rt, env, "invoke", "echo", "--body", "-", stdin=data)
    assert out == data


def test_invoke_model_error_exits_1_with_boto3s_fields(rt, env, b3):
    _, err = sagerun_cli(rt, env, "invoke", "broken", "--body", "x", expect=1)
    with pytest.raises(b3.exceptions.ModelError) as caught:
        b3.invoke_endpoint(EndpointName="broken", Body=b"x")
    response = caught.value.response
    assert err.startswith(f"sagerun invoke: ModelError: {response['Error']['Message']}")
    assert f'"OriginalStatusCode": {response["OriginalStatusCode"]}' in err
    assert json.dumps(response["OriginalMessage"]) in err


def test_invoke_bad_input_exits_2_before_sending(rt, env, tmp_path):
    _, err = sagerun_cli(rt, env, "invoke", "echo", "--body", f"@{tmp_path / 'missing'}", expect=2)
    assert "No such file" in err
    _, err = sagerun_cli(rt, env, "invoke", "echo", "--body", "x", "--content-type", "a\nb", expect=2)
    assert err.startswith("sagerun invoke: error: Parameter validation failed") and "ContentType" in err
    _, err = sagerun_cli(rt, env, "stream", "echo", "--body", "x", "--custom-attributes", "x" * 1025, expect=2)
    assert err.startswith("sagerun stream: error: Parameter validation failed") and "CustomAttributes" in err


def boto3_stream(b3, endpoint):
    events = list(b3.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"x")["Body"])
    return [e["PayloadPart"]["Bytes"] for e in events]


def test_stream_raw_writes_the_payload_boto3_gets(rt, env, b3):
    out, err = sagerun_cli(rt, env, "stream", "raw", "--body", "x", "--format", "raw")
    parts = boto3_stream(b3, "raw")
    assert out == b"".join(parts) == TEXT.encode()
    assert f"{len(parts)} parts" in err and f"{len(parts)} PayloadParts" in err and "TTFT" in err


def test_stream_lines_reassembles_lines_cut_across_parts(rt, env, b3):
    out, err = sagerun_cli(rt, env, "stream", "jsonl", "--body", "x", "--format", "lines")
    payload = b"".join(boto3_stream(b3, "jsonl"))
    assert out == payload  # every JSON line, each with its newline
    assert f"{len(payload.splitlines())} lines" in err


def test_stream_sse_prints_each_event_data(rt, env, b3):
    out, err = sagerun_cli(rt, env, "stream", "sse", "--body", "x", "--format", "sse")
    payload = b"".join(boto3_stream(b3, "sse")).decode()
    data = [line[len("data:"):] for line in payload.split("\n") if line.startswith("data:")]
    assert out.decode().split("\n")[:-1] == data
    assert f"{len(data)} events" in err


def test_stream_tokens_prints_the_generated_text(rt, env, b3):
    out, err = sagerun_cli(rt, env, "stream", "sse", "--body", "x", "--format", "tokens")
    parts = boto3_stream(b3, "sse")
    assert out.decode() == TEXT + "\n"
    assert f"{len(parts)} tokens" in err and f"{len(parts)} PayloadParts" in err


def test_stream_model_error_exits_1(rt, env):
    _, err = sagerun_cli(rt, env, "stream", "broken", "--body", "x", "--format", "tokens", expect=1)
    assert err.startswith("sagerun stream: ModelError:") and '"OriginalStatusCode": 418' in err

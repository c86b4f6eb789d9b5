"""`sagerun invoke-async` as a real subprocess against a local runtime,
beside boto3's invoke_endpoint_async on the same runtime: the same fields
come back, and the endpoint really writes the output where it says."""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest

from sagerun.local import LocalRuntime
from test_cli_bench import bench_env
from test_cli_invoke import sagerun_cli

ENDPOINTS = {
    "echo": {"model": "echo"},
    "broken": {"model": "error", "code": "ModelError", "original_status": 503},
}


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with LocalRuntime(ENDPOINTS, data_dir=tmp_path_factory.mktemp("s3")) as runtime:
        bucket = os.path.join(runtime.data_dir, "in")
        os.makedirs(bucket)
        with open(os.path.join(bucket, "request.json"), "wb") as f:
            f.write(b'{"inputs": "async"}')
        yield runtime


@pytest.fixture(scope="module")
def b3(rt):
    return boto3.client("sagemaker-runtime", **rt.client_kwargs())


def read_location(rt, uri, timeout=10.0):
    assert uri.startswith("s3://")
    path = os.path.join(rt.data_dir, *uri[len("s3://"):].split("/"))
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{uri} was not written within {timeout} s"
        time.sleep(0.02)
    with open(path, "rb") as f:
        return f.read()


def all_files(root):
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


def invoke_async(rt, *args, expect=0):
    out, err = sagerun_cli(rt, bench_env(), "invoke-async", *args, expect=expect)
    return out.decode(), err


def test_json_has_the_fields_boto3_gets_and_the_output_is_written(rt, b3):
    options = {"ContentType": "application/json", "Accept": "application/json",
               "CustomAttributes": "trace=1", "InvocationTimeoutSeconds": 30, "RequestTTLSeconds": 600,
               "S3OutputPathExtension": "cli/out", "Filename": "answer.json"}
    expected = b3.invoke_endpoint_async(EndpointName="echo", InputLocation="s3://in/request.json",
                                        InferenceId="boto3-1", **options)
    out, _ = invoke_async(rt, "echo", "--input-location", "s3://in/request.json", "--inference-id", "cli-1",
                          "--content-type", "application/json", "--accept", "application/json",
                          "--custom-attributes", "trace=1", "--invocation-timeout-seconds", "30",
                          "--request-ttl-seconds", "600", "--s3-output-path-extension", "cli/out",
                          "--filename", "answer.json", "--json")
    fields = json.loads(out)
    assert set(fields) == set(expected)  # OutputLocation, FailureLocation, InferenceId, ResponseMetadata
    assert fields["InferenceId"] == "cli-1" and expected["InferenceId"] == "boto3-1"
    assert fields["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 202
    # Same output options, same place (but for the per-request part boto3 and we both get)
    for key in ("OutputLocation", "FailureLocation"):
        assert fields[key].rsplit("/", 3)[0] == expected[key].rsplit("/", 3)[0]
    assert fields["OutputLocation"].endswith("/cli/out/answer.json")
    assert expected["OutputLocation"].endswith("/cli/out/answer.json")
    assert read_location(rt, fields["OutputLocation"]) == b'{"inputs": "async"}'


def test_human_output_prints_the_three_locations(rt):
    out, err = invoke_async(rt, "echo", "--input-location", "s3://in/request.json", "--inference-id", "human-1")
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(lines) == ["OutputLocation", "FailureLocation", "InferenceId"]
    assert lines["InferenceId"] == "human-1"
    assert read_location(rt, lines["OutputLocation"]) == b'{"inputs": "async"}'
    assert err == ""


def test_a_failing_model_writes_to_the_failure_location_as_for_boto3(rt, b3):
    expected = b3.invoke_endpoint_async(EndpointName="broken", InputLocation="s3://in/request.json")
    out, _ = invoke_async(rt, "broken", "--input-location", "s3://in/request.json", "--json")
    ours = json.loads(read_location(rt, json.loads(out)["FailureLocation"]))
    theirs = json.loads(read_location(rt, expected["FailureLocation"]))
    assert ours["OriginalStatusCode"] == theirs["OriginalStatusCode"] == 503


def test_a_refused_location_exits_1_with_the_code_boto3_gets(rt, b3):
    with pytest.raises(b3.exceptions.ValidationError) as caught:
        b3.invoke_endpoint_async(EndpointName="echo", InputLocation="s3://b/../etc/passwd")
    _, err = invoke_async(rt, "echo", "--input-location", "s3://b/../etc/passwd", expect=1)
    assert err.startswith(f"sagerun invoke-async: {caught.value.response['Error']['Code']}: ")


@pytest.mark.parametrize("args, message", [
    (["--invocation-timeout-seconds", "0"], "Parameter validation failed"),
    (["--request-ttl-seconds", "5"], "Parameter validation failed"),
    (["--invocation-timeout-seconds", "soon"], "invalid int value"),
    (["--content-type", "a\nb"], "control characters"),
    (["--input-location", "file:///etc/passwd"], "InputLocation: does not match the pattern"),
])
def test_bad_input_exits_2_before_sending(rt, args, message):
    before = all_files(rt.data_dir)
    _, err = invoke_async(rt, "echo", "--input-location", "s3://in/request.json", *args, expect=2)
    assert message in err
    assert all_files(rt.data_dir) == before  # nothing was queued, so nothing was written


def test_the_input_location_is_required(rt):
    _, err = invoke_async(rt, "echo", expect=2)
    assert "--input-location" in err

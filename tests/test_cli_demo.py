"""`sagerun demo` as a real subprocess: it exits 0 and reports what the local
runtime really answered, checked against what boto3 gets from a runtime with
the same endpoint declarations (and against the declarations themselves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sagerun._cli import demo_steps
from sagerun.local import LocalRuntime

DEMO = [sys.executable, "-m", "sagerun.cli", "demo"]
FAST = ["--token-delay-ms", "0", "--bench-seconds", "0.2"]


def run_demo(*args, python_prelude=None):
    command = DEMO + list(args)
    if python_prelude is not None:
        command = [sys.executable, "-c",
                   f"{python_prelude}; import sys; from sagerun.cli import main; sys.exit(main())",
                   "demo", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def boto3_answers(tmp_path_factory):
    """What boto3 gets from a runtime declared exactly like the demo's."""
    import boto3

    with LocalRuntime(demo_steps.endpoints(0), data_dir=tmp_path_factory.mktemp("s3")) as rt:
        client = boto3.client("sagemaker-runtime", **rt.client_kwargs())
        echoed = client.invoke_endpoint(EndpointName="demo-echo", Body=demo_steps.ECHO_BODY,
                                        ContentType="application/json")
        stream = client.invoke_endpoint_with_response_stream(EndpointName="demo-tokens",
                                                             Body=demo_steps.STREAM_BODY)
        payload = b"".join(e["PayloadPart"]["Bytes"] for e in stream["Body"])
        # TGI-style server-sent events, parsed here by hand: data:{"token":{"text":...}}
        tokens = [json.loads(line[len("data:"):])["token"]["text"]
                  for line in payload.decode().split("\n") if line.startswith("data:")]
        with pytest.raises(client.exceptions.ModelError) as caught:
            client.invoke_endpoint(EndpointName="demo-broken", Body=b"{}")
        bucket = os.path.join(rt.data_dir, "b")
        os.makedirs(bucket)
        with open(os.path.join(bucket, "in"), "wb") as f:
            f.write(b"x")
        async_answer = client.invoke_endpoint_async(EndpointName="demo-echo", InputLocation="s3://b/in")
        return {
            "echo": echoed, "echo_body": echoed["Body"].read(), "stream": stream,
            "tokens": tokens, "error": caught.value.response, "async": async_answer,
        }


def test_demo_no_bench_shows_what_the_runtime_answered():
    out = run_demo("--no-bench", "--token-delay-ms", "0").stdout
    declared = demo_steps.endpoints(0)
    assert demo_steps.ECHO_BODY.decode() in out.split("1. InvokeEndpoint")[1]
    # The token stream is printed as one run of text: the tokens, in order.
    assert "> " + declared["demo-tokens"]["text"] + "\n" in out
    assert f"OriginalStatusCode: {declared['demo-broken']['original_status']}" in out
    assert "HTTPStatusCode: 424" in out and "HTTPStatusCode: 202" in out
    assert "Bench" not in out and "boto3" not in out.split("4. InvokeEndpointAsync")[1]


def test_demo_json_matches_what_boto3_gets(boto3_answers):
    summary = json.loads(run_demo("--json", "--no-bench", "--token-delay-ms", "0").stdout)
    assert summary["ok"] is True
    assert summary["bench"] == {"skipped": "--no-bench"}

    answer, b3 = summary["invoke"]["response"], boto3_answers["echo"]
    assert answer["Body"].encode() == boto3_answers["echo_body"]
    assert answer["ContentType"] == b3["ContentType"]
    assert answer["InvokedProductionVariant"] == b3["InvokedProductionVariant"]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200

    stream = summary["stream"]
    assert stream["tokens"] == boto3_answers["tokens"]
    assert stream["text"] == summary["endpoints"]["demo-tokens"]["text"]
    assert stream["response"]["ContentType"] == boto3_answers["stream"]["ContentType"]
    assert stream["parts"] == summary["endpoints"]["demo-tokens"]["parts"]
    assert stream["items"] == len(boto3_answers["tokens"]) and stream["ttft_ms"] > 0

    error, b3_error = summary["model_error"]["error"], boto3_answers["error"]
    for field in ("OriginalStatusCode", "OriginalMessage", "LogStreamArn"):
        assert error[field] == b3_error[field]
    assert error["Code"] == b3_error["Error"]["Code"] == "ModelError"
    assert error["Message"] == b3_error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == b3_error["ResponseMetadata"]["HTTPStatusCode"]

    answer, b3 = summary["async"]["response"], boto3_answers["async"]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == b3["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] and answer["OutputLocation"].startswith("s3://")
    assert set(answer) == set(k for k in b3 if k != "ResponseMetadata") | {"ResponseMetadata"}
    assert summary["async"]["output"].encode() == demo_steps.ASYNC_BODY


def test_demo_bench_reports_sagerun_and_boto3():
    summary = json.loads(run_demo("--json", *FAST).stdout)
    bench = summary["bench"]
    for client in ("sagerun", "boto3"):
        figures = bench[client]
        assert figures["calls"] > 0 and figures["requests_per_s"] > 0 and figures["cpu_us_per_call"] > 0
    assert bench["throughput_ratio"] > 0 and bench["cpu_ratio"] > 0


def test_demo_text_bench_prints_both_clients():
    out = run_demo(*FAST).stdout
    bench = out.split("5. Bench")[1]
    rows = [line.split() for line in bench.splitlines() if line.split()[:1] in (["sagerun"], ["boto3"])]
    assert [r[0] for r in rows] == ["sagerun", "boto3"]
    assert all(int(r[1]) > 0 for r in rows)
    assert "less CPU per call" in bench


def test_demo_without_boto3_skips_the_bench():
    proc = run_demo("--json", *FAST, python_prelude="import sys; sys.modules['boto3'] = None")
    summary = json.loads(proc.stdout)
    assert summary["ok"] is True and summary["bench"] == {"skipped": "boto3 is not installed"}


def test_demo_fails_clearly_when_the_runtime_answers_otherwise(monkeypatch, capsys):
    from sagerun.cli import main

    declared = demo_steps.endpoints

    def other_text(delay):
        endpoints = declared(delay)
        endpoints["demo-tokens"]["text"] = "something else"
        return endpoints

    monkeypatch.setattr(demo_steps, "endpoints", other_text)
    assert main(["demo", "--no-bench", "--token-delay-ms", "0"]) == 1
    err = capsys.readouterr().err
    assert "sagerun demo: failed: DemoFailure" in err and "'something else'" in err


@pytest.mark.parametrize("args", [["--bench-seconds", "0"], ["--token-delay-ms", "-1"]])
def test_demo_refuses_bad_options(args):
    proc = subprocess.run(DEMO + args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "sagerun demo: error:" in proc.stderr

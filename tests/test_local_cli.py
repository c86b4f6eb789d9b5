"""`sagerun serve` as a real subprocess, answered by boto3, stopped by
SIGINT/SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

SERVE = [sys.executable, "-c", "import sys; from sagerun.cli import main; sys.exit(main())", "serve"]


class Served:
    def __init__(self, args):
        self.proc = subprocess.Popen(
            SERVE + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.first_line = self._read_first_line(timeout=60)
        match = re.search(r"listening on (https?://\S+)", self.first_line)
        assert match, f"unexpected output: {self.first_line!r}, stderr: {self.proc.stderr.read()}"
        self.url = match.group(1)

    def _read_first_line(self, timeout):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            self.proc.kill()
            raise AssertionError("sagerun serve printed nothing")
        return result[0]

    def stop(self, sig):
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("sagerun serve did not exit after the signal")
        return self.proc.returncode, out, err


@pytest.fixture
def served():
    started = []

    def start(args):
        s = Served(args)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(timeout=10)


def client_for(url, **kwargs):
    import boto3
    from botocore.config import Config

    from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    params = dict(
        endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=DEFAULT_ACCESS_KEY, aws_secret_access_key=DEFAULT_SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1}),
    )
    params.update(kwargs)
    return boto3.client("sagemaker-runtime", **params)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_with_endpoint_flags(served, sig):
    s = served(["--port", "0", "--endpoint", "e=echo", "--endpoint", "t=tokens,text=héllo,parts=2,format=jsonl"])
    c = client_for(s.url)
    assert c.invoke_endpoint(EndpointName="e", Body=b"cli")["Body"].read() == b"cli"
    parts = [e["PayloadPart"]["Bytes"] for e in c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x")["Body"]]
    lines = [json.loads(l) for l in b"".join(parts).decode().splitlines()]
    assert lines[-1]["generated_text"] == "héllo"
    code, out, _ = s.stop(sig)
    assert code == 0
    assert "stopped" in out


def test_serve_with_a_config_file(served, tmp_path):
    config = tmp_path / "endpoints.json"
    config.write_text(json.dumps({
        "my-echo": {"model": "echo"},
        "broken": {"model": "error", "code": "ModelError", "original_status": 500},
        "flaky": {"model": "echo", "faults": {"not_ready_first": 1}},
    }))
    s = served(["--config", str(config), "--port", "0", "--region", "eu-west-1", "--no-verify-signatures",
                "--data-dir", str(tmp_path)])
    c = client_for(s.url, region_name="eu-west-1")
    assert c.invoke_endpoint(EndpointName="my-echo", Body=b"cfg")["Body"].read() == b"cfg"
    with pytest.raises(c.exceptions.ModelError):
        c.invoke_endpoint(EndpointName="broken", Body=b"x")
    with pytest.raises(c.exceptions.ModelNotReadyException):
        c.invoke_endpoint(EndpointName="flaky", Body=b"x")
    (tmp_path / "bucket").mkdir()
    (tmp_path / "bucket" / "in.bin").write_bytes(b"async via cli")
    r = c.invoke_endpoint_async(EndpointName="my-echo", InputLocation="s3://bucket/in.bin")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    out_path = os.path.join(str(tmp_path), *r["OutputLocation"][len("s3://"):].split("/"))
    deadline = time.monotonic() + 10
    while not os.path.exists(out_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(out_path, "rb") as f:
        assert f.read() == b"async via cli"
    code, _, _ = s.stop(signal.SIGTERM)
    assert code == 0


def test_signature_checks_are_on_by_default(served):
    s = served(["--port", "0", "--endpoint", "e=echo"])
    c = client_for(s.url, aws_secret_access_key="wrong")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        c.invoke_endpoint(EndpointName="e", Body=b"x")
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert s.stop(signal.SIGINT)[0] == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--endpoint", "e=nope"], "unknown model `nope`"),
        (["--endpoint", "e=echo,colour=red"], "colour"),
        ([], "no endpoints"),
        (["--config", "/nonexistent/endpoints.json"], "endpoints.json"),
    ],
)
def test_bad_configuration_exits_with_a_message(args, message):
    proc = subprocess.run(SERVE + ["--port", "0"] + args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_console_script_entry_point_is_declared():
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("sagerun") == "sagerun.cli:main"

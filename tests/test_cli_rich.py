"""The CLI's rich output (FORCE_COLOR draws it on a pipe, rich's own
convention): coloured, and once the colour codes are stripped, the same
content as the plain output the other CLI tests check against boto3."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from sagerun.local import LocalRuntime
from test_cli_bench import bench_env

pytest.importorskip("rich")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    endpoints = {"echo": {"model": "echo"}, "llm": {"model": "tokens", "text": "a b c", "parts": 3}}
    with LocalRuntime(endpoints, data_dir=tmp_path_factory.mktemp("s3")) as runtime:
        os.makedirs(os.path.join(runtime.data_dir, "b"))
        with open(os.path.join(runtime.data_dir, "b", "in"), "wb") as f:
            f.write(b"x")
        yield runtime


def cli(rt, *args, rich=True, expect=0):
    env = bench_env()
    env.update({"FORCE_COLOR": "1", "COLUMNS": "200"} if rich else {"SAGERUN_PLAIN": "1"})
    proc = subprocess.run([sys.executable, "-m", "sagerun.cli", *args, "--endpoint-url", rt.url,
                           "--region", rt.region], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == expect, proc.stderr
    return proc.stdout, proc.stderr


def test_invoke_fields_are_highlighted_json(rt):
    _, rich_err = cli(rt, "invoke", "echo", "--body", "hi", "--custom-attributes", "a=1")
    _, plain_err = cli(rt, "invoke", "echo", "--body", "hi", "--custom-attributes", "a=1", rich=False)
    assert "\x1b[" in rich_err and "\x1b[" not in plain_err
    ours, plain = json.loads(ANSI.sub("", rich_err)), json.loads(plain_err)
    for fields in (ours, plain):
        del fields["ResponseMetadata"]["RequestId"], fields["ResponseMetadata"]["HTTPHeaders"]
    assert ours == plain


def test_stream_stats_line(rt):
    """The same stats line as the plain output (figures aside), coloured."""
    out, err = cli(rt, "stream", "llm", "--body", "x")
    plain_out, plain_err = cli(rt, "stream", "llm", "--body", "x", rich=False)
    assert "\x1b[" in err and "\x1b[" not in plain_err
    assert out == plain_out == "a b c"

    def masked(text: str) -> str:
        return re.sub(r"\d+(\.\d+)?", "N", text)

    assert masked(ANSI.sub("", err)) == masked(plain_err)
    assert "3 PayloadParts" in plain_err


def test_invoke_async_lines(rt):
    out, _ = cli(rt, "invoke-async", "echo", "--input-location", "s3://b/in", "--inference-id", "r-1")
    assert "\x1b[" in out
    lines = dict(line.split(": ", 1) for line in ANSI.sub("", out).splitlines())
    assert list(lines) == ["OutputLocation", "FailureLocation", "InferenceId"] and lines["InferenceId"] == "r-1"


def test_errors_in_red(rt):
    _, err = cli(rt, "invoke", "missing", "--body", "x", expect=1)
    assert "\x1b[1;31m" in err
    assert ANSI.sub("", err).startswith("sagerun invoke: ValidationError: ")

"""`sagerun bench` as a real subprocess against a local runtime: its counts
are checked against what the server saw (a model container behind a proxy
endpoint records every request) and against what boto3 gets from a runtime
with the same declarations. No speed assertions: the figures are only
checked for consistency."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from typing import Any, Dict, List

import pytest

from sagerun._cli import bench
from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

BENCH = [sys.executable, "-m", "sagerun.cli", "bench"]
FLAKY = {"model": "echo", "faults": {"error_rate": 0.5, "seed": 11}}


def bench_env() -> Dict[str, str]:
    """Credentials of the local runtime and nothing from this machine's AWS set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=DEFAULT_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=DEFAULT_SECRET_KEY,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    return env


def run_bench(rt: Any, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    command = BENCH + list(args) + ["--endpoint-url", rt.url, "--region", rt.region]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=bench_env())
    assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def bench_json(rt: Any, *args: str, expect: int = 0) -> Dict[str, Any]:
    proc = run_bench(rt, *args, "--json", expect=expect)
    assert proc.stderr == ""  # no progress line: stderr is not a terminal
    return json.loads(proc.stdout)


def boto3_error_codes(client: Any, calls: int, **request: Any) -> "Counter[str]":
    """Error codes boto3 meets over ``calls`` InvokeEndpoint calls."""
    from botocore.exceptions import ClientError

    codes: "Counter[str]" = Counter()
    for _ in range(calls):
        try:
            client.invoke_endpoint(**request)["Body"].read()
        except ClientError as e:
            codes[e.response["Error"]["Code"]] += 1
    return codes


def check_latencies(latency: Dict[str, float]) -> None:
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]


def test_sends_n_requests_with_the_body_and_counts_them(local_runtime, fake_container):
    container = fake_container(lambda req: (200, {"Content-Type": "application/json"}, b'{"ok": 1}'))
    rt = local_runtime({"model": {"model": "proxy", "url": container.url}})
    summary = bench_json(rt, "model", "--requests", "25", "--concurrency", "4",
                         "--body", '{"inputs": [1, 2]}', "--content-type", "application/json")
    assert len(container.requests) == 25
    assert {r["body"] for r in container.requests} == {b'{"inputs": [1, 2]}'}
    assert {r["headers"]["content-type"] for r in container.requests} == {"application/json"}
    result = summary["clients"]["sagerun"]
    assert (summary["requests"], summary["concurrency"], summary["driver"]) == (25, 4, "threads")
    assert (result["requests"], result["ok"], result["failed"], result["errors"]) == (25, 25, 0, {})
    check_latencies(result["latency_ms"])
    assert "boto3" not in summary["clients"]


def test_body_from_a_file(local_runtime, fake_container, tmp_path):
    container = fake_container(lambda req: (200, {}, b"ok"))
    rt = local_runtime({"model": {"model": "proxy", "url": container.url}})
    path = tmp_path / "request.bin"
    path.write_bytes(b"\x00\x01binary\xff")
    bench_json(rt, "model", "-n", "6", "-c", "4", "--body", f"@{path}")
    assert [r["body"] for r in container.requests] == [b"\x00\x01binary\xff"] * 6


def test_every_request_to_an_error_endpoint_is_reported_by_code(local_runtime, boto_client):
    declaration = {"model": "error", "code": "ModelError", "original_status": 500}
    rt = local_runtime({"broken": declaration})
    summary = bench_json(rt, "broken", "-n", "12", "-c", "4", "--max-attempts", "1", expect=1)
    expected = boto3_error_codes(boto_client(rt), 1, EndpointName="broken", Body=b"{}")
    assert expected == {"ModelError": 1}
    result = summary["clients"]["sagerun"]
    assert result["errors"] == {"ModelError": 12}
    assert (result["requests"], result["ok"], result["failed"]) == (12, 0, 12)
    assert result["latency_ms"] is None  # latencies are of successful requests


def test_flaky_endpoint_failures_match_what_boto3_meets(local_runtime, boto_client):
    """A seeded error_rate fails a fixed number of N calls whatever their
    order: a fresh runtime with the same declaration tells how many."""
    n = 40
    reference = local_runtime({"flaky": FLAKY})
    expected = boto3_error_codes(boto_client(reference), n, EndpointName="flaky", Body=b"{}",
                                 ContentType="application/json")
    assert 0 < sum(expected.values()) < n  # the seed gives a mix
    rt = local_runtime({"flaky": FLAKY})
    result = bench_json(rt, "flaky", "-n", str(n), "-c", "4", "--max-attempts", "1",
                        expect=1)["clients"]["sagerun"]
    assert result["errors"] == dict(expected)
    assert result["ok"] == n - sum(expected.values())
    assert result["requests"] == n


def test_streams_are_read_to_the_end(local_runtime):
    rt = local_runtime({"llm": {"model": "tokens", "text": "a b c d", "parts": 4}})
    summary = bench_json(rt, "llm", "--stream", "-n", "16", "-c", "4")
    assert summary["operation"] == "InvokeEndpointWithResponseStream"
    result = summary["clients"]["sagerun"]
    assert (result["ok"], result["failed"]) == (16, 0)
    check_latencies(result["latency_ms"])
    check_latencies(result["first_event_ms"])
    assert result["first_event_ms"]["max"] <= result["latency_ms"]["max"]


def test_in_stream_errors_are_reported_by_code(local_runtime, boto_client):
    from botocore.exceptions import EventStreamError

    declaration = {"model": "tokens", "text": "a b c d", "parts": 4, "faults": {"stream_error_after": 2}}
    rt = local_runtime({"llm": declaration})
    stream = boto_client(rt).invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
    with pytest.raises(EventStreamError) as caught:
        list(stream["Body"])
    code = caught.value.response["Error"]["Code"]
    result = bench_json(rt, "llm", "--stream", "-n", "8", "-c", "4", expect=1)["clients"]["sagerun"]
    assert result["errors"] == {code: 8}


def test_compare_boto3_runs_the_same_load_through_both(local_runtime, fake_container):
    container = fake_container(lambda req: (200, {}, b"ok"))
    rt = local_runtime({"model": {"model": "proxy", "url": container.url}})
    summary = bench_json(rt, "model", "-n", "15", "-c", "4", "--compare", "boto3")
    assert len(container.requests) == 30  # 15 through each client
    for name in ("sagerun", "boto3"):
        result = summary["clients"][name]
        assert (result["requests"], result["ok"], result["failed"]) == (15, 15, 0)
        check_latencies(result["latency_ms"])
    ratios = summary["ratios"]
    sr, b3 = summary["clients"]["sagerun"], summary["clients"]["boto3"]
    assert ratios["requests/s"] == pytest.approx(sr["requests_per_s"] / b3["requests_per_s"], rel=0.02)
    assert ratios["latency p50 ms"] == pytest.approx(b3["latency_ms"]["p50"] / sr["latency_ms"]["p50"],
                                                     rel=0.02)


def test_table_shows_both_clients_and_error_codes(local_runtime):
    rt = local_runtime({"broken": {"model": "error", "code": "ModelNotReadyException"}})
    out = run_bench(rt, "broken", "-n", "6", "-c", "4", "--compare", "boto3", "--max-attempts", "1",
                    expect=1).stdout
    header = out.splitlines()[1].split()
    assert header == ["sagerun", "boto3", "ratio"]
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:] if line.strip()}
    assert rows["ModelNotReadyException"] == ["6", "6"]
    assert rows["failed"] == ["6", "6"] and rows["ok"] == ["0", "0"]


def test_unreachable_endpoint_fails_every_request_by_exception_type(local_runtime):
    rt = local_runtime({"echo": {"model": "echo"}})
    url = rt.url
    rt.stop()
    proc = subprocess.run(BENCH + ["echo", "-n", "5", "-c", "2", "--max-attempts", "1", "--json",
                                   "--endpoint-url", url, "--region", "us-east-1"],
                          capture_output=True, text=True, timeout=120, env=bench_env())
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["clients"]["sagerun"]["errors"] == {"EndpointConnectionError": 5}


@pytest.mark.parametrize("args, message", [
    (["--requests", "0"], "--requests: must be 1 or more"),
    (["--concurrency", "x"], "expected a whole number"),
    (["--concurrency", "5000"], "at most 1024"),
    (["--body", "@/nonexistent/request.json"], "No such file"),
    (["--content-type", "a\nb"], "control characters"),
    (["--compare", "aiohttp"], "invalid choice"),
])
def test_bad_input_exits_2_before_sending(local_runtime, fake_container, args, message):
    container = fake_container(lambda req: (200, {}, b"ok"))
    rt = local_runtime({"model": {"model": "proxy", "url": container.url}})
    proc = run_bench(rt, "model", *args, expect=2)
    assert message in proc.stderr
    assert proc.stdout == ""
    assert container.requests == []


def test_missing_credentials_exit_2(local_runtime):
    rt = local_runtime({"echo": {"model": "echo"}})
    env = {k: v for k, v in bench_env().items() if not k.startswith("AWS_ACCESS_KEY_ID")}
    env.pop("AWS_SECRET_ACCESS_KEY")
    proc = subprocess.run(BENCH + ["echo", "-n", "5", "--endpoint-url", rt.url, "--region", "us-east-1"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert "Unable to locate credentials" in proc.stderr


class _FakeTerminal(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.wrote = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.wrote.set()
        return super().write(text)


def test_progress_line_on_a_terminal_only():
    """A driver that records one result, then waits for the progress line."""
    terminal = _FakeTerminal()

    def driver(call: Any, requests: int, concurrency: int, recorder: bench.Recorder) -> None:
        recorder.succeeded(0.001, None)
        recorder.failed("ModelError")
        assert terminal.wrote.wait(10)

    progress = bench.Progress("sagerun", 3, terminal, interval=0.01)
    recorder = bench.run_load(driver, lambda: None, 3, 1, progress)
    text = terminal.getvalue()
    assert text.startswith("\rsagerun: 2/3 requests, 1 failed, ")
    assert text.endswith("\r\x1b[K")  # the line is cleared for what follows
    assert recorder.completed == 2

    pipe = io.StringIO()  # isatty() is False
    bench.run_load(lambda *a: None, lambda: None, 3, 1, bench.Progress("sagerun", 3, pipe))
    assert pipe.getvalue() == ""


def test_thread_driver_runs_each_request_once_with_bounded_concurrency():
    lock = threading.Lock()
    running: List[int] = [0]
    peak: List[int] = [0]
    calls: List[int] = []

    def call() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            calls.append(1)
        with lock:
            running[0] -= 1

    recorder = bench.run_load(bench.run_threads, call, 50, 3)
    assert len(calls) == 50 and recorder.completed == 50
    assert peak[0] <= 3

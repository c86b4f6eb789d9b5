"""The demo's side-by-side bench: small InvokeEndpoint calls on one thread
through sagerun and through boto3, against the same local runtime.

The runtime runs in a child process (``sagerun serve``) so that
``time.process_time()`` of this process is the client's CPU alone."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from sagerun._cli.demo_steps import DemoFailure

BENCH_ENDPOINT = "bench-echo"
BENCH_BODY = b'{"inputs": [1, 2, 3]}'
WARMUP_CALLS = 20


def boto3_available() -> bool:
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return True


class ChildRuntime:
    """``sagerun serve`` on a free port in a child process."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sagerun.cli", "serve", "--port", "0",
             "--endpoint", f"{BENCH_ENDPOINT}=echo"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self._first_line(start_timeout)
        match = re.search(r"listening on (https?://\S+)", line)
        if not match:
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise DemoFailure(f"the bench's runtime did not start: {line.strip() or err.strip()!r}")
        self.url = match.group(1)

    def _first_line(self, timeout: float) -> str:
        lines: List[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return lines[0] if lines else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> "ChildRuntime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def measure(call: Callable[[], Any], seconds: float) -> Dict[str, Any]:
    """Calls ``call`` back to back for ``seconds`` after a warm-up: requests/s
    (wall clock) and CPU per call (this process, all threads)."""
    for _ in range(WARMUP_CALLS):
        call()
    calls = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        call()
        calls += 1
        now = time.perf_counter()
    cpu = time.process_time() - cpu_start
    wall = now - start
    return {
        "calls": calls,
        "seconds": round(wall, 3),
        "requests_per_s": round(calls / wall, 1),
        "cpu_us_per_call": round(cpu / calls * 1e6, 1),
    }


def _invoker(client: Any) -> Callable[[], bytes]:
    def call() -> bytes:
        r = client.invoke_endpoint(EndpointName=BENCH_ENDPOINT, Body=BENCH_BODY,
                                   ContentType="application/json")
        body: bytes = r["Body"].read()
        if body != BENCH_BODY:
            raise DemoFailure(f"the bench endpoint answered {body!r}")
        return body
    return call


def run(seconds: float, on_start: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Both clients against one child runtime, sagerun first; the ratios say
    how many times faster / cheaper sagerun was."""
    import boto3

    import sagerun
    from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    with ChildRuntime() as runtime:
        kwargs = dict(endpoint_url=runtime.url, region_name="us-east-1",
                      aws_access_key_id=DEFAULT_ACCESS_KEY, aws_secret_access_key=DEFAULT_SECRET_KEY)
        clients = {"sagerun": sagerun.Client(**kwargs),
                   "boto3": boto3.client("sagemaker-runtime", **kwargs)}
        results: Dict[str, Any] = {}
        for name, client in clients.items():
            if on_start is not None:
                on_start(name)
            results[name] = measure(_invoker(client), seconds)
    sr, b3 = results["sagerun"], results["boto3"]
    return {
        "endpoint_url": runtime.url,
        "body_bytes": len(BENCH_BODY),
        "seconds_each": seconds,
        **results,
        "throughput_ratio": round(sr["requests_per_s"] / b3["requests_per_s"], 2),
        "cpu_ratio": round(b3["cpu_us_per_call"] / sr["cpu_us_per_call"], 2),
    }

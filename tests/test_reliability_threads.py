"""Threads and interpreter exit: 64 threads share one client for 10,000
calls without an error or a deadlock (bounded by a timeout, not a speed
assertion); an interpreter exiting while other threads have requests and a
stream in flight neither hangs nor crashes."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading

import pytest

import sagerun

THREADS = 64
CALLS = 10_000


@pytest.mark.timeout(600)
def test_64_threads_share_one_client_for_10000_calls(local_runtime):
    rt = local_runtime({"echo": {"model": "echo"},
                        "tok": {"model": "tokens", "text": "abcdefgh", "parts": 4}})
    client = sagerun.Client(**rt.client_kwargs())
    tickets = itertools.count()  # next() is atomic under the GIL
    done, wrong, errors = [0] * THREADS, [], []
    start = threading.Barrier(THREADS)

    def work(index):
        start.wait()
        try:
            while (n := next(tickets)) < CALLS:
                if n % 10 == 0:  # one call in ten reads a response stream
                    r = client.invoke_endpoint_with_response_stream(EndpointName="tok", Body=b"{}")
                    got = b"".join(e["PayloadPart"]["Bytes"] for e in r["Body"])
                    expected = b"abcdefgh"
                else:
                    body = f"{index}:{n}".encode()
                    got = client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read()
                    expected = body
                if got != expected:
                    wrong.append((n, got))
                done[index] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=540)  # a deadlock shows as a thread still alive
    assert [t.name for t in threads if t.is_alive()] == []
    assert errors == [] and wrong == []
    assert sum(done) == CALLS


EXIT_ENDPOINTS = {
    "slow": {"model": "echo", "faults": {"latency_ms": 1500}},
    # A long stream: still running when the interpreter exits.
    "drip": {"model": "tokens", "text": "x" * 400, "parts": 400, "delay_ms": 10},
}

# The child talks to a runtime in the parent, or runs its own (never
# stopped: its server threads are busy when the interpreter exits).
PARENT_RUNTIME = """
client = sagerun.Client(endpoint_url={url!r}, region_name="us-east-1",
                        aws_access_key_id={access!r}, aws_secret_access_key={secret!r})
"""
OWN_RUNTIME = """
from sagerun.local import LocalRuntime
runtime = LocalRuntime({endpoints!r})
client = sagerun.Client(**runtime.client_kwargs())
"""

CHILD = """
import sys, threading, time
import sagerun
{make_client}
streaming = threading.Event()

def call():
    client.invoke_endpoint(EndpointName="slow", Body=b"x")

def stream():
    r = client.invoke_endpoint_with_response_stream(EndpointName="drip", Body=b"{{}}")
    for _ in r["Body"]:
        streaming.set()

threads = [threading.Thread(target=call, daemon={daemon}) for _ in range(4)]
threads.append(threading.Thread(target=stream, daemon={daemon}))
for t in threads:
    t.start()
streaming.wait(30)
time.sleep(0.3)  # let the plain calls reach the server too
print("exiting with requests in flight", flush=True)
{exit}
"""


@pytest.mark.parametrize("daemon, exit_call, own_runtime, what", [
    (True, "sys.exit(0)", False, "daemon threads: the interpreter finalizes under them"),
    (False, "sys.exit(0)", False, "ordinary threads: the interpreter waits for them"),
    (True, "raise SystemExit(3)", False, "an exit status passes through"),
    (True, "import os; os._exit(0)", False, "immediate exit"),
    (True, "sys.exit(0)", True, "the child's own local runtime is still serving"),
])
def test_interpreter_exit_with_requests_in_flight(local_runtime, daemon, exit_call, own_runtime, what):
    if own_runtime:
        make_client = OWN_RUNTIME.format(endpoints=EXIT_ENDPOINTS)
    else:
        rt = local_runtime(EXIT_ENDPOINTS)
        kw = rt.client_kwargs()
        make_client = PARENT_RUNTIME.format(url=rt.url, access=kw["aws_access_key_id"],
                                            secret=kw["aws_secret_access_key"])
    code = textwrap.dedent(CHILD).format(make_client=make_client, daemon=daemon, exit=exit_call)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "exiting with requests in flight" in proc.stdout, proc.stderr
    assert proc.returncode == (3 if "3" in exit_call else 0), (what, proc.stderr)
    for sign in ("Fatal Python error", "panicked", "Segmentation fault", "Traceback", "Aborted",
                 "fatal runtime error"):
        assert sign not in proc.stderr, (what, proc.stderr)

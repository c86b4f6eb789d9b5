"""Forks: a client used before ``os.fork()`` works in the child (a fresh
runtime and pool: the parent's connections are never touched) and still in
the parent, even with a response stream half read across the fork; and
``multiprocessing`` with the fork, forkserver and spawn start methods (the
last two pickle the client, see test_reliability_pickling.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import pytest

import sagerun

ENDPOINTS = {
    "echo": {"model": "echo"},
    # 40 parts, 20 ms apart: still streaming when the fork happens.
    "drip": {"model": "tokens", "text": "abcdefghij" * 4, "parts": 40, "delay_ms": 20},
    "tok": {"model": "tokens", "text": "abcdef", "parts": 3},
}

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def echo(client, body):
    return client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read()


def stream_text(body) -> bytes:
    return b"".join(e["PayloadPart"]["Bytes"] for e in body)


def _child_work(client) -> dict:
    """What a child does with the inherited client: calls on its main thread
    and on a new thread, and a whole stream."""
    out = {"main": echo(client, b"child").decode()}
    results = []
    t = threading.Thread(target=lambda: results.append(echo(client, b"child-thread").decode()))
    t.start()
    t.join(timeout=60)
    out["thread"] = results[0] if results else None
    r = client.invoke_endpoint_with_response_stream(EndpointName="tok", Body=b"{}")
    out["stream"] = stream_text(r["Body"]).decode()
    return out


CHILD_EXPECTED = {"main": "child", "thread": "child-thread", "stream": "abcdef"}


@needs_fork
def test_a_client_used_before_fork_works_in_the_child_and_in_the_parent(local_runtime):
    rt = local_runtime(ENDPOINTS)
    client = sagerun.Client(**rt.client_kwargs())
    assert echo(client, b"parent") == b"parent"  # a pooled idle connection now
    stream = client.invoke_endpoint_with_response_stream(EndpointName="drip", Body=b"{}")["Body"]
    events = iter(stream)
    first = next(events)["PayloadPart"]["Bytes"]  # a stream in flight across the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: same client object
        report = {}
        try:
            report = _child_work(client)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            report = {"error": repr(e)}
        finally:
            os.write(write_end, json.dumps(report).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = json.loads(reader.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert report == CHILD_EXPECTED and os.waitstatus_to_exitcode(status) == 0
    # The parent's stream and pool were not disturbed by the child.
    assert first + stream_text(events) == b"abcdefghij" * 4
    assert echo(client, b"again") == b"again"


def _mp_worker(client, queue):
    try:
        queue.put(_child_work(client))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        queue.put({"error": repr(e)})


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing(local_runtime, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    rt = local_runtime(ENDPOINTS)
    client = sagerun.Client(**rt.client_kwargs())
    assert echo(client, b"warm") == b"warm"
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    children = [ctx.Process(target=_mp_worker, args=(client, queue)) for _ in range(3)]
    for child in children:
        child.start()
    try:
        reports = [queue.get(timeout=120) for _ in children]
    finally:
        for child in children:
            child.join(timeout=30)
    assert reports == [CHILD_EXPECTED] * 3
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert echo(client, b"parent") == b"parent"

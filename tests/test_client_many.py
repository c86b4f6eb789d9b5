"""Client.invoke_endpoint_many against a LocalRuntime (and a raw-socket
server for what must be counted server-side), each result compared with
boto3 making the same calls one by one on the same server."""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from typing import Any, Dict, Iterator, List

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config

import sagerun
from hostile_server import HostileServer, closed_port, ok, reset_before_response, short_body, status
from test_client_operations import comparable, comparable_error

ENDPOINTS = {
    "echo": {"model": "echo"},
    "model-error": {"model": "error", "code": "ModelError", "original_status": 503,
                    "original_message": "container says no", "log_stream_arn": "arn:aws:logs:x"},
    "throttled": {"model": "error", "code": "ThrottlingException", "message": "slow down"},
    "not-ready": {"model": "error", "code": "ModelNotReadyException", "message": "warming up"},
    "cut": {"model": "echo", "faults": {"cut_after_bytes": 5}},
    "slow": {"model": "echo", "faults": {"latency_ms": 150}},
}
from configs import NO_RETRIES



@pytest.fixture(scope="module")
def session(rt):
    return boto3.Session()  # shared, so that both clients have the same exception classes


@pytest.fixture(scope="module")
def ours(rt, session):
    return sagerun.Client(session=session, config=NO_RETRIES, **rt.client_kwargs())


@pytest.fixture(scope="module")
def boto(rt, session):
    return session.client("sagemaker-runtime", config=NO_RETRIES, **rt.client_kwargs())


def boto3_one_by_one(boto: Any, requests: List[Any]) -> List[Any]:
    """What a plain loop over boto3 gives for each request: the response
    (its Body read) or the exception of the call or of reading the body."""
    results: List[Any] = []
    for request in requests:
        try:
            r = boto.invoke_endpoint(**request)
            r["Body"] = r["Body"].read()
            results.append(r)
        except Exception as e:
            results.append(e)
    return results


def described(result: Any) -> Any:
    """A result without what differs per request, for comparison."""
    if isinstance(result, dict):
        body = result["Body"]
        return ("response", comparable(result), body if isinstance(body, bytes) else body.read())
    if isinstance(result, bex.ClientError):
        return (type(result), str(result), comparable_error(result))
    if isinstance(result, (bex.ParamValidationError, TypeError)):
        return (type(result), str(result))
    return (type(result),)  # connection errors: messages name different libraries


MIXED = [
    {"EndpointName": "echo", "Body": b'{"x": 1}', "ContentType": "application/json"},
    {"EndpointName": "model-error", "Body": b"{}"},
    {"EndpointName": "echo"},  # Body missing: ParamValidationError
    {"EndpointName": "echo", "Body": "text ✓", "CustomAttributes": "trace=1", "Accept": "text/plain"},
    {"EndpointName": "throttled", "Body": b"{}"},
    {"EndpointName": "echo", "Body": 42},  # wrong type
    {"EndpointName": "cut", "Body": b"0123456789" * 5},  # body cut after the head
    {"EndpointName": "no-such-endpoint", "Body": b"{}"},
    {"EndpointName": "echo", "Body": b"{}", "Unknown": "member"},
    {"EndpointName": "not-ready", "Body": b"{}"},
    {"EndpointName": "slow", "Body": b"late"},
    {"EndpointName": "echo", "Body": b""},
]


@pytest.mark.parametrize("concurrency", [1, 3, 64])
def test_mixed_results_each_in_its_place_like_boto3_one_by_one(ours, boto, concurrency):
    requests = MIXED * 3
    finished: List[Any] = []
    threads = set()

    def on_result(index: int, result: Any) -> None:
        finished.append((index, result))
        threads.add(threading.get_ident())

    results = list(ours.invoke_endpoint_many(requests, concurrency=concurrency, on_result=on_result))
    expected = boto3_one_by_one(boto, requests)
    assert len(results) == len(requests)
    for index, (got, want) in enumerate(zip(results, expected)):
        assert described(got) == described(want), f"request {index}: {requests[index]}"
        if isinstance(want, Exception):
            assert isinstance(got, type(want))
    # on_result: once per request, with the very object yielded in its place.
    assert sorted(i for i, _ in finished) == list(range(len(requests)))
    for index, result in finished:
        assert result is results[index]
    assert threads == {threading.get_ident()}  # called from the iterating thread


def test_results_are_what_invoke_endpoint_returns(ours):
    [r] = ours.invoke_endpoint_many([{"EndpointName": "echo", "Body": b"abc"}])
    single = ours.invoke_endpoint(EndpointName="echo", Body=b"abc")
    assert type(r["Body"]) is type(single["Body"])
    assert r["Body"].read() == single["Body"].read() == b"abc"
    assert comparable(r) == comparable(single)


def test_return_exceptions_false_raises_the_first_failure_in_input_order(ours, boto):
    requests = [
        {"EndpointName": "echo", "Body": b"a"},
        {"EndpointName": "slow", "Body": b"b"},
        {"EndpointName": "model-error", "Body": b"{}"},  # the first failure
        {"EndpointName": "echo"},  # fails sooner (validation), but comes later
    ]
    expected = boto3_one_by_one(boto, requests)
    it = ours.invoke_endpoint_many(requests, concurrency=4, return_exceptions=False)
    assert described(next(it)) == described(expected[0])
    assert described(next(it)) == described(expected[1])
    with pytest.raises(bex.ClientError) as info:
        next(it)
    assert type(info.value) is type(expected[2])
    assert comparable_error(info.value) == comparable_error(expected[2])
    with pytest.raises(StopIteration):
        next(it)


def test_a_refused_connection_is_each_items_error_like_boto3(session):
    url = f"http://127.0.0.1:{closed_port()}"
    kwargs = dict(endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="AKID", aws_secret_access_key="secret")
    ours = sagerun.Client(session=session, config=NO_RETRIES, **kwargs)
    boto = session.client("sagemaker-runtime", config=NO_RETRIES, **kwargs)
    requests = [{"EndpointName": "echo", "Body": b"x"}, {"EndpointName": "echo"},
                {"EndpointName": "echo", "Body": b"y"}]
    results = list(ours.invoke_endpoint_many(requests, concurrency=2))
    expected = boto3_one_by_one(boto, requests)
    assert [described(r) for r in results] == [described(e) for e in expected]
    assert isinstance(results[0], bex.EndpointConnectionError)
    assert isinstance(results[1], bex.ParamValidationError)


def test_arguments_are_checked_when_called(ours):
    for bad in (0, -1, 2.5, "8", True, 65537, 2**64):
        with pytest.raises(ValueError, match="concurrency"):
            ours.invoke_endpoint_many([], concurrency=bad)
    with pytest.raises(TypeError, match="on_result"):
        ours.invoke_endpoint_many([], on_result=5)
    with pytest.raises(TypeError):
        ours.invoke_endpoint_many(42)  # not iterable
    assert list(ours.invoke_endpoint_many([])) == []
    assert list(ours.invoke_endpoint_many(iter(()))) == []


def test_mappings_that_are_not_dicts_work_and_other_items_fail_in_place(ours):
    from types import MappingProxyType

    results = list(ours.invoke_endpoint_many(
        [MappingProxyType({"EndpointName": "echo", "Body": b"m"}), ["EndpointName", "echo"]]))
    assert results[0]["Body"].read() == b"m"
    assert isinstance(results[1], TypeError)


def test_an_exception_in_on_result_ends_the_iteration(ours):
    def on_result(index, result):
        raise RuntimeError("progress bar broke")

    it = ours.invoke_endpoint_many([{"EndpointName": "echo", "Body": b"x"}] * 5, on_result=on_result)
    with pytest.raises(RuntimeError, match="progress bar broke"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


class Counting:
    """An endless request generator that counts how far it was pulled."""

    def __init__(self, request: Dict[str, Any]):
        self.request = request
        self.pulled = 0

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        while True:
            self.pulled += 1
            yield self.request


def test_requests_are_pulled_lazily_within_the_window(ours):
    concurrency = 8
    requests = Counting({"EndpointName": "echo", "Body": b"lazy"})
    it = ours.invoke_endpoint_many(requests, concurrency=concurrency)
    assert requests.pulled == 0  # nothing happens before the first next()
    first = next(it)
    assert first["Body"].read() == b"lazy"
    # concurrency in flight + the reorder window: 4 * concurrency in all
    assert requests.pulled <= 4 * concurrency
    yielded = 1
    for result in itertools.islice(it, 500):
        yielded += 1
        assert isinstance(result, dict)
        assert requests.pulled - yielded <= 4 * concurrency
    it.close()
    pulled = requests.pulled
    assert list(it) == []
    assert requests.pulled == pulled


def test_a_slow_head_holds_up_pulling_new_requests(ours):
    """Head-of-line blocking: while the first request is slow, the ones
    after it finish but stay in the window behind it, so no more requests
    are pulled until it is done."""
    concurrency = 4
    pulled: List[int] = []
    pulled_when_the_head_finished: List[int] = []

    def requests() -> Iterator[Dict[str, Any]]:
        for i in itertools.count():
            pulled.append(i)
            yield {"EndpointName": "slow" if i == 0 else "echo", "Body": b"%d" % i}

    def on_result(index: int, result: Any) -> None:
        if index == 0:
            pulled_when_the_head_finished.append(len(pulled))

    it = ours.invoke_endpoint_many(requests(), concurrency=concurrency, on_result=on_result)
    assert next(it)["Body"].read() == b"0"
    assert pulled_when_the_head_finished == [4 * concurrency]
    assert [r["Body"].read() for r in itertools.islice(it, 20)] == [b"%d" % i for i in range(1, 21)]
    it.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_long_generator_runs_in_bounded_memory(local_runtime):
    """100,000 requests by default; SAGERUN_MANY_REQUESTS=1000000 runs the
    issue's million (a few minutes in a debug build)."""
    total = int(os.environ.get("SAGERUN_MANY_REQUESTS", "100000"))
    rt = local_runtime({"echo": {"model": "echo"}}, verify_signatures=False)
    client = sagerun.Client(config=NO_RETRIES, **rt.client_kwargs())
    request = {"EndpointName": "echo", "Body": b'{"inputs": "hi"}'}

    def run(n: int, sample_every: int, samples: List[int]) -> int:
        done = 0
        for result in client.invoke_endpoint_many(itertools.repeat(request, n), concurrency=64):
            assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
            done += 1
            if done % sample_every == 0:
                samples.append(rss_bytes())
        return done

    run(20_000, 20_000, [])  # warm up: pools, caches, allocator arenas
    gc.collect()
    baseline, fds = rss_bytes(), open_fds()
    samples: List[int] = []
    assert run(total, max(total // 20, 1), samples) == total
    growth = max(samples) - baseline
    # A leak of a few hundred bytes per request would show as tens of MB.
    assert growth < 24 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB over {total} requests"
    assert open_fds() <= fds + 70  # at most the pool's connections


def test_python_memory_does_not_grow_with_the_number_of_requests(local_runtime):
    """tracemalloc's peak over 20,000 requests is about that over 2,000:
    nothing is kept per request (results, requests, bookkeeping)."""
    import tracemalloc

    rt = local_runtime({"echo": {"model": "echo"}}, verify_signatures=False)
    client = sagerun.Client(config=NO_RETRIES, **rt.client_kwargs())
    request = {"EndpointName": "echo", "Body": b'{"inputs": "hi"}'}

    def peak_over(n: int) -> int:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        for result in client.invoke_endpoint_many(itertools.repeat(request, n), concurrency=32):
            result["Body"].read()
        return tracemalloc.get_traced_memory()[1] - start

    list(client.invoke_endpoint_many(itertools.repeat(request, 500)))  # warm up
    tracemalloc.start()
    try:
        small, big = peak_over(2_000), peak_over(20_000)
    finally:
        tracemalloc.stop()
    assert big < 1.5 * small + 256 * 1024, (small, big)


class Recorder:
    """Server-side counts for a raw-socket server: requests in flight at
    once, and connections closed by the client."""

    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.done = 0

    def slow_ok(self, conn: Any, request: Any) -> bool:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.done += 1
        return ok(conn, request)


@pytest.mark.parametrize("concurrency", [1, 4, 12])
def test_concurrency_is_honoured_and_connections_are_reused(concurrency):
    recorder = Recorder(delay=0.2)
    n = 3 * concurrency + 1  # ceil(n / concurrency) = 4 rounds
    with HostileServer([recorder.slow_ok]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, region_name="us-east-1",
                                aws_access_key_id="AKID", aws_secret_access_key="secret",
                                config=NO_RETRIES)
        requests = [{"EndpointName": "ep", "Body": b"%d" % i} for i in range(n)]
        results = list(client.invoke_endpoint_many(requests, concurrency=concurrency))
        connections = {r.connection for r in srv.requests}
    assert all(r["Body"].read() == b'{"ok": true}' for r in results)
    assert recorder.done == n
    assert recorder.peak == concurrency
    # Pooled: each connection carries several requests (one pool per
    # runtime worker thread, 2 of them, so up to 2 * concurrency).
    assert len(connections) <= min(n, 2 * concurrency)
    assert len(connections) < n or n == 1


def test_max_pool_connections_bounds_the_idle_connections_kept():
    recorder = Recorder(delay=0.02)
    alive: List[int] = []
    with HostileServer([recorder.slow_ok]) as srv:
        config = NO_RETRIES.merge(Config(max_pool_connections=2))
        client = sagerun.Client(endpoint_url=srv.url, region_name="us-east-1",
                                aws_access_key_id="AKID", aws_secret_access_key="secret",
                                config=config)
        results = list(client.invoke_endpoint_many(
            [{"EndpointName": "ep", "Body": b"x"}] * 40, concurrency=8))
        assert all(isinstance(r, dict) for r in results)
        # The connections beyond the pool's size are closed once done; the
        # server sees them end (bounded wait).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [t for t in srv._threads if t.is_alive()]
            if len(alive) <= 4:
                break
            time.sleep(0.05)
    assert len(alive) <= 2 * 2  # max_pool_connections per runtime worker thread


def test_stopping_early_cancels_the_calls_still_running():
    ended_by_client = threading.Event()
    holds: List[bool] = []
    lock = threading.Lock()

    def first_fast_then_hold(conn: Any, request: Any) -> bool:
        if request.body == b"fast":
            return ok(conn, request)
        started = time.monotonic()
        conn.hold()  # returns when the client closes the connection
        with lock:
            holds.append(time.monotonic() - started < conn.server.hold_limit)
            if len(holds) == 3:
                ended_by_client.set()
        return False

    with HostileServer([first_fast_then_hold], hold_limit=30) as srv:
        client = sagerun.Client(endpoint_url=srv.url, region_name="us-east-1",
                                aws_access_key_id="AKID", aws_secret_access_key="secret",
                                config=NO_RETRIES)
        requests = [{"EndpointName": "ep", "Body": b"fast"}] + [{"EndpointName": "ep", "Body": b"hold"}] * 3
        it = client.invoke_endpoint_many(requests, concurrency=4)
        assert next(it)["Body"].read() == b'{"ok": true}'
        deadline = time.monotonic() + 10
        while len(srv.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(srv.requests) == 4
        it.close()  # drops the three calls still waiting
        assert ended_by_client.wait(10), "the held connections were not closed"
        assert holds == [True, True, True]
        # The client keeps working.
        [again] = client.invoke_endpoint_many([{"EndpointName": "ep", "Body": b"fast"}])
        assert again["Body"].read() == b'{"ok": true}'


def test_many_batches_from_several_threads_share_one_client(ours):
    errors: List[BaseException] = []

    def work(tag: int) -> None:
        try:
            bodies = [b"%d-%d" % (tag, i) for i in range(200)]
            results = ours.invoke_endpoint_many(
                ({"EndpointName": "echo", "Body": b} for b in bodies), concurrency=16)
            assert [r["Body"].read() for r in results] == bodies
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_connection_failures_each_in_its_place_like_boto3(session):
    """A raw-socket server answers the requests in the order they come
    (concurrency 1 starts them in input order): broken connections and a
    bare 500 among good answers."""
    script = [ok, reset_before_response, status(500, "InternalFailure"), ok, short_body, ok]
    requests = [{"EndpointName": "ep", "Body": b"%d" % i} for i in range(len(script))]
    kwargs = dict(region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="secret")

    with HostileServer(script) as srv:
        ours = sagerun.Client(session=session, endpoint_url=srv.url, config=NO_RETRIES, **kwargs)
        results = list(ours.invoke_endpoint_many(requests, concurrency=1))
    with HostileServer(script) as srv:
        boto = session.client("sagemaker-runtime", endpoint_url=srv.url, config=NO_RETRIES, **kwargs)
        expected = boto3_one_by_one(boto, requests)
    assert [described(r) for r in results] == [described(e) for e in expected]
    assert [type(r).__name__ for r in results] == [
        "dict", "ConnectionClosedError", "InternalFailure", "dict", "ResponseStreamingError", "dict"]


def test_ctrl_c_interrupts_a_waiting_batch_and_cancels_its_calls():
    import _thread

    released = threading.Semaphore(0)

    def hold(conn: Any, request: Any) -> bool:
        conn.hold()  # until the client closes the connection
        released.release()
        return False

    with HostileServer([hold], hold_limit=30) as srv:
        client = sagerun.Client(endpoint_url=srv.url, region_name="us-east-1",
                                aws_access_key_id="AKID", aws_secret_access_key="secret",
                                config=NO_RETRIES)
        it = client.invoke_endpoint_many([{"EndpointName": "ep", "Body": b"x"}] * 3, concurrency=3)
        timer = threading.Timer(0.5, _thread.interrupt_main)
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                next(it)
        finally:
            timer.cancel()
        for _ in range(3):
            assert released.acquire(timeout=10), "a held call was not cancelled"


def test_a_failing_request_iterator_raises_after_the_results_before_it(ours):
    def requests() -> Iterator[Dict[str, Any]]:
        for i in range(3):
            yield {"EndpointName": "echo", "Body": b"%d" % i}
        raise LookupError("the source broke")

    it = ours.invoke_endpoint_many(requests(), concurrency=8)
    assert [r["Body"].read() for r in itertools.islice(it, 3)] == [b"0", b"1", b"2"]
    with pytest.raises(LookupError, match="the source broke"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def isolate_from_credentials(monkeypatch: Any, tmp_path: Any) -> None:
    """No credentials anywhere botocore's chain looks (and nothing outside
    loopback asked)."""
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_credentials_each_call_fails_like_boto3(rt, monkeypatch, tmp_path):
    isolate_from_credentials(monkeypatch, tmp_path)
    session = boto3.Session()
    ours = sagerun.Client(session=session, region_name="us-east-1", endpoint_url=rt.url, config=NO_RETRIES)
    boto = session.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=rt.url,
                          config=NO_RETRIES)
    requests = [{"EndpointName": "echo", "Body": b"x"}, {"EndpointName": "echo"},
                {"EndpointName": "echo", "Body": b"y"}]
    results = list(ours.invoke_endpoint_many(requests))
    expected = boto3_one_by_one(boto, requests)
    assert [described(r) for r in results] == [described(e) for e in expected]
    assert [type(r) for r in results] == [bex.NoCredentialsError, bex.ParamValidationError,
                                          bex.NoCredentialsError]


def test_refreshable_credentials_are_frozen_for_the_batch(rt, monkeypatch, tmp_path):
    """The runtime checks every signature: the batch was signed with the
    credentials the refresh function gave."""
    import datetime

    import botocore.session
    from botocore.credentials import RefreshableCredentials
    from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    isolate_from_credentials(monkeypatch, tmp_path)

    def refresh() -> Dict[str, Any]:
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)
        return {"access_key": DEFAULT_ACCESS_KEY, "secret_key": DEFAULT_SECRET_KEY, "token": None,
                "expiry_time": expiry.isoformat()}

    session = botocore.session.Session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="test")
    client = sagerun.Client(session=session, region_name="us-east-1", endpoint_url=rt.url,
                            config=NO_RETRIES)
    results = list(client.invoke_endpoint_many({"EndpointName": "echo", "Body": b"%d" % i}
                                               for i in range(300)))
    assert [r["Body"].read() for r in results] == [b"%d" % i for i in range(300)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_batches_work_in_a_forked_child_and_a_parents_batch_refuses_clearly(ours):
    request = {"EndpointName": "echo", "Body": b"fork"}
    started = ours.invoke_endpoint_many([request] * 20, concurrency=4)
    assert next(started)["Body"].read() == b"fork"  # its runtime threads are the parent's
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the same client, a fresh runtime and pool
        verdict = b"0"
        try:
            results = list(ours.invoke_endpoint_many([request] * 50, concurrency=8))
            fresh_ok = [r["Body"].read() for r in results] == [b"fork"] * 50
            try:
                for _ in started:  # what was handed over already still comes
                    pass
                stale_refused = False
            except RuntimeError as e:
                stale_refused = "parent process" in str(e)
            verdict = b"1" if fresh_ok and stale_refused else b"0"
        finally:
            os.write(write_end, verdict)
            os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.waitpid(pid, 0)
    assert [r["Body"].read() for r in started] == [b"fork"] * 19  # the parent's batch goes on

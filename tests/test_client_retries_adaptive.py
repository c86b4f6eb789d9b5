"""The ``adaptive`` retry mode: standard retries plus botocore's client-side
rate limiter. The limiter's arithmetic is compared with botocore's own
ClientRateLimiter (RateClocker, CubicCalculator, TokenBucket, wired by
``botocore.retries.adaptive.register_retry_handler``) driven by the same
events on the same fake clock; end to end, requests to the local runtime
are held back after a throttling error and not before, as botocore's
limiter holds boto3's back on the same server."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from types import SimpleNamespace
from typing import Any, List

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config
from botocore.retries import adaptive, bucket
from hypothesis import given, settings
from hypothesis import strategies as st

import sagerun
from sagerun import _native


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "HTTP_PROXY", "http_proxy"]:
        monkeypatch.delenv(name, raising=False)


# -- the arithmetic beside botocore's ----------------------------------------------


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def current_time(self) -> float:
        return self.now

    def sleep(self, amount: float) -> None:
        self.now += amount


class ClockedCondition:
    """Stands in for the token bucket's threading.Condition: a wait moves
    the fake clock by the time botocore asked to wait."""

    def __init__(self, clock: FakeClock):
        self.clock = clock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def wait(self, timeout: float) -> None:
        self.clock.now = advance(self.clock.now, timeout)

    def notify(self) -> None:
        pass


def advance(now: float, wait: float) -> float:
    """`now` after waiting `wait`: at least one tick later (a real clock
    moves on even when a wait's last sliver rounds away in a float)."""
    return max(now + wait, math.nextafter(now, math.inf))


def botocore_limiter(clock: FakeClock) -> Any:
    """botocore's limiter exactly as adaptive mode registers it, on `clock`."""
    registered = []
    client = SimpleNamespace(meta=SimpleNamespace(events=SimpleNamespace(
        register=lambda name, handler: registered.append(name))))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bucket, "Clock", lambda: clock)
        limiter = adaptive.register_retry_handler(client)
    assert registered == ["before-send", "needs-retry"]
    limiter._token_bucket._new_fill_rate_condition = ClockedCondition(clock)
    return limiter


def needs_retry_kwargs(code: "str | None") -> dict:
    parsed = {"Error": {"Code": code}} if code else {"ResponseMetadata": {}}
    return {"attempts": 1, "operation": None, "response": (None, parsed),
            "caught_exception": None, "request_dict": {"context": {}}}


def ours_send(model: Any, now: float) -> float:
    """Our limiter's answer to a send at `now`: the time it makes the sender wait."""
    start = now
    for _ in range(100):
        wait = model.try_send(now)
        if wait is None:
            return now - start
        assert 0 < wait <= 2.0 + 1e-9
        now = advance(now, wait)
    raise AssertionError("a send never got a token")


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


EVENTS = st.lists(
    st.tuples(st.floats(0, 0.7, allow_nan=False), st.sampled_from(["send", "ok", "throttle", "error"])),
    min_size=1, max_size=120)


@settings(max_examples=300, deadline=None)
@given(start=st.floats(1e3, 2e9, allow_nan=False), events=EVENTS)
def test_the_limiter_follows_botocores_on_the_same_events(start, events):
    clock = FakeClock(start)
    theirs = botocore_limiter(clock)
    ours = _native.AdaptiveLimiterModel(start)
    for gap, kind in events:
        clock.now += gap
        if kind == "send":
            before = clock.now
            theirs.on_sending_request(request=None)
            waited = clock.now - before
            assert close(ours_send(ours, before), waited), (waited, kind)
        else:
            code = {"ok": None, "throttle": "ThrottlingException", "error": "ModelError"}[kind]
            theirs.on_receiving_response(**needs_retry_kwargs(code))
            ours.on_response(clock.now, kind == "throttle")
        assert ours.enabled == theirs._enabled
        assert close(ours.measured_rate, theirs._rate_clocker.measured_rate)
        assert close(ours.max_rate, theirs._token_bucket.max_rate)
        assert close(ours.capacity, theirs._token_bucket.available_capacity)


def test_a_steady_sender_after_a_throttle_is_paced_at_botocores_rate():
    """A sender in a tight loop, throttled once: every wait matches."""
    clock = FakeClock(5000.25)
    theirs = botocore_limiter(clock)
    ours = _native.AdaptiveLimiterModel(clock.now)
    for i in range(400):
        clock.now += 0.01
        if i == 150:
            theirs.on_receiving_response(**needs_retry_kwargs("ThrottlingException"))
            ours.on_response(clock.now, True)
            continue
        before = clock.now
        theirs.on_sending_request(request=None)
        assert close(ours_send(ours, before), clock.now - before)
        theirs.on_receiving_response(**needs_retry_kwargs(None))
        ours.on_response(clock.now, False)
    assert ours.enabled and close(ours.max_rate, theirs._token_bucket.max_rate)


# -- end to end ----------------------------------------------------------------------


ENDPOINTS = {"echo": {"model": "echo"},
             "busy": {"model": "error", "code": "ThrottlingException"}}
ADAPTIVE_ONCE = Config(retries={"mode": "adaptive", "total_max_attempts": 1})


def limiter_state(client: Any) -> dict:
    state = _native.rate_limiter_state(client._invoke_endpoint_op.native)
    assert state is not None
    return state


class BotocoreBucketTap:
    """Counts what botocore's token bucket is asked: tokens taken
    (only once its limiter is on) and waits for one."""

    def __init__(self, monkeypatch):
        self.acquired = 0
        self.waits = 0
        acquire, sleep_amount = bucket.TokenBucket.acquire, bucket.TokenBucket._sleep_amount

        def counted_acquire(this, *a, **k):
            self.acquired += 1
            return acquire(this, *a, **k)

        def counted_sleep_amount(this, *a, **k):
            self.waits += 1
            return sleep_amount(this, *a, **k)

        monkeypatch.setattr(bucket.TokenBucket, "acquire", counted_acquire)
        monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", counted_sleep_amount)


def test_requests_wait_after_a_throttling_error_and_not_before(local_runtime, monkeypatch):
    rt = local_runtime(ENDPOINTS)
    tap = BotocoreBucketTap(monkeypatch)
    ours = sagerun.Client(config=ADAPTIVE_ONCE, **rt.client_kwargs())
    theirs = boto3.client("sagemaker-runtime", config=ADAPTIVE_ONCE, **rt.client_kwargs())
    for _ in range(30):
        for client in (ours, theirs):
            assert client.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"
    state = limiter_state(ours)
    assert not state["enabled"] and state["delayed_sends"] == 0
    assert tap.acquired == 0 and tap.waits == 0  # botocore's limiter is off too

    for client in (ours, theirs):
        with pytest.raises(bex.ClientError) as e:
            client.invoke_endpoint(EndpointName="busy", Body=b"x")
        assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert limiter_state(ours)["enabled"]

    # Now every request takes a token; once the bucket is spent, they wait.
    # (It holds at most max(1, 0.7 x the measured rate) and refills at the
    # allowed rate, below the measured one: a few seconds of requests drain
    # it, however fast this machine runs them. Bounded by time, not count.)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if limiter_state(ours)["delayed_sends"] and tap.waits:
            break
        ours.invoke_endpoint(EndpointName="echo", Body=b"x")
        theirs.invoke_endpoint(EndpointName="echo", Body=b"x")
    assert limiter_state(ours)["delayed_sends"] >= 1
    assert tap.acquired >= 1 and tap.waits >= 1


def test_one_limiter_is_shared_by_a_clients_threads_and_async_calls(local_runtime):
    rt = local_runtime(ENDPOINTS)
    client = sagerun.Client(config=ADAPTIVE_ONCE, **rt.client_kwargs())
    errors: List[BaseException] = []

    def throttle() -> None:
        try:
            client.invoke_endpoint(EndpointName="busy", Body=b"x")
        except bex.ClientError as e:
            errors.append(e)

    t = threading.Thread(target=throttle)
    t.start()
    t.join()
    assert len(errors) == 1 and limiter_state(client)["enabled"]

    async def many() -> None:
        async with sagerun.AsyncClient(config=ADAPTIVE_ONCE, **rt.client_kwargs()) as aclient:
            with pytest.raises(bex.ClientError):
                await aclient.invoke_endpoint(EndpointName="busy", Body=b"x")
            state = _native.rate_limiter_state(aclient._invoke_endpoint_op.native)
            assert state["enabled"]
            await asyncio.gather(*(aclient.invoke_endpoint(EndpointName="echo", Body=b"x")
                                   for _ in range(4)))
            assert _native.rate_limiter_state(aclient._invoke_endpoint_op.native)["delayed_sends"] >= 1

    asyncio.run(many())
    # The thread's throttle holds back the main thread's calls too.
    for _ in range(3):
        client.invoke_endpoint(EndpointName="echo", Body=b"x")
    assert limiter_state(client)["delayed_sends"] >= 1


def test_other_modes_have_no_limiter(local_runtime):
    rt = local_runtime(ENDPOINTS)
    for mode in ("legacy", "standard"):
        client = sagerun.Client(config=Config(retries={"mode": mode}), **rt.client_kwargs())
        assert _native.rate_limiter_state(client._invoke_endpoint_op.native) is None


def test_adaptive_retries_like_standard_mode_beside_boto3(local_runtime):
    """Retries as standard mode: three attempts at a throttling endpoint,
    the same metadata as boto3's."""
    rt = local_runtime(ENDPOINTS)
    config = Config(retries={"mode": "adaptive", "total_max_attempts": 3})
    responses = []
    for client in (sagerun.Client(config=config, **rt.client_kwargs()),
                   boto3.client("sagemaker-runtime", config=config, **rt.client_kwargs())):
        with pytest.raises(bex.ClientError) as e:
            client.invoke_endpoint(EndpointName="busy", Body=b"x")
        meta = e.value.response["ResponseMetadata"]
        responses.append((e.value.response["Error"]["Code"], meta["RetryAttempts"],
                          meta.get("MaxAttemptsReached")))
    assert responses[0] == responses[1] == ("ThrottlingException", 2, True)

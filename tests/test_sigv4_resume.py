"""Consecutive signings in one thread: the signer resumes each hash after the
blocks a canonical request (and string to sign) shares with the previous
one, and reuses the last request's head (its canonical text but the payload
line, its Authorization draft) for a request made of the same pieces.
Whatever came before, every signature must be botocore's for the same
request and instant: requests differing late, early, by one byte, in
length around block edges, by key, across seconds, in any one piece of the
head, and texts too long to remember."""

from __future__ import annotations

import datetime
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagerun import sigv4
from test_sigv4_botocore import botocore_sign

BASE = "https://runtime.sagemaker.us-west-2.amazonaws.com"
PATH = "/endpoints/ep/invocations"
T0 = datetime.datetime(2026, 11, 21, 12, 0, 0)
KEYS = [("AKIDEXAMPLE", "secret-one", None), ("AKIDOTHER", "secret-two", "tok+/=")]


def botocore_headers(headers, body, when, key, path=PATH):
    access_key, secret_key, token = key
    _, request = botocore_sign("POST", BASE, path, [], headers, body, region="us-west-2",
                               service="sagemaker", access_key=access_key,
                               secret_key=secret_key, token=token, when=when)
    return {name: request.headers[name]
            for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
            if name in request.headers}


def signer_for(key):
    access_key, secret_key, token = key
    return sigv4.Signer(region="us-west-2", service="sagemaker", access_key=access_key,
                        secret_key=secret_key, session_token=token)


SIGNERS = {key: signer_for(key) for key in KEYS}


def sign_both_ways(headers, body, when, key, path=PATH):
    """The bound signer's and the free function's answers (which must agree)."""
    access_key, secret_key, token = key
    bound = SIGNERS[key].sign("POST", BASE + path, headers, body, timestamp=when)
    free = sigv4.sign("POST", BASE + path, headers, body, region="us-west-2",
                      service="sagemaker", access_key=access_key, secret_key=secret_key,
                      session_token=token, timestamp=when)
    assert bound == free
    return bound


# One request per step; each differs from the one before in one way.
padding = st.integers(min_value=0, max_value=300)
step = st.tuples(
    st.sampled_from(KEYS),
    st.integers(min_value=0, max_value=2),  # seconds after T0
    padding,  # length of a header value: moves every later block edge
    st.sampled_from(["a", "b", "a b", "a\tb", "  a  b  ", "é"]),  # a late header's value
    st.binary(max_size=3),  # the body (so the payload hash line)
    st.booleans(),  # a header too long for the texts to be remembered
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=2, max_size=8))
def test_every_signing_in_a_sequence_is_botocores(steps):
    for key, seconds, pad, late, body, huge in steps:
        when = T0 + datetime.timedelta(seconds=seconds)
        headers = [("Content-Type", "application/json"), ("X-Amzn-A", "x" * pad),
                   ("X-Zz-Late", late)]
        if huge:
            headers.append(("X-Amzn-Huge", "h" * 5000))
        assert sign_both_ways(headers, body, when, key) == botocore_headers(
            headers, body, when, key)


@pytest.mark.parametrize("at", [0, 1, 63, 64, 65, 127, 128, 200])
def test_a_one_byte_change_anywhere_changes_the_signature_as_botocores(at):
    value = bytearray(b"v" * 256)
    headers = [("X-Amzn-Blob", value.decode())]
    before = sign_both_ways(headers, b"{}", T0, KEYS[0])
    value[at] = ord("w")
    changed = [("X-Amzn-Blob", value.decode())]
    after = sign_both_ways(changed, b"{}", T0, KEYS[0])
    assert after == botocore_headers(changed, b"{}", T0, KEYS[0])
    assert after["Authorization"] != before["Authorization"]
    # And back: the first request signs as it did.
    assert sign_both_ways(headers, b"{}", T0, KEYS[0]) == before


def test_threads_signing_different_requests_at_once_match_botocore():
    """Each thread remembers its own texts; interleaved signing in several
    threads gives each request its own signature."""
    bodies = [bytes([i]) * (i * 37) for i in range(4)]
    expected = [botocore_headers([("X-Amzn-N", str(i))], bodies[i], T0, KEYS[i % 2])
                for i in range(4)]
    errors = []

    def work(i):
        try:
            for _ in range(200):
                got = sign_both_ways([("X-Amzn-N", str(i))], bodies[i], T0, KEYS[i % 2])
                assert got == expected[i]
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


HEAD = [("Content-Type", "application/json"), ("X-Amzn-SageMaker-Custom-Attributes", "a=1")]
# Each differs from HEAD in one piece only (the body and the instant aside).
ONE_PIECE_OFF = [
    [("Content-Type", "application/jsoN"), HEAD[1]],
    [("content-type", "application/json"), HEAD[1]],
    [HEAD[1], HEAD[0]],
    HEAD + [("X-Amzn-SageMaker-Custom-Attributes", "b=2")],
    HEAD + [("User-Agent", "unsigned/1.0")],
    [HEAD[0], ("X-Amzn-SageMaker-Custom-Attributes", "  a=1 ")],
    HEAD + [("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")],
]


@pytest.mark.parametrize("other", ONE_PIECE_OFF)
def test_a_remembered_head_serves_only_the_same_request(other):
    """The same head twice in a row (the second reuses it), then a head one
    piece off, then back, with bodies, keys, paths and instants changing in
    between: each signing is botocore's."""
    later = T0 + datetime.timedelta(seconds=1)
    sequence = [
        (HEAD, b"{}", T0, KEYS[0], PATH),
        (HEAD, b"{}", T0, KEYS[0], PATH),
        (HEAD, b"[1]" * 500, T0, KEYS[0], PATH),
        (other, b"[1]" * 500, T0, KEYS[0], PATH),
        (other, b"[1]" * 500, T0, KEYS[0], PATH),
        (HEAD, b"{}", T0, KEYS[0], PATH),
        (HEAD, b"{}", later, KEYS[0], PATH),
        (HEAD, b"{}", later, KEYS[1], PATH),
        (HEAD, b"{}", later, KEYS[1], PATH + "x"),
        (HEAD, b"{}", T0, KEYS[0], PATH),
    ]
    for headers, body, when, key, path in sequence:
        assert sign_both_ways(headers, body, when, key, path) == botocore_headers(
            headers, body, when, key, path)

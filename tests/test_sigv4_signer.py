"""sagerun.sigv4.Signer (the bound signer): exactly what sign() gives and
what botocore's SigV4Auth gives for the same request and instant, on the
official vectors, on generated requests, across a UTC date change, with and
without a session token; and its repr keeps secrets out."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagerun import sigv4
from test_sigv4_botocore import (
    as_body, as_timestamp, base_url, body, botocore_sign, headers, host_header, method, path,
    query, region, secret_key, service, token, when, access_key,
)
from test_sigv4_vectors import (
    ACCESS_KEY, SECRET_KEY, SUITE_TIME, SUITE_TOKENS, case_dirs, parse_req, read,
)

URL_BASE = "https://runtime.sagemaker.us-west-2.amazonaws.com"
PATH = "/endpoints/ep/invocations"


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_vector(case):
    raw = parse_req(read(case, "req"))
    signer = sigv4.Signer(region="us-east-1", service="service", access_key=ACCESS_KEY,
                          secret_key=SECRET_KEY, session_token=SUITE_TOKENS.get(case.name))
    details = signer.sign_details(raw.method, raw.url, raw.headers, raw.body, timestamp=SUITE_TIME)
    assert details.canonical_request == read(case, "creq")
    assert details.string_to_sign == read(case, "sts")
    assert details.authorization == read(case, "authz")
    expected = {"Authorization": read(case, "authz")}
    if case.name in SUITE_TOKENS:
        expected = {"X-Amz-Security-Token": SUITE_TOKENS[case.name], **expected}
    assert details.headers == expected
    # Twice: the second time with the key the first derived; the time comes
    # from the request's X-Amz-Date.
    for _ in range(2):
        assert signer.sign(raw.method, raw.url, raw.headers, raw.body) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), method, base_url, path, query(), headers, host_header, body, region, service,
       access_key, secret_key, token, st.lists(when, min_size=1, max_size=3))
def test_same_as_botocore_and_sign(data, method, base, path, query, hdrs, host, body, region,
                                   service, access_key, secret_key, token, instants):
    pairs, query_string = query
    if host is not None:
        hdrs = [*hdrs, ("Host", host)]
    url = base + path + ("?" + query_string if pairs else "")
    signer = sigv4.Signer(region=region, service=service, access_key=access_key,
                          secret_key=secret_key, session_token=token)
    # One signer at several instants (dates): each signing as botocore's.
    for instant in instants:
        auth, request = botocore_sign(
            method, base, path, pairs, hdrs, body, region=region, service=service,
            access_key=access_key, secret_key=secret_key, token=token, when=instant)
        stamp = as_timestamp(data.draw, instant)
        payload = as_body(data.draw, body)
        details = signer.sign_details(method, url, hdrs, payload, timestamp=stamp)
        assert details.canonical_request == auth.canonical
        assert details.string_to_sign == auth.sts
        expected = {name: request.headers[name]
                    for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
                    if name in request.headers}
        assert details.headers == expected
        signed = signer.sign(method, url, hdrs, payload, timestamp=stamp)
        assert signed == expected and list(signed) == list(expected)
        assert signed == sigv4.sign(method, url, hdrs, payload, region=region, service=service,
                                    access_key=access_key, secret_key=secret_key,
                                    session_token=token, timestamp=stamp)


@pytest.mark.parametrize("token", [None, "", "FwoGZXIvYXdzEBYaDExample+/="])
def test_across_midnight_the_key_changes_as_botocore_s(token):
    signer = sigv4.Signer(region="us-west-2", service="sagemaker", access_key="AKIDEXAMPLE",
                          secret_key="secret", session_token=token)
    midnight = datetime.datetime(2026, 11, 22)
    second = datetime.timedelta(seconds=1)
    signatures = []
    for instant in (midnight - second, midnight, midnight - second, midnight + 3600 * second):
        _, request = botocore_sign("POST", URL_BASE, PATH, [], [("Content-Type", "a/b")], b"{}",
                                   region="us-west-2", service="sagemaker",
                                   access_key="AKIDEXAMPLE", secret_key="secret", token=token,
                                   when=instant)
        signed = signer.sign("POST", URL_BASE + PATH, {"Content-Type": "a/b"}, b"{}",
                             timestamp=instant)
        assert signed["Authorization"] == request.headers["Authorization"]
        # An empty token means none, here as in botocore.
        assert signed.get("X-Amz-Security-Token") == (token or None)
        signatures.append(signed["Authorization"].rsplit("=", 1)[1])
    assert len(set(signatures)) == 3 and signatures[0] == signatures[2]


def test_repr_shows_no_secrets():
    signer = sigv4.Signer(region="us-west-2", service="sagemaker", access_key="AKIDEXAMPLE",
                          secret_key="wJalrXUtnFEMI/K7MDENG", session_token="the-session-token")
    shown = repr(signer)
    assert "wJalrXUtnFEMI" not in shown and "the-session-token" not in shown
    assert "AKIDEXAMPLE" in shown and "us-west-2" in shown and "sagemaker" in shown
    assert (signer.region, signer.service, signer.access_key) == ("us-west-2", "sagemaker",
                                                                 "AKIDEXAMPLE")


def test_bad_principal_is_refused_when_made():
    good = dict(region="us-west-2", service="sagemaker", access_key="AK", secret_key="s")
    for bad in (dict(region="us/west"), dict(service=""), dict(access_key="A,K"),
                dict(session_token="a\nb")):
        with pytest.raises(sigv4.SigningError):
            sigv4.Signer(**{**good, **bad})
    for wrong in (dict(region=1), dict(secret_key=b"s"), dict(session_token=5)):
        with pytest.raises(TypeError):
            sigv4.Signer(**{**good, **wrong})
    with pytest.raises(TypeError):
        sigv4.Signer("us-west-2", "sagemaker", "AK", "s")  # keyword-only


def test_bad_requests_are_refused_as_by_sign():
    signer = sigv4.Signer(region="us-west-2", service="sagemaker", access_key="AK", secret_key="s")
    with pytest.raises(sigv4.SigningError):
        signer.sign("POST", URL_BASE + PATH, {"X-A": "a\r\nb"}, b"")
    with pytest.raises(sigv4.SigningError):
        signer.sign("POST", URL_BASE + PATH, {"Authorization": "x"}, b"")
    with pytest.raises(TypeError):
        signer.sign("POST", URL_BASE + PATH, {}, 5)
    with pytest.raises(TypeError):
        signer.sign("POST", URL_BASE + PATH, {}, b"", timestamp="now")
    with pytest.raises(TypeError):
        signer.sign("POST", URL_BASE + PATH, {}, b"", 0)  # timestamp is keyword-only


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEBYaDExample+/="])
def test_each_dict_is_the_requests_own_whatever_came_before(token):
    """A signer remembers what it signed last (the request's head, the
    X-Amz-Date str of its second): with instants, a request's own X-Amz-Date
    and callers changing the dicts they got in between, each dict is a new
    one and botocore's, in its order."""
    signer = sigv4.Signer(region="us-west-2", service="sagemaker", access_key="AKIDEXAMPLE",
                          secret_key="secret", session_token=token)
    t0 = datetime.datetime(2026, 11, 21, 12, 0, 0)
    t1 = t0 + datetime.timedelta(seconds=1)
    steps = [(t0, False, b"{}"), (t0, False, b"[]"), (t1, False, b"[]"), (t1, True, b"[]"),
             (t0, True, b"{}"), (t0, False, b"{}"), (t0, False, b"{}")]
    handed_out = []
    for instant, dated, payload in steps:
        hdrs = [("Content-Type", "a/b")]
        if dated:
            hdrs.append(("X-Amz-Date", instant.strftime("%Y%m%dT%H%M%SZ")))
        _, request = botocore_sign("POST", URL_BASE, PATH, [], hdrs, payload, region="us-west-2",
                                   service="sagemaker", access_key="AKIDEXAMPLE",
                                   secret_key="secret", token=token, when=instant)
        expected = {name: request.headers[name]
                    for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
                    if name in request.headers and not (dated and name == "X-Amz-Date")}
        signed = signer.sign("POST", URL_BASE + PATH, hdrs, payload, timestamp=instant)
        assert signed == expected and list(signed) == list(expected)
        assert all(signed is not other for other in handed_out)
        handed_out.append(signed)
        # The caller's dict is theirs to change: the next ones do not see it.
        signed["Authorization"] = "changed"
        signed.pop("X-Amz-Date", None)
        signed["X-Extra"] = "1"

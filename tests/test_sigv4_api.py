"""sagerun.sigv4's Python surface: argument forms, defaults, and clear
errors (TypeError for wrong types, SigningError/ValueError for bad values)
before anything could be sent. Expected signatures come from botocore."""

from __future__ import annotations

import calendar
import datetime
import threading
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from sagerun import sigv4

URL = "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/ep/invocations"
KW = dict(region="us-west-2", service="sagemaker", access_key="AKIDEXAMPLE", secret_key="secret")
WHEN = datetime.datetime(2026, 11, 21, 7, 0, 0)


def botocore_authorization(headers, body, when=WHEN, token=None, url=URL, method="POST"):
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(Credentials("AKIDEXAMPLE", "secret", token), "sagemaker", "us-west-2").add_auth(request)
    return request.headers["Authorization"]


def sign(headers=(), body=b"{}", **overrides):
    kwargs = {**KW, "timestamp": WHEN, **overrides}
    return sigv4.sign("POST", URL, list(headers), body, **kwargs)


def test_signing_error_is_a_value_error():
    assert issubclass(sigv4.SigningError, ValueError)


def test_returned_headers_and_their_order():
    signed = sign(session_token="tok")
    assert list(signed) == ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"]
    assert signed["X-Amz-Date"] == "20261121T070000Z"
    assert signed["X-Amz-Security-Token"] == "tok"
    assert signed["Authorization"] == botocore_authorization([], b"{}", token="tok")
    assert list(sign()) == ["X-Amz-Date", "Authorization"]
    assert sign(session_token="") == sign()  # an empty token is no token, as in botocore


def test_header_forms_are_equivalent():
    pairs = [("Content-Type", "application/json"), ("X-Multi", "a"), ("x-multi", "b")]
    expected = botocore_authorization(pairs, b"{}")
    http_headers = HTTPHeaders()
    for name, value in pairs:
        http_headers[name] = value  # repeated names kept, as botocore sends them
    for form in (pairs, tuple(pairs), [list(p) for p in pairs], http_headers, iter(pairs)):
        assert sigv4.sign("POST", URL, form, b"{}", **KW, timestamp=WHEN)["Authorization"] == expected
    single = {"Content-Type": "application/json"}
    assert sigv4.sign("POST", URL, single, b"{}", **KW, timestamp=WHEN)["Authorization"] == \
        botocore_authorization(list(single.items()), b"{}")
    assert sigv4.sign("POST", URL, None, b"{}", **KW, timestamp=WHEN) == sign()


def test_body_forms_are_equivalent():
    text = '{"inputs": "héllo ☕"}'
    expected = botocore_authorization([], text.encode())
    for body in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        assert sign(body=body)["Authorization"] == expected
    assert sign(body=None) == sign(body=b"") == sign(body="")


def test_timestamp_forms_are_equivalent():
    secs = calendar.timegm(WHEN.utctimetuple())
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    expected = sign(timestamp=WHEN)
    aware = WHEN.replace(tzinfo=datetime.timezone.utc)
    for ts in (secs, secs + 0.999, aware, aware.astimezone(tokyo)):
        assert sign(timestamp=ts) == expected


def test_timestamp_defaults_to_the_x_amz_date_header_then_now():
    given_date = [("X-Amz-Date", "20261121T070000Z")]
    assert sign(given_date, timestamp=None) == {"Authorization": sign()["Authorization"]}
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
    signed = sign(timestamp=None)
    after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert before <= datetime.datetime.strptime(signed["X-Amz-Date"], "%Y%m%dT%H%M%SZ") <= after


def test_host_comes_from_the_url_unless_given():
    auth = sign()["Authorization"]
    assert sign([("host", "runtime.sagemaker.us-west-2.amazonaws.com")])["Authorization"] == auth
    assert sign([("Host", "other.example.com")])["Authorization"] != auth
    assert sigv4.sign("POST", URL.replace(".com/", ".com:443/"), [], b"{}", **KW, timestamp=WHEN) == sign()


def test_sign_details_matches_sign():
    details = sigv4.sign_details("POST", URL, [], b"{}", **KW, timestamp=WHEN, session_token="tok")
    assert details.headers == sign(session_token="tok")
    assert details.canonical_request.startswith("POST\n/endpoints/ep/invocations\n\n")
    assert details.string_to_sign.split("\n")[:3] == [
        "AWS4-HMAC-SHA256", "20261121T070000Z", "20261121/us-west-2/sagemaker/aws4_request"]
    assert "authorization=" in repr(details) and "secret" not in repr(details)


def test_concurrent_signing_from_threads_is_consistent():
    bodies = [bytes([i]) * (i * 5000) for i in range(24)]  # some above the GIL-release size
    expected = [botocore_authorization([], b) for b in bodies]
    results = [None] * len(bodies)

    def work(i):
        for _ in range(5):
            results[i] = sign(body=bodies[i])["Authorization"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


# --- bad input -----------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    [("X-Evil", "a\r\nInjected: yes")],
    [("X-Evil", "a\nb")],
    [("X-Evil", "a\rb")],
    [("X-Evil", "nul\x00")],
    [("X-Evil", "del\x7f")],
    [("Bad Name", "v")],
    [("Bad:Name", "v")],
    [("X-Evil\r\nInjected", "v")],
    [("", "v")],
    [("Authorization", "AWS4-HMAC-SHA256 Credential=x")],
    [("X-Amz-Date", "20261121T070001Z")],  # disagrees with the timestamp
    [("X-Amz-Date", "yesterday")],
    [("Host", "a"), ("host", "b")],
])
def test_bad_header_values_are_refused(headers):
    with pytest.raises(sigv4.SigningError):
        sign(headers)


def test_error_does_not_echo_header_values():
    with pytest.raises(ValueError) as err:
        sign([("X-Api-Key", "hunter2-secret\n")])
    assert "hunter2" not in str(err.value) and "X-Api-Key" in str(err.value)


@pytest.mark.parametrize("headers", [
    [(1, "v")], [("X-A", 1)], [(b"X-A", "v")], [("X-A", b"v")], [("X-A", None)],
    [("X-A",)], [("X-A", "v", "w")], ["X-A: v"], "X-A: v", b"X-A", 42, {"X-A": 1},
])
def test_wrong_header_types_are_type_errors(headers):
    with pytest.raises(TypeError):
        sigv4.sign("POST", URL, headers, b"", **KW, timestamp=WHEN)


@pytest.mark.parametrize("body", [1, 1.5, ["a"], {"a": 1}, object()])
def test_wrong_body_types_are_type_errors(body):
    with pytest.raises(TypeError):
        sign(body=body)


def test_surrogates_cannot_be_encoded():
    with pytest.raises(UnicodeEncodeError):
        sign([("X-A", "\ud800")])


@pytest.mark.parametrize("url", [
    "", "runtime.sagemaker.us-west-2.amazonaws.com/endpoints", "/endpoints/ep", "https:///path",
    "https://host:99999/", "https://host:port/", "https://host/a\r\nInjected: 1", "https://[::1/",
])
def test_bad_urls_are_refused(url):
    with pytest.raises(sigv4.SigningError):
        sigv4.sign("POST", url, [], b"", **KW, timestamp=WHEN)


@pytest.mark.parametrize("overrides", [
    dict(region=""), dict(region="us west 2"), dict(region="us/west"),
    dict(service=""), dict(service="sage maker"),
    dict(access_key=""), dict(access_key="AK/ID"), dict(access_key="AK,ID"),
    dict(session_token="tok\r\nX-Injected: 1"),
    dict(timestamp=253402300800),  # 10000-01-01: no four-digit year
    dict(timestamp=-62135596801), dict(timestamp=2**70), dict(timestamp=float("nan")),
    dict(timestamp=float("inf")),
])
def test_bad_values_are_value_errors(overrides):
    with pytest.raises(ValueError):
        sign(**overrides)


@pytest.mark.parametrize("overrides", [
    dict(region=None), dict(service=1), dict(access_key=b"AK"), dict(secret_key=None),
    dict(session_token=5), dict(timestamp=True), dict(timestamp="20261121T070000Z"),
    dict(timestamp=datetime.date(2026, 11, 21)),
])
def test_wrong_argument_types_are_type_errors(overrides):
    with pytest.raises(TypeError):
        sign(**overrides)


def test_method_is_checked():
    with pytest.raises(sigv4.SigningError):
        sigv4.sign("PO ST", URL, [], b"", **KW, timestamp=WHEN)
    with pytest.raises(TypeError):
        sigv4.sign(None, URL, [], b"", **KW, timestamp=WHEN)


def test_signing_options_are_keyword_only():
    with pytest.raises(TypeError):
        sigv4.sign("POST", URL, [], b"", "us-west-2", "sagemaker", "AK", "SK")  # type: ignore[misc]


def test_verify_reports_what_is_wrong():
    signed = sign()
    headers = list(signed.items())
    assert sigv4.verify("POST", URL, headers, b"{}", secret_key="secret") == "AKIDEXAMPLE"
    with pytest.raises(sigv4.SigningError, match="no Authorization"):
        sigv4.verify("POST", URL, headers[:1], b"{}", secret_key="secret")
    with pytest.raises(sigv4.SigningError, match="X-Amz-Date"):
        sigv4.verify("POST", URL, headers[1:], b"{}", secret_key="secret")
    with pytest.raises(sigv4.SigningError, match="malformed Authorization"):
        sigv4.verify("POST", URL, [headers[0], ("Authorization", "Basic dXNlcjpwYXNz")], b"{}", secret_key="secret")
    with pytest.raises(sigv4.SigningError, match="does not match"):
        sigv4.verify("PUT", URL, headers, b"{}", secret_key="secret")

"""Differential tests: sagerun's signer against botocore's SigV4Auth (an
independent implementation) on the same requests at the same instant, and
against requests botocore's own sagemaker-runtime client builds and signs.
sagerun's verify() must accept what botocore signed."""

from __future__ import annotations

import calendar
import datetime
from typing import Optional
from unittest import mock

import botocore.session
import pytest
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagerun import sigv4


class RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, keeping the canonical request and string to sign."""

    def string_to_sign(self, request, canonical_request):
        self.canonical = canonical_request
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts


def botocore_sign(method, base, path, params, headers, body, *, region, service,
                  access_key, secret_key, token, when):
    """Signs with botocore at `when`; the query goes in as decoded pairs (the
    way botocore's serializers hand it over)."""
    request = AWSRequest(method=method, url=base + path, data=body, params=params)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders: setting again appends
    auth = RecordingSigV4Auth(Credentials(access_key, secret_key, token), service, region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        auth.add_auth(request)
    return auth, request


# --- strategies -------------------------------------------------------------

UNRESERVED = "ABCXYZabcxyz0189-._~"
ODD = " !$'()*+,;:@%é€ሴ😀\"<>[]\\^`{|}"
TCHAR = "!#$%&'*+-.^_`|~"

segment = st.one_of(
    st.sampled_from(["", ".", "..", "...", "a.b", "%2F", "%20"]),
    st.text(alphabet=UNRESERVED + ODD + "=&", min_size=1, max_size=8),
)
path = st.lists(segment, max_size=6).map(lambda segs: "/" + "/".join(segs))

query_text = st.text(alphabet=UNRESERVED + ODD + "&=#/?", max_size=8)


@st.composite
def query(draw):
    """Decoded (key, value) pairs and one of many ways to write them in a URL."""
    pairs = draw(st.lists(st.tuples(query_text, query_text), max_size=6))
    parts = []
    for key, value in pairs:
        enc_key = "".join(draw_char(draw, c, raw_ok="&=#%" ) for c in key)
        enc_value = "".join(draw_char(draw, c, raw_ok="&#%") for c in value)
        if value == "" and key != "" and draw(st.booleans()):
            parts.append(enc_key)  # `k` and `k=` both mean ("k", "")
        else:
            parts.append(f"{enc_key}={enc_value}")
    return pairs, "&".join(parts)


def draw_char(draw, c: str, raw_ok: str) -> str:
    """A character written raw or percent-encoded (hex in either case);
    characters in `raw_ok` are the ones that must be encoded."""
    if c not in raw_ok and draw(st.booleans()):
        return c
    encoded = "".join(f"%{b:02X}" for b in c.encode())
    return encoded.lower() if draw(st.booleans()) else encoded


header_name = st.one_of(
    st.sampled_from([
        "Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes", "x-amz-meta-a",
        "X-Custom", "x-custom", "X-CUSTOM",
        # botocore leaves these unsigned:
        "User-Agent", "Expect", "X-Amzn-Trace-Id", "Connection", "Transfer-Encoding", "TE",
    ]),
    st.text(alphabet="abcXYZ019" + TCHAR, min_size=1, max_size=12).filter(
        lambda n: n.lower() not in {"host", "authorization", "date", "x-amz-date",
                                    "x-amz-security-token", "x-amz-content-sha256"}
    ),
)
# Visible ASCII, spaces, tabs and non-ASCII text; no CR/LF/controls (refused).
header_value = st.text(alphabet=st.sampled_from(
    [chr(c) for c in range(0x20, 0x7F)] + ["\t", " ", "é", "ሴ", "😀"]), max_size=20)
headers = st.lists(st.tuples(header_name, header_value), max_size=8)
host_header = st.one_of(st.none(), st.sampled_from(
    ["example.amazonaws.com", "  Example.AmazonAWS.com ", "localhost:8080"]))

method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PURGE"])
region = st.from_regex(r"\A[a-z]{2}-[a-z]{4,9}-[1-9]\Z")
service = st.from_regex(r"\A[a-z][a-z0-9-]{0,19}\Z")
access_key = st.from_regex(r"\A[A-Z0-9]{16,20}\Z")
secret_key = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
token = st.one_of(st.none(), st.text(alphabet=UNRESERVED + "+/=", min_size=1, max_size=60))
when = st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2200, 1, 1)).map(
    lambda d: d.replace(microsecond=0))
body = st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode), st.just(b""))
base_url = st.sampled_from([
    "https://runtime.sagemaker.us-west-2.amazonaws.com",
    "https://EXAMPLE.amazonaws.com:443",
    "http://127.0.0.1:8080",
    "http://user:pw@[::1]:9000",
])


def as_timestamp(draw, dt: datetime.datetime):
    """The same instant as a naive datetime, an aware one, int or float seconds."""
    secs = calendar.timegm(dt.utctimetuple())
    kind = draw(st.sampled_from(["naive", "aware", "int", "float"]))
    if kind == "naive":
        return dt
    if kind == "aware":
        tz = datetime.timezone(datetime.timedelta(hours=draw(st.integers(-12, 14))))
        return dt.replace(tzinfo=datetime.timezone.utc).astimezone(tz)
    if kind == "int":
        return secs
    return secs + draw(st.floats(0, 0.999))


def as_body(draw, data: bytes):
    """The same bytes as bytes, bytearray, memoryview, or str when it is UTF-8."""
    kinds = ["bytes", "bytearray", "memoryview"]
    try:
        data.decode("utf-8")
        kinds.append("str")
    except UnicodeDecodeError:
        pass
    kind = draw(st.sampled_from(kinds))
    return {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data),
            "str": data.decode("utf-8") if kind == "str" else None}[kind]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), method, base_url, path, query(), headers, host_header, body, region, service,
       access_key, secret_key, token, when)
def test_same_signature_as_botocore(data, method, base, path, query, hdrs, host, body, region,
                                    service, access_key, secret_key, token, when):
    pairs, query_string = query
    if host is not None:
        hdrs = [*hdrs, ("Host", host)]
    auth, request = botocore_sign(
        method, base, path, pairs, hdrs, body, region=region, service=service,
        access_key=access_key, secret_key=secret_key, token=token, when=when)

    url = base + path + ("?" + query_string if pairs else "")
    details = sigv4.sign_details(
        method, url, hdrs, as_body(data.draw, body), region=region, service=service,
        access_key=access_key, secret_key=secret_key, session_token=token,
        timestamp=as_timestamp(data.draw, when))
    assert details.canonical_request == auth.canonical
    assert details.string_to_sign == auth.sts
    assert details.headers["Authorization"] == request.headers["Authorization"]
    assert details.headers["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert details.headers.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert list(details.headers) == [n for n in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
                                     if n in details.headers]

    # What botocore signed, sagerun's verifier accepts (Host comes from the URL
    # when the request has none, as the HTTP layer would send it).
    received = list(request.headers.items())
    assert sigv4.verify(method, url, received, body, secret_key=secret_key) == access_key
    with pytest.raises(sigv4.SigningError):
        sigv4.verify(method, url, received, body + b"x", secret_key=secret_key)


def test_unsigned_header_list_matches_botocore():
    # sagerun skips exactly the headers botocore skips; signed with each of
    # them present, only host and x-amz-date are signed.
    hdrs = [(name.title(), "v") for name in SIGNED_HEADERS_BLACKLIST]
    signed = sigv4.sign("GET", "https://h/", hdrs, b"", region="us-east-1", service="s",
                        access_key="AK", secret_key="SK", timestamp=0)
    assert "SignedHeaders=host;x-amz-date," in signed["Authorization"]


def test_large_body_signed_outside_the_gil_matches_botocore():
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4: above the GIL-release threshold
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    auth, request = botocore_sign("POST", "https://h", "/endpoints/e/invocations", [], [], data,
                                  region="us-west-2", service="sagemaker", access_key="AKIA",
                                  secret_key="s", token=None, when=when)
    for body in (data, bytearray(data), memoryview(data)):
        signed = sigv4.sign("POST", "https://h/endpoints/e/invocations", {}, body, region="us-west-2",
                            service="sagemaker", access_key="AKIA", secret_key="s", timestamp=when)
        assert signed["Authorization"] == request.headers["Authorization"]


def test_x_amz_content_sha256_header_stands_for_the_payload_like_botocore():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    hdrs = [("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")]
    auth, request = botocore_sign("PUT", "https://h", "/k", [], hdrs, b"data", region="us-east-1",
                                  service="s3", access_key="AK", secret_key="SK", token=None, when=when)
    signed = sigv4.sign("PUT", "https://h/k", hdrs, b"data", region="us-east-1", service="s3",
                        access_key="AK", secret_key="SK", timestamp=when)
    assert signed["Authorization"] == request.headers["Authorization"]


# --- botocore's own sagemaker-runtime client -----------------------------------

class Captured(Exception):
    pass


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def captured_request(operation: str, params: dict, *, token: Optional[str], when: datetime.datetime):
    """The request botocore's real client pipeline builds, as it was just
    before signing and as it would be sent (signed, plus the headers botocore
    adds after signing), caught before anything is sent."""
    session = botocore.session.get_session()
    client = session.create_client(
        "sagemaker-runtime", region_name="us-west-2", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", aws_session_token=token)
    seen = {}

    def before_sign(request, **_):
        seen["unsigned_headers"] = [(n, text(v)) for n, v in request.headers.items()]

    def before_send(request, **_):
        seen["sent"] = request
        raise Captured

    client.meta.events.register("before-sign", before_sign)
    client.meta.events.register("before-send", before_send)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when), pytest.raises(Captured):
        getattr(client, operation)(**params)
    return seen["unsigned_headers"], seen["sent"]


SAGEMAKER_CALLS = [
    ("invoke_endpoint", dict(
        EndpointName="my-endpoint", Body=b'{"inputs": "Hello, world"}', ContentType="application/json",
        Accept="application/json", CustomAttributes="c000b4f9-df62-4c85-a0bf-7c525f9104a4",
        TargetVariant="variant-1", TargetModel="models/model 1.tar.gz", InferenceId="req-1")),
    ("invoke_endpoint_with_response_stream", dict(
        EndpointName="llm", Body='{"inputs": "Tell me a story ☕", "stream": true}',
        ContentType="application/json", Accept="text/event-stream",
        InferenceComponentName="ic-1")),
    ("invoke_endpoint_async", dict(
        EndpointName="async-ep", InputLocation="s3://bucket/input/data.json",
        ContentType="application/json", RequestTTLSeconds=600, InvocationTimeoutSeconds=300)),
]


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEBY//////////wEaDExample+token=="])
@pytest.mark.parametrize("operation,params", SAGEMAKER_CALLS, ids=[c[0] for c in SAGEMAKER_CALLS])
def test_same_signature_as_botocore_sagemaker_client(operation, params, token):
    when = datetime.datetime(2026, 11, 21, 8, 30, 15)
    to_sign, request = captured_request(operation, params, token=token, when=when)
    sent = [(n, text(v)) for n, v in request.headers.items()]
    body = request.body or b""
    creds = dict(access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    headers = sigv4.sign(request.method, request.url, to_sign, body, region="us-west-2",
                         service="sagemaker", session_token=token, timestamp=when, **creds)
    assert headers["Authorization"] == text(request.headers["Authorization"])
    assert headers["X-Amz-Date"] == text(request.headers["X-Amz-Date"])
    assert "Credential=AKIAIOSFODNN7EXAMPLE/20261121/us-west-2/sagemaker/aws4_request" in headers["Authorization"]
    # The request as sent (with headers botocore adds after signing, such as
    # amz-sdk-invocation-id and Content-Length) passes sagerun's verifier.
    assert sigv4.verify(request.method, request.url, sent, body, secret_key=creds["secret_key"]) == creds["access_key"]
    with pytest.raises(sigv4.SigningError):
        sigv4.verify(request.method, request.url, sent, body + b"!", secret_key=creds["secret_key"])
    with pytest.raises(sigv4.SigningError):
        sigv4.verify(request.method, request.url.replace("/endpoints/", "/endpoints/x"), sent, body,
                     secret_key=creds["secret_key"])

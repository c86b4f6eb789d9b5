"""Security: CR/LF in any header member is refused before sending (by the
Python validator, and by the Rust layer if it were bypassed); an
EndpointName cannot leave its path segment (paths compared with what
botocore sends to the same raw-socket server); credentials never appear in
logs (DEBUG on the sagerun and botocore loggers through every operation,
errors included), reprs or exception messages; TLS verification is on by
default (a self-signed HTTPS local runtime is refused)."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import pickle
from urllib.parse import unquote

import boto3
import botocore.exceptions as bex
import botocore.session
import pytest
from botocore.config import Config

import sagerun
from sagerun import _native, _protocol
from hostile_server import HostileServer

MODEL = botocore.session.get_session().get_service_model("sagemaker-runtime")
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1}, read_timeout=10, connect_timeout=5)
SECRET, TOKEN = "sEcReT-kEy-0123456789abcdef", "sEsSiOn-ToKeN-9876543210"
KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDSECURITYTEST",
        "aws_secret_access_key": SECRET, "aws_session_token": TOKEN}
REQUIRED = {
    "InvokeEndpoint": {"EndpointName": "ep", "Body": b"{}"},
    "InvokeEndpointWithResponseStream": {"EndpointName": "ep", "Body": b"{}"},
    "InvokeEndpointAsync": {"EndpointName": "ep", "InputLocation": "s3://bucket/key"},
}
METHODS = {"InvokeEndpoint": "invoke_endpoint", "InvokeEndpointAsync": "invoke_endpoint_async",
           "InvokeEndpointWithResponseStream": "invoke_endpoint_with_response_stream"}


def string_header_members(operation: str):
    """The members botocore's model binds to request headers, typed string."""
    shape = MODEL.operation_model(operation).input_shape
    return sorted(name for name, member in shape.members.items()
                  if member.serialization.get("location") == "header" and member.type_name == "string")


# -- CR/LF in header members ---------------------------------------------------


def test_our_protocol_table_binds_the_same_header_members_as_botocores_model():
    for operation in METHODS:
        ours = {b.member for b in _protocol.OPERATIONS[operation].request_headers}
        shape = MODEL.operation_model(operation).input_shape
        theirs = {n for n, m in shape.members.items() if m.serialization.get("location") == "header"}
        assert ours == theirs, operation


@pytest.mark.parametrize("operation", sorted(METHODS))
@pytest.mark.parametrize("bad", ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb", "\r\n", "a\x00b"],
                         ids=["crlf", "lf", "cr", "crlf-only", "nul"])
def test_control_characters_in_every_header_member_are_refused_before_sending(operation, bad):
    with HostileServer(["ok"]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, **KEYS, config=ONE_ATTEMPT)
        for member in string_header_members(operation):
            with pytest.raises(bex.ParamValidationError) as e:
                getattr(client, METHODS[operation])(**{**REQUIRED[operation], member: bad})
            assert member in str(e.value)
        assert srv.requests == []


def test_the_rust_layer_refuses_control_characters_too():
    """Defence in depth: the native client, called without the Python
    validator, refuses a CR/LF value in each header member itself."""
    with HostileServer(["ok"]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, **KEYS)
        native = client._invoke_endpoint_op.native
        for member in string_header_members("InvokeEndpoint"):
            with pytest.raises(_native.TransportError) as e:
                native.invoke("InvokeEndpoint", ("ep", [(member, "a\r\nX-Evil: 1")], b"{}",
                                                 "AKID", SECRET, None))
            assert e.value.args[0] == "invalid_request"
        assert srv.requests == []


# -- EndpointName stays in its path segment -----------------------------------

HOSTILE_NAMES = ["../admin", "a/../../b", "a/b", "/", "a%2Fb", "%2F", "%2e%2e", "%2E%2E%2Fadmin",
                 ".%2e", "a?x=1", "a#frag", "a b", "a\\b", "a;b", "a\r\nHost: evil", "ép", "a..", "..a"]


def segment_name(path: str, suffix: str) -> str:
    """The EndpointName a server decodes from /endpoints/<segment>/<suffix>."""
    parts = path.split("/")
    assert len(parts) == 4 and parts[:2] == ["", "endpoints"] and parts[3] == suffix, path
    return unquote(parts[2])


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_endpoint_name_cannot_leave_its_path_segment(name):
    with HostileServer(["ok"]) as srv:
        kw = {"endpoint_url": srv.url, **KEYS}
        boto = boto3.client("sagemaker-runtime", config=ONE_ATTEMPT, **kw)
        boto.invoke_endpoint(EndpointName=name, Body=b"{}")
        botocore_path = srv.requests[-1].path
        assert segment_name(botocore_path, "invocations") == name

        client = sagerun.Client(config=ONE_ATTEMPT, **kw)
        # The Rust layer alone (no Python validation): botocore's very path.
        native = client._invoke_endpoint_op.native
        native.invoke("InvokeEndpoint", (name, [], b"{}", "AKIDSECURITYTEST", SECRET, None))
        assert srv.requests[-1].path == botocore_path
        # The public client: botocore's path, or refused before sending.
        sent = len(srv.requests)
        try:
            client.invoke_endpoint(EndpointName=name, Body=b"{}")
        except bex.ParamValidationError:
            assert len(srv.requests) == sent
        else:
            assert srv.requests[-1].path == botocore_path
        try:  # the stream operation builds its path the same way
            client.invoke_endpoint_with_response_stream(EndpointName=name, Body=b"{}")["Body"].close()
        except bex.ParamValidationError:
            return
        assert segment_name(srv.requests[-1].path, "invocations-response-stream") == name


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_segments_are_refused_even_below_the_validator(name):
    """botocore sends /endpoints/../invocations as it is (a normalising proxy
    would resolve it to /invocations); sagerun refuses such names at both layers."""
    with HostileServer(["ok"]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, **KEYS)
        with pytest.raises(bex.ParamValidationError):
            client.invoke_endpoint(EndpointName=name, Body=b"{}")
        with pytest.raises(_native.TransportError) as e:
            client._invoke_endpoint_op.native.invoke("InvokeEndpoint", (name, [], b"{}", "AK", SECRET, None))
        assert e.value.args[0] == "invalid_request"
        assert srv.requests == []


# -- credentials never shown ----------------------------------------------------

LEAKY = {
    "echo": {"model": "echo"},
    "tok": {"model": "tokens", "text": "abc", "parts": 3},
    "broken": {"model": "error", "code": "ModelError", "original_status": 500},
    "throttled": {"model": "error", "code": "ThrottlingException"},
    "cut": {"model": "tokens", "text": "abcdef", "parts": 3, "faults": {"stream_error_after": 1}},
    "corrupt": {"model": "tokens", "text": "abcdef", "parts": 3, "faults": {"corrupt_crc_at": 1}},
}


def every_operation(client, url_refused):
    """Each operation, successes and failures; returns what the caller sees
    (responses, stream events, exceptions) for the repr checks."""
    seen = []

    def attempt(fn):
        try:
            seen.append(fn())
        except Exception as e:  # noqa: BLE001 - failures are the point
            seen.append(e)

    attempt(lambda: client.invoke_endpoint(EndpointName="echo", Body=b"{}", CustomAttributes="c"))
    attempt(lambda: client.invoke_endpoint_async(EndpointName="echo", InputLocation="s3://b/k"))
    for name in ("tok", "cut", "corrupt"):
        def stream(name=name):
            r = client.invoke_endpoint_with_response_stream(EndpointName=name, Body=b"{}")
            seen.append(r)
            seen.append(r["Body"])
            return list(r["Body"])
        attempt(stream)
    attempt(lambda: client.invoke_endpoint(EndpointName="broken", Body=b"{}"))
    attempt(lambda: client.invoke_endpoint(EndpointName="throttled", Body=b"{}"))
    attempt(lambda: client.invoke_endpoint(EndpointName="missing", Body=b"{}"))
    attempt(lambda: client.invoke_endpoint(EndpointName="-bad-", Body=b"{}"))
    attempt(lambda: client.invoke_endpoint(EndpointName="echo", Body=b"{}", Accept="a\r\nb"))
    attempt(lambda: url_refused.invoke_endpoint(EndpointName="echo", Body=b"{}"))
    return seen


def assert_no_secret(text: str, where: str) -> None:
    for secret in (SECRET, TOKEN):
        assert secret not in text, f"a credential in {where}"


def test_credentials_never_appear_in_logs_reprs_or_messages(local_runtime, caplog):
    rt = local_runtime(LEAKY, credentials=[("AKIDSECURITYTEST", SECRET)])
    with caplog.at_level(logging.DEBUG, logger="sagerun"), caplog.at_level(logging.DEBUG, logger="botocore"):
        client = sagerun.Client(endpoint_url=rt.url, **KEYS, config=ONE_ATTEMPT)
        refused = sagerun.Client(endpoint_url="http://127.0.0.1:9", **KEYS, config=ONE_ATTEMPT)
        seen = every_operation(client, refused)
    kinds = {type(x).__name__ for x in seen}
    assert {"ModelError", "ClientError", "ValidationError", "ParamValidationError",
            "EndpointConnectionError", "EventStreamError", "EventStreamChecksumError"} <= kinds, kinds
    assert caplog.records, "DEBUG logging produced nothing"
    assert_no_secret(caplog.text, "the DEBUG log")
    assert_no_secret(repr(client) + repr(refused), "the client's repr")
    for x in seen:
        assert_no_secret(repr(x), f"repr of {type(x).__name__}")
        if isinstance(x, BaseException):
            assert_no_secret(str(x), f"message of {type(x).__name__}")
            assert_no_secret(repr(getattr(x, "response", "")), f"{type(x).__name__}.response")


def test_a_chain_client_pickle_holds_no_credentials(local_runtime, monkeypatch):
    rt = local_runtime({"echo": {"model": "echo"}}, credentials=[("AKIDSECURITYTEST", SECRET)])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSECURITYTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    client = sagerun.Client(endpoint_url=rt.url, region_name="us-east-1")
    assert client.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"
    assert_no_secret(repr(pickle.dumps(client)), "the pickle")


# -- TLS verification on by default --------------------------------------------


@pytest.fixture
def self_signed(tmp_path):
    """A self-signed certificate for localhost/127.0.0.1 (no CA vouches for it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "self.pem", tmp_path / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_is_verified_by_default(local_runtime, self_signed, monkeypatch):
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
                 "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    cert, key = self_signed
    rt = local_runtime(LEAKY, tls_cert=cert, tls_key=key)
    kw = rt.client_kwargs()
    client = sagerun.Client(**kw, config=ONE_ATTEMPT)
    boto = boto3.client("sagemaker-runtime", **kw, config=ONE_ATTEMPT)
    for caller in (client, boto):  # boto3 refuses it the same way
        with pytest.raises(bex.SSLError):
            caller.invoke_endpoint(EndpointName="echo", Body=b"{}")
    with pytest.raises(bex.SSLError):
        client.invoke_endpoint_with_response_stream(EndpointName="tok", Body=b"{}")
    # Trusting that very certificate, or turning verification off, works.
    trusting = sagerun.Client(**kw, verify=str(cert))
    assert trusting.invoke_endpoint(EndpointName="echo", Body=b"ok")["Body"].read() == b"ok"
    assert sagerun.Client(**kw, verify=False).invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"

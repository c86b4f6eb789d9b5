"""SigV4 verification by the local runtime, with botocore as the signer:
correct signatures pass; wrong secrets, tampered bodies or headers, stale
dates, bad scopes and unsigned requests are refused with AWS's codes."""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def rt(local_runtime):
    return local_runtime({"echo": {"model": "echo"}}, credentials=[("AKIDONE", "secret-one"), ("AKIDTWO", "secret-two")])


def error_of(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_every_accepted_pair_signs_successfully(rt, boto_client):
    for ak, sk in rt.credentials:
        c = boto_client(rt, aws_access_key_id=ak, aws_secret_access_key=sk)
        assert c.invoke_endpoint(EndpointName="echo", Body=b"ok")["Body"].read() == b"ok"
        assert c.invoke_endpoint_with_response_stream(EndpointName="echo", Body=b"s")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_default_credentials_are_the_documented_pair(local_runtime, boto_client):
    from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_CREDENTIALS, DEFAULT_SECRET_KEY

    rt = local_runtime({"echo": {"model": "echo"}})
    assert rt.credentials == [DEFAULT_CREDENTIALS] == [(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)]
    kwargs = rt.client_kwargs()
    assert kwargs["aws_access_key_id"] == DEFAULT_ACCESS_KEY
    assert kwargs["aws_secret_access_key"] == DEFAULT_SECRET_KEY
    assert boto_client(rt).invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"


def test_wrong_secret_is_an_invalid_signature(rt, boto_client):
    c = boto_client(rt, aws_access_key_id="AKIDONE", aws_secret_access_key="secret-two")
    err = error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "signature we calculated does not match" in err["Error"]["Message"]


def test_unknown_access_key_is_unrecognized(rt, boto_client):
    c = boto_client(rt, aws_access_key_id="AKIDNOBODY", aws_secret_access_key="x")
    err = error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))
    assert err["Error"]["Code"] == "UnrecognizedClientException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_region_in_the_scope_is_refused(rt, boto_client):
    c = boto_client(rt, region_name="eu-west-1")
    err = error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert "region" in err["Error"]["Message"]


def test_wrong_service_in_the_scope_is_refused(rt, raw_http):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=f"{rt.url}/endpoints/echo/invocations", data=b"x")
    SigV4Auth(Credentials("AKIDONE", "secret-one"), "s3", "us-east-1").add_auth(req)
    status, headers, body = raw_http(rt.url, "POST", "/endpoints/echo/invocations", b"x", dict(req.headers.items()))
    assert status == 403
    assert headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert b"sagemaker" in body


def test_stale_date_is_refused(rt, boto_client, monkeypatch):
    import botocore.auth

    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: stale)
    c = boto_client(rt, aws_access_key_id="AKIDONE", aws_secret_access_key="secret-one")
    err = error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert "expired" in err["Error"]["Message"]


def test_date_in_the_future_is_refused(rt, boto_client, monkeypatch):
    import botocore.auth

    future = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: future)
    c = boto_client(rt, aws_access_key_id="AKIDONE", aws_secret_access_key="secret-one")
    assert error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))["Error"]["Code"] == "InvalidSignatureException"


def test_small_skew_is_accepted(rt, boto_client, monkeypatch):
    import botocore.auth

    skewed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed)
    c = boto_client(rt, aws_access_key_id="AKIDONE", aws_secret_access_key="secret-one")
    assert c.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"


def test_unsigned_request_is_a_missing_token(rt, boto_client):
    from botocore import UNSIGNED
    from botocore.config import Config

    c = boto_client(rt, config=Config(signature_version=UNSIGNED))
    err = error_of(lambda: c.invoke_endpoint(EndpointName="echo", Body=b"x"))
    assert err["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.fixture
def signed(rt, boto_client):
    """Headers and body of a request boto3 signed, captured on the way out."""
    captured = {}

    def capture(request, **_):
        captured["headers"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        captured["body"] = request.body

    c = boto_client(rt, aws_access_key_id="AKIDONE", aws_secret_access_key="secret-one")
    c.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", capture)
    c.invoke_endpoint(EndpointName="echo", Body=b"original body", CustomAttributes="signed=yes")
    return captured


def test_replayed_signed_request_is_accepted(rt, raw_http, signed):
    status, _, body = raw_http(rt.url, "POST", "/endpoints/echo/invocations", signed["body"], signed["headers"])
    assert (status, body) == (200, b"original body")


def test_tampered_body_is_refused(rt, raw_http, signed):
    headers = dict(signed["headers"])
    headers.pop("Content-Length", None)
    status, h, _ = raw_http(rt.url, "POST", "/endpoints/echo/invocations", b"tampered body", headers)
    assert status == 403
    assert h["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_tampered_signed_header_is_refused(rt, raw_http, signed):
    headers = dict(signed["headers"])
    assert "X-Amzn-SageMaker-Custom-Attributes" in headers["Authorization"] or "x-amzn-sagemaker-custom-attributes" in headers["Authorization"]
    headers["X-Amzn-SageMaker-Custom-Attributes"] = "signed=no"
    status, h, _ = raw_http(rt.url, "POST", "/endpoints/echo/invocations", signed["body"], headers)
    assert status == 403
    assert h["x-amzn-errortype"].startswith("InvalidSignatureException")


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
        "AWS4-HMAC-SHA256 Credential=AKIDONE/20260101/us-east-1/sagemaker/aws4_request",
        "Basic dXNlcjpwYXNz",
        "",
    ],
)
def test_malformed_authorization_is_an_incomplete_signature(rt, raw_http, signed, authorization):
    headers = dict(signed["headers"])
    headers["Authorization"] = authorization
    status, h, _ = raw_http(rt.url, "POST", "/endpoints/echo/invocations", signed["body"], headers)
    assert status == 403
    assert h["x-amzn-errortype"].split(":")[0] == "IncompleteSignature"


def test_missing_amz_date_is_an_incomplete_signature(rt, raw_http, signed):
    headers = {k: v for k, v in signed["headers"].items() if k.lower() != "x-amz-date"}
    status, h, _ = raw_http(rt.url, "POST", "/endpoints/echo/invocations", signed["body"], headers)
    assert status == 403 and h["x-amzn-errortype"].split(":")[0] == "IncompleteSignature"


def test_verification_can_be_switched_off(local_runtime, boto_client):
    from botocore import UNSIGNED
    from botocore.config import Config

    rt = local_runtime({"echo": {"model": "echo"}}, verify_signatures=False)
    c = boto_client(rt, config=Config(signature_version=UNSIGNED))
    assert c.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read() == b"x"
    wrong = boto_client(rt, aws_access_key_id="whoever", aws_secret_access_key="whatever")
    assert wrong.invoke_endpoint(EndpointName="echo", Body=b"y")["Body"].read() == b"y"

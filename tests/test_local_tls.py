"""HTTPS: the local runtime serves TLS from PEM files; clients verify it
against a CA made by trustme."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

trustme = pytest.importorskip("trustme")


@pytest.fixture
def tls_files(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    return cert_path, key_path, ca_path


def test_boto3_over_https_with_a_custom_ca(local_runtime, boto_client, tls_files):
    cert, key, ca = tls_files
    rt = local_runtime({"echo": {"model": "echo"}, "t": {"model": "tokens", "text": "secure", "parts": 3}},
                       tls_cert=cert, tls_key=key)
    assert rt.url.startswith("https://127.0.0.1:")
    c = boto_client(rt, verify=str(ca))
    assert c.invoke_endpoint(EndpointName="echo", Body=b"over tls")["Body"].read() == b"over tls"
    parts = [e["PayloadPart"]["Bytes"] for e in c.invoke_endpoint_with_response_stream(EndpointName="t", Body=b"x")["Body"]]
    assert b"".join(parts) == b"secure"


def test_stdlib_client_verifies_the_chain(local_runtime, tls_files):
    cert, key, ca = tls_files
    rt = local_runtime({"echo": {"model": "echo"}}, tls_cert=cert, tls_key=key, verify_signatures=False)
    ctx = ssl.create_default_context(cafile=str(ca))
    req = urllib.request.Request(f"{rt.url}/endpoints/echo/invocations", data=b"hello", method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
        assert resp.read() == b"hello"
    # Unknown operation over TLS is still an AWS-style error.
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{rt.url}/nope", context=ctx, timeout=30)
    assert info.value.code == 404
    assert "message" in json.loads(info.value.read())


def test_untrusted_certificate_is_rejected_by_the_client(local_runtime, tls_files):
    cert, key, _ = tls_files
    rt = local_runtime({"echo": {"model": "echo"}}, tls_cert=cert, tls_key=key, verify_signatures=False)
    other_ca = trustme.CA()
    ctx = ssl.create_default_context()
    other_ca.configure_trust(ctx)
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(f"{rt.url}/nope", context=ctx, timeout=30)
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)


def test_bad_tls_files_fail_at_start(local_runtime, tmp_path, tls_files):
    from sagerun.local import LocalRuntime

    cert, key, _ = tls_files
    with pytest.raises(ValueError, match="certificate"):
        LocalRuntime({"e": {"model": "echo"}}, tls_cert=tmp_path / "missing.pem", tls_key=key)
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(ValueError):
        LocalRuntime({"e": {"model": "echo"}}, tls_cert=cert, tls_key=tmp_path / "empty.pem")
    with pytest.raises(ValueError, match="together"):
        LocalRuntime({"e": {"model": "echo"}}, tls_cert=cert)

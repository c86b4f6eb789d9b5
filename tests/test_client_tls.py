"""Client certificates for the endpoint (``Config(client_cert=...)``: mutual
TLS). The local runtime is fronted by a small TLS terminator that requires a
client certificate from a private CA (trustme) and records the certificate
each connection presented; boto3 goes through the same terminator beside
sagerun."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any, List

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config

import sagerun

from test_client_proxy import _pipe
from loopback import ThreadPerConnectionServer, wait_until

trustme = pytest.importorskip("trustme")


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AWS_CA_BUNDLE",
                 "REQUESTS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


class MutualTlsTerminator(ThreadPerConnectionServer):
    """Accepts TLS that presents a certificate of `client_ca`, then pipes the
    plaintext to `upstream` (host, port)."""

    scheme = "https"

    def __init__(self, context: ssl.SSLContext, upstream: "tuple[str, int]"):
        self.context, self.upstream = context, upstream
        self.peers: List[Any] = []
        self.refused = 0
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
            # TLS 1.3 checks the client's certificate after the client's
            # side of the handshake: read once so a refusal shows here.
            first = tls.recv(65536)
        except (ssl.SSLError, OSError):
            self.refused += 1
            conn.close()
            return
        self.peers.append(tls.getpeercert().get("subjectAltName"))
        upstream = socket.create_connection(self.upstream)
        upstream.sendall(first)
        _pipe(tls, upstream)


@pytest.fixture
def pki(tmp_path):
    ca, client_ca = trustme.CA(), trustme.CA()
    files = {}

    def write(name, blob):
        files[name] = str(tmp_path / name)
        blob.write_to_path(files[name])

    write("ca.pem", ca.cert_pem)
    client = client_ca.issue_cert("caller@example.org")
    write("cert.pem", client.cert_chain_pems[0])
    write("key.pem", client.private_key_pem)
    combined = tmp_path / "combined.pem"
    combined.write_bytes(client.cert_chain_pems[0].bytes() + client.private_key_pem.bytes())
    files["combined.pem"] = str(combined)
    stranger = trustme.CA().issue_cert("stranger@example.org")
    write("stranger-cert.pem", stranger.cert_chain_pems[0])
    write("stranger-key.pem", stranger.private_key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED
    client_ca.configure_trust(ctx)
    files["server_context"] = ctx
    return files


@pytest.fixture
def mtls(local_runtime, pki):
    rt = local_runtime({"echo": {"model": "echo"},
                        "llm": {"model": "tokens", "text": "mutual tls tokens", "parts": 3}})
    host, port = rt.url.split("://")[1].rsplit(":", 1)
    terminator = MutualTlsTerminator(pki["server_context"], (host, int(port)))
    yield rt, terminator
    terminator.close()


def both(rt, terminator, pki, client_cert: Any):
    kwargs = dict(rt.client_kwargs(), endpoint_url=terminator.url, verify=pki["ca.pem"],
                  config=Config(retries={"total_max_attempts": 1}, client_cert=client_cert))
    return sagerun.Client(**kwargs), boto3.client("sagemaker-runtime", **kwargs)


@pytest.mark.parametrize("form", ["tuple", "combined"])
def test_a_client_certificate_opens_a_mutual_tls_endpoint(mtls, pki, form):
    rt, terminator = mtls
    cert = (pki["cert.pem"], pki["key.pem"]) if form == "tuple" else pki["combined.pem"]
    ours, theirs = both(rt, terminator, pki, cert)
    a = ours.invoke_endpoint(EndpointName="echo", Body=b"mtls")
    b = theirs.invoke_endpoint(EndpointName="echo", Body=b"mtls")
    assert a["Body"].read() == b["Body"].read() == b"mtls"
    assert terminator.peers == [(("email", "caller@example.org"),)] * 2


def test_a_response_stream_over_mutual_tls(mtls, pki):
    rt, terminator = mtls
    ours, theirs = both(rt, terminator, pki, (pki["cert.pem"], pki["key.pem"]))

    def payloads(client) -> bytes:
        r = client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
        return b"".join(e["PayloadPart"]["Bytes"] for e in r["Body"] if "PayloadPart" in e)

    assert payloads(ours) == payloads(theirs) == b"mutual tls tokens"


@pytest.mark.parametrize("cert", [None, "stranger"])
def test_without_an_accepted_certificate_the_endpoint_refuses(mtls, pki, cert):
    rt, terminator = mtls
    if cert == "stranger":
        cert = (pki["stranger-cert.pem"], pki["stranger-key.pem"])
    ours, theirs = both(rt, terminator, pki, cert)
    refused = (bex.SSLError, bex.ConnectionClosedError, bex.EndpointConnectionError)
    with pytest.raises(refused):
        ours.invoke_endpoint(EndpointName="echo", Body=b"x")
    with pytest.raises(refused):
        theirs.invoke_endpoint(EndpointName="echo", Body=b"x")
    assert wait_until(lambda: terminator.refused == 2), terminator.refused
    assert terminator.peers == []


def test_async_client_with_a_client_certificate(mtls, pki):
    rt, terminator = mtls

    async def run() -> bytes:
        async with sagerun.AsyncClient(
            **dict(rt.client_kwargs(), endpoint_url=terminator.url), verify=pki["ca.pem"],
            config=Config(client_cert=(pki["cert.pem"], pki["key.pem"])),
        ) as client:
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"async mtls")
            return await r["Body"].read()

    assert asyncio.run(run()) == b"async mtls"
    assert len(terminator.peers) == 1


def test_bad_client_certificate_files_fail_before_anything_is_sent(mtls, pki, tmp_path):
    rt, terminator = mtls
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    for cert, match in [(str(tmp_path / "missing.pem"), "client certificate"),
                        (str(empty), "holds no PEM certificate"),
                        (pki["cert.pem"], "holds no PEM private key"),
                        ((pki["cert.pem"], pki["stranger-key.pem"]), "client certificate")]:
        with pytest.raises(ValueError, match=match):
            sagerun.Client(**dict(rt.client_kwargs(), endpoint_url=terminator.url),
                           config=Config(client_cert=cert))
    assert terminator.peers == [] and terminator.refused == 0


def test_client_cert_must_be_a_path_or_a_pair():
    with pytest.raises((ValueError, TypeError)):
        sagerun.Client(endpoint_url="https://127.0.0.1:9", region_name="us-east-1",
                       aws_access_key_id="a", aws_secret_access_key="b",
                       config=Config(client_cert=("only-one",)))

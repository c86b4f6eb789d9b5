"""Proxies beyond plain http://: an https:// proxy (TLS to the proxy, then a
CONNECT tunnel for https:// targets or absolute-form requests for http://
ones), botocore's ``proxies_config`` (``proxy_ca_bundle``,
``proxy_client_cert``, ``proxy_use_forwarding_for_https``). Every proxy is a
real one on loopback (TLS made with trustme certificates), and boto3 goes
through the same proxy beside sagerun wherever it can."""

from __future__ import annotations

import asyncio
import base64
import select
import socket
import ssl
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config

import sagerun
from loopback import ThreadPerConnectionServer, read_request_head, wait_until

trustme = pytest.importorskip("trustme")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
                 "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copies bytes both ways until one side closes (TLS sockets included:
    bytes already decrypted and buffered count as ready)."""
    socks = [a, b]
    try:
        while True:
            ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(socks, [], [], 10)
                if not ready:
                    return
            for s in ready:
                try:
                    data = s.recv(65536)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return
    finally:
        a.close()
        b.close()


class TlsProxy(ThreadPerConnectionServer):
    """An HTTP proxy reached over TLS (``https://``), or plain when
    `server_context` is None. CONNECT opens a tunnel; an absolute-form
    request is forwarded (over TLS to the target for ``https://`` URLs,
    trusting `upstream_ca`) with ``Connection: close``. Records each request
    as (method, target, Proxy-Authorization, client certificate subject)."""

    def __init__(self, server_context: Optional[ssl.SSLContext], upstream_ca: Optional[str] = None):
        self.seen: List[Tuple[str, str, Optional[str], Any]] = []
        self.failed_handshakes = 0
        self.server_context = server_context
        self.upstream_ca = upstream_ca
        self.scheme = "https" if server_context else "http"
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        subject = None
        if self.server_context is not None:
            try:
                conn = self.server_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.failed_handshakes += 1
                conn.close()
                return
            peer = conn.getpeercert()
            subject = peer.get("subjectAltName") if peer else None
        try:
            request = read_request_head(conn)
        except (ssl.SSLError, OSError):
            # TLS 1.3: a missing client certificate is refused after the
            # client's side of the handshake completed.
            self.failed_handshakes += 1
            conn.close()
            return
        if request is None:
            conn.close()
            return
        method, target, lines, rest = request
        headers = request.headers
        self.seen.append((method, target, headers.get("proxy-authorization"), subject))
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
        else:
            parts = urlsplit(target)
            upstream = socket.create_connection((parts.hostname, parts.port))
            if parts.scheme == "https":
                upstream = ssl.create_default_context(cafile=self.upstream_ca).wrap_socket(
                    upstream, server_hostname=parts.hostname)
            origin = parts.path + (f"?{parts.query}" if parts.query else "")
            kept = [l for l in lines
                    if not l.lower().startswith(("proxy-authorization", "connection"))]
            kept.append("Connection: close")
            upstream.sendall(f"{method} {origin} HTTP/1.1\r\n".encode() + "\r\n".join(kept).encode()
                             + b"\r\n\r\n" + rest)
        _pipe(conn, upstream)


class Pki:
    """Two private CAs (one for the proxy, one for the target), the files
    clients are given, and the proxy's and the target's certificates."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.proxy_ca = trustme.CA()
        self.target_ca = trustme.CA()
        self.client_ca = trustme.CA()
        self.proxy_ca_path = self._write(self.proxy_ca.cert_pem, "proxy-ca.pem")
        self.target_ca_path = self._write(self.target_ca.cert_pem, "target-ca.pem")
        client = self.client_ca.issue_cert("client@example.org")
        self.client_cert_path = self._write(client.cert_chain_pems[0], "client-cert.pem")
        self.client_key_path = self._write(client.private_key_pem, "client-key.pem")
        combined = tmp_path / "client-combined.pem"
        combined.write_bytes(client.private_key_pem.bytes() + client.cert_chain_pems[0].bytes())
        self.client_combined_path = str(combined)

    def _write(self, blob, name: str) -> str:
        path = self.tmp / name
        blob.write_to_path(str(path))
        return str(path)

    def proxy_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.proxy_ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.client_ca.configure_trust(ctx)
        return ctx

    def target_files(self) -> Tuple[str, str]:
        cert = self.target_ca.issue_cert("127.0.0.1", "localhost")
        cert_path = self._write(cert.cert_chain_pems[0], "target-cert.pem")
        key_path = self._write(cert.private_key_pem, "target-key.pem")
        return cert_path, key_path


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path)


@pytest.fixture
def make_proxy():
    made: List[TlsProxy] = []

    def make(context: Optional[ssl.SSLContext], upstream_ca: Optional[str] = None) -> TlsProxy:
        made.append(TlsProxy(context, upstream_ca))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


ENDPOINTS = {
    "echo": {"model": "echo"},
    "llm": {"model": "tokens", "text": "Hello proxied world", "parts": 4, "format": "sse"},
}


@pytest.fixture
def plain_target(local_runtime):
    return local_runtime(ENDPOINTS)


@pytest.fixture
def tls_target(local_runtime, pki):
    cert, key = pki.target_files()
    return local_runtime(ENDPOINTS, tls_cert=cert, tls_key=key)


def both(rt, *, verify: Any = None, **config: Any):
    """sagerun and boto3 clients with the same arguments (one attempt)."""
    cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30, **config)
    kwargs = dict(rt.client_kwargs(), config=cfg)
    if verify is not None:
        kwargs["verify"] = verify
    return sagerun.Client(**kwargs), boto3.client("sagemaker-runtime", **kwargs)


def echo_through(client) -> bytes:
    r = client.invoke_endpoint(EndpointName="echo", Body=b'{"via": "proxy"}', ContentType="application/json")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    return r["Body"].read()


def with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://")
    return f"{scheme}://{user}:{password}@{rest}"


# -- an https:// proxy ---------------------------------------------------------


def test_https_proxy_forwards_http_targets_in_absolute_form(plain_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(plain_target, proxies={"http": with_credentials(proxy.url, "ann", "pw 1")},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})
    assert echo_through(ours) == echo_through(theirs) == b'{"via": "proxy"}'
    target = f"{plain_target.url}/endpoints/echo/invocations"
    assert [(m, t) for m, t, _, _ in proxy.seen] == [("POST", target)] * 2
    # Forwarded requests carry the proxy credentials (in the TLS session).
    auths = {base64.b64decode(auth.split()[1]) for _, _, auth, _ in proxy.seen}
    assert auths == {b"ann:pw 1"}


def test_https_proxy_tunnels_https_targets(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(tls_target, verify=pki.target_ca_path,
                        proxies={"https": with_credentials(proxy.url, "bob", "s3cret")},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})
    assert echo_through(ours) == echo_through(theirs) == b'{"via": "proxy"}'
    host = tls_target.url.split("://")[1]
    assert [(m, t) for m, t, _, _ in proxy.seen] == [("CONNECT", host)] * 2
    assert {base64.b64decode(a.split()[1]) for _, _, a, _ in proxy.seen} == {b"bob:s3cret"}


def test_a_response_stream_through_an_https_proxy_tunnel(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})

    def payloads(client) -> bytes:
        r = client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
        return b"".join(e["PayloadPart"]["Bytes"] for e in r["Body"] if "PayloadPart" in e)

    assert payloads(ours) == payloads(theirs) != b""
    assert [m for m, _, _, _ in proxy.seen] == ["CONNECT"] * 2


def test_pooled_connections_through_an_https_proxy_tunnel_are_reused(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    ours, _ = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url},
                   proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})
    for _ in range(5):
        echo_through(ours)
    assert len(proxy.seen) == 1  # one tunnel carried all five (TLS in TLS)


def test_an_https_proxy_is_checked_against_the_ca_bundles(tls_target, pki, make_proxy):
    """Without proxy_ca_bundle the proxy's certificate (from another CA than
    the target's) is not trusted: both clients refuse before any request."""
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url})
    with pytest.raises(bex.SSLError):
        echo_through(ours)
    with pytest.raises((bex.SSLError, bex.ProxyConnectionError)):
        echo_through(theirs)
    assert proxy.seen == []


def test_an_https_proxy_is_checked_even_for_http_targets_unlike_botocore(plain_target, pki, make_proxy):
    """A difference on purpose: botocore turns certificate checks off for
    an http:// target, the https:// proxy's included; sagerun still checks
    the proxy (the proxy sees the request and its credentials)."""
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(plain_target, proxies={"http": proxy.url})
    assert echo_through(theirs) == b'{"via": "proxy"}'
    with pytest.raises(bex.SSLError, match="UnknownIssuer"):
        echo_through(ours)
    assert len(proxy.seen) == 1


def test_the_target_ca_bundle_also_vouches_for_the_proxy(tls_target, pki, make_proxy):
    """urllib3 checks an https:// proxy with the endpoint's CA bundle too:
    a proxy certified by the target's CA needs no proxy_ca_bundle."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki.target_ca.issue_cert("127.0.0.1").configure_cert(ctx)
    proxy = make_proxy(ctx)
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url})
    assert echo_through(ours) == echo_through(theirs)


def test_verify_false_does_not_check_the_proxy_either(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    ours, theirs = both(tls_target, verify=False, proxies={"https": proxy.url})
    assert echo_through(ours) == echo_through(theirs)


# -- proxies_config ------------------------------------------------------------


@pytest.mark.parametrize("form", ["tuple", "combined"])
def test_a_proxy_that_requires_a_client_certificate(tls_target, pki, make_proxy, form):
    proxy = make_proxy(pki.proxy_context(require_client_cert=True))
    cert = ((pki.client_cert_path, pki.client_key_path) if form == "tuple"
            else pki.client_combined_path)
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path,
                                        "proxy_client_cert": cert})
    assert echo_through(ours) == echo_through(theirs)
    assert [s for _, _, _, s in proxy.seen] == [(("email", "client@example.org"),)] * 2


def test_a_proxy_that_requires_a_client_certificate_refuses_a_client_without(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context(require_client_cert=True))
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})
    with pytest.raises((bex.SSLError, bex.ConnectionClosedError)):
        echo_through(ours)
    with pytest.raises((bex.SSLError, bex.ProxyConnectionError, bex.ConnectionClosedError)):
        echo_through(theirs)
    assert wait_until(lambda: proxy.failed_handshakes >= 2), proxy.failed_handshakes
    assert proxy.seen == []


def test_forwarding_for_https_sends_absolute_form_to_an_https_proxy(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context(), upstream_ca=pki.target_ca_path)
    ours, theirs = both(tls_target, verify=pki.target_ca_path,
                        proxies={"https": with_credentials(proxy.url, "cy", "pw")},
                        proxies_config={"proxy_ca_bundle": pki.proxy_ca_path,
                                        "proxy_use_forwarding_for_https": True})
    assert echo_through(ours) == echo_through(theirs) == b'{"via": "proxy"}'
    target = f"{tls_target.url}/endpoints/echo/invocations"
    assert [(m, t) for m, t, _, _ in proxy.seen] == [("POST", target)] * 2
    assert {base64.b64decode(a.split()[1]) for _, _, a, _ in proxy.seen} == {b"cy:pw"}


def test_forwarding_for_https_still_tunnels_through_a_plain_proxy(tls_target, pki, make_proxy):
    """urllib3 forwards https:// requests only to an https:// proxy."""
    proxy = make_proxy(None)
    ours, theirs = both(tls_target, verify=pki.target_ca_path, proxies={"https": proxy.url},
                        proxies_config={"proxy_use_forwarding_for_https": True})
    assert echo_through(ours) == echo_through(theirs)
    assert [m for m, _, _, _ in proxy.seen] == ["CONNECT"] * 2


def test_bad_proxies_config_files_fail_before_anything_is_sent(plain_target, pki, make_proxy, tmp_path):
    """botocore's own class for these (boto3 raises it, wrapped in
    HTTPClientError, at the first request), naming the file and the fault."""
    proxy = make_proxy(pki.proxy_context())
    missing = str(tmp_path / "missing.pem")
    for settings, match in [({"proxy_ca_bundle": missing}, "CA bundle"),
                            ({"proxy_client_cert": missing}, "client certificate"),
                            ({"proxy_client_cert": (pki.client_cert_path, pki.client_cert_path)},
                             "holds no PEM private key")]:
        with pytest.raises(bex.InvalidProxiesConfigError, match=match) as raised:
            both(plain_target, proxies={"http": proxy.url}, proxies_config=settings)[0]
        assert str(raised.value).startswith(str(bex.InvalidProxiesConfigError(error="x"))[:-1])
    assert proxy.seen == []


def test_async_client_through_an_https_proxy(tls_target, pki, make_proxy):
    proxy = make_proxy(pki.proxy_context())
    cfg = Config(retries={"total_max_attempts": 1}, proxies={"https": proxy.url},
                 proxies_config={"proxy_ca_bundle": pki.proxy_ca_path})

    async def run() -> bytes:
        async with sagerun.AsyncClient(verify=pki.target_ca_path, config=cfg,
                                       **tls_target.client_kwargs()) as client:
            r = await client.invoke_endpoint(EndpointName="echo", Body=b"async")
            return await r["Body"].read()

    assert asyncio.run(run()) == b"async"
    assert [m for m, _, _, _ in proxy.seen] == ["CONNECT"]

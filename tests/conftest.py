"""Shared fixtures: a local SageMaker Runtime factory and boto3 clients for it.

Other test files use them as::

    def test_x(local_runtime, boto_client):
        rt = local_runtime({"ep": {"model": "echo"}})
        client = boto_client(rt)
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from botocore.config import Config
from configs import NO_RETRIES

from sagerun.local import LocalRuntime



@pytest.fixture(scope="module")
def rt(request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    """The local runtime serving the test module's ``ENDPOINTS``, started
    once per module (a module needing other settings defines its own)."""
    with LocalRuntime(request.module.ENDPOINTS) as runtime:
        yield runtime


@pytest.fixture
def local_runtime() -> Iterator[Callable[..., LocalRuntime]]:
    """Factory: ``local_runtime(endpoints, **LocalRuntime kwargs)``; every
    runtime it starts is stopped after the test."""
    started: List[LocalRuntime] = []

    def start(endpoints: Dict[str, Any], **kwargs: Any) -> LocalRuntime:
        rt = LocalRuntime(endpoints, **kwargs)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        rt.stop()


@pytest.fixture
def boto_client() -> Callable[..., Any]:
    """Factory: a boto3 ``sagemaker-runtime`` client for a LocalRuntime,
    without retries (each call is exactly one request) and with short
    timeouts. Keyword arguments override ``client_kwargs()``."""
    boto3 = pytest.importorskip("boto3")

    def make(rt: LocalRuntime, config: Optional[Config] = None, **overrides: Any) -> Any:
        cfg = NO_RETRIES if config is None else NO_RETRIES.merge(config)
        kwargs = {**rt.client_kwargs(), **overrides}
        return boto3.client("sagemaker-runtime", config=cfg, **kwargs)

    return make


def raw_request(
    url: str, method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None
) -> "tuple[int, Dict[str, str], bytes]":
    """One HTTP request with the standard library (no AWS logic involved):
    (status, lower-cased headers, body)."""
    host_port = url.split("://", 1)[1]
    conn = http.client.HTTPConnection(host_port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@pytest.fixture
def raw_http() -> Callable[..., "tuple[int, Dict[str, str], bytes]"]:
    return raw_request


class FakeContainer:
    """A model container speaking the SageMaker container contract
    (``POST /invocations``, ``GET /ping``), played by http.server in a
    thread. ``handler(request) -> (status, headers, body_chunks)``; a list
    of chunks is sent with chunked transfer encoding, one chunk per item,
    each flushed; an item may be a callable, called before the next chunk
    (to wait for the test)."""

    def __init__(self, handler: Callable[[Dict[str, Any]], Any]) -> None:
        self.requests: List[Dict[str, Any]] = []
        container = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/ping" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length),
                }
                container.requests.append(request)
                status, headers, body = handler(request)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for item in body:
                    if callable(item):
                        item()
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(item), item))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def fake_container() -> Iterator[Callable[..., FakeContainer]]:
    made: List[FakeContainer] = []

    def make(handler: Callable[[Dict[str, Any]], Any]) -> FakeContainer:
        c = FakeContainer(handler)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()



@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connecting times out: a listener whose accept
    queue is full leaves new SYNs unanswered (skips on a kernel that accepts
    past a full backlog)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel accepts connections past a full backlog")
        except (socket.timeout, OSError):
            pass
        finally:
            probe.close()
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()

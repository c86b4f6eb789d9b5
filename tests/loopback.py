"""Small pieces for the tests' own loopback servers (proxies, TLS
terminators): a listener that handles each connection in a thread, and a
bounded wait for what such a server records."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional


class ThreadPerConnectionServer:
    """Listens on 127.0.0.1 (a free port) and calls ``self._handle(conn)`` in
    a daemon thread for each connection accepted, until ``close()``.
    Subclasses set what ``_handle`` needs before calling this ``__init__``."""

    scheme = "http"

    def __init__(self, backlog: int = 32):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.url = f"{self.scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()


class RequestHead(NamedTuple):
    method: str
    target: str
    header_lines: List[str]  # as sent, for forwarding
    rest: bytes  # what was read past the head

    @property
    def headers(self) -> Dict[str, str]:
        """Lower-cased names."""
        return {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in self.header_lines)}


def read_request_head(conn: socket.socket) -> Optional[RequestHead]:
    """Reads one HTTP request head, or None if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    return RequestHead(method, target, lines[1:], rest)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """True as soon as `condition()` holds; False once `timeout` seconds pass.
    (A client can see a refusal before the server's thread has noted it.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True

"""Small pieces for the tests' own loopback servers (proxies, TLS
terminators): a listener that handles each connection in a thread, and a
bounded wait for what such a server records."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable


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


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """True as soon as `condition()` holds; False once `timeout` seconds pass.
    (A client can see a refusal before the server's thread has noted it.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True

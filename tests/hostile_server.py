"""A raw-socket HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose.

Each request is answered by a *behaviour*: a small function
``behaviour(conn, request) -> bool`` (True: the connection may serve another
request). The server takes behaviours from a queue in request order (the Nth
request gets the Nth behaviour; the last one repeats), so a script such as
``[reset, ok]`` means "break the first request, answer the next ones".

Everything is bounded: accept and recv have timeouts, a behaviour that holds
a connection open waits at most ``hold_limit`` seconds, and the server stops
by itself after ``lifetime`` seconds. Use it as a context manager::

    with HostileServer([no_response, ok]) as srv:
        client = sagerun.Client(endpoint_url=srv.url, ...)

Frames that are *valid* are built with ``sagerun.eventstream.encode_message``;
the corrupt ones are built here from the PROTOCOL.md layout with ``zlib.crc32``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Union

from sagerun.eventstream import encode_message

IO_TIMEOUT = 5.0  # every accept/recv/send waits at most this long
MAX_REQUEST_HEAD = 64 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: Dict[str, str]  # lower-cased names
    body: bytes
    connection: int  # which accepted connection (0, 1, ...) carried it


class Conn:
    """One accepted connection, with the writes behaviours need."""

    def __init__(self, sock: socket.socket, number: int, server: "HostileServer"):
        self.sock = sock
        self.number = number
        self.server = server
        self._buffer = b""

    # -- reading ------------------------------------------------------------

    def read_request(self) -> Optional[Request]:
        """Reads one request (head and Content-Length body); None when the
        peer closed, timed out or sent something that is not a request."""
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_REQUEST_HEAD or not self._recv():
                return None
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, path, _version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            if not self._recv():
                return None
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Request(method, path, headers, body, self.number)

    def _recv(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except OSError:
            return False
        self._buffer += data
        return bool(data)

    # -- writing ------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        """False when the peer has gone (a behaviour then just stops)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def dribble(self, data: bytes, interval: float) -> bool:
        """One byte per send, `interval` seconds apart."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            if not self.send(data[i:i + 1]) or self.server.stopping.wait(interval):
                return False
        return True

    def reset(self) -> None:
        """Closes with SO_LINGER 0: the peer sees a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def hold(self) -> None:
        """Keeps the connection open, silent, until the peer closes it or
        the server stops (at most `hold_limit` seconds)."""
        deadline = time.monotonic() + self.server.hold_limit
        self.sock.settimeout(0.05)
        while not self.server.stopping.is_set() and time.monotonic() < deadline:
            try:
                if not self.sock.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return


Behaviour = Callable[[Conn, Request], bool]


class HostileServer:
    def __init__(self, behaviours: Sequence[Union[str, Behaviour]], *, lifetime: float = 60.0,
                 hold_limit: float = 30.0, port: int = 0):
        """`behaviours`: functions, or names of the plain ones in `NAMED`."""
        if not behaviours:
            raise ValueError("at least one behaviour")
        self.behaviours = [NAMED[b] if isinstance(b, str) else b for b in behaviours]
        self.hold_limit = hold_limit
        self.requests: List[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._deadline = time.monotonic() + lifetime
        self._acceptor = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        number = 0
        while not self.stopping.is_set() and time.monotonic() < self._deadline:
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(IO_TIMEOUT)
            t = threading.Thread(target=self._serve, args=(Conn(sock, number, self),),
                                 name=f"hostile-conn-{number}", daemon=True)
            with self._lock:
                self._conns.append(sock)
                self._threads.append(t)
            number += 1
            t.start()
        self.stopping.set()

    def _serve(self, conn: Conn) -> None:
        try:
            while not self.stopping.is_set():
                request = conn.read_request()
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    behaviour = self.behaviours[min(len(self.requests), len(self.behaviours)) - 1]
                if not behaviour(conn, request):
                    return
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        self._listener.close()
        self._acceptor.join(IO_TIMEOUT)
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(IO_TIMEOUT)

    def __enter__(self) -> "HostileServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- response pieces ----------------------------------------------------------

EVENTSTREAM = "application/vnd.amazon.eventstream"


def head(status: int, headers: Sequence[tuple] = (), reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "x-amzn-RequestId: hostile-req"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def full_response(status: int, body: bytes, headers: Sequence[tuple] = ()) -> bytes:
    return head(status, [*headers, ("Content-Length", str(len(body)))]) + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
STREAM_HEAD = head(200, [("Content-Type", EVENTSTREAM), ("Transfer-Encoding", "chunked"),
                         ("X-Amzn-SageMaker-Content-Type", "text/plain")])


def payload_part(data: bytes) -> bytes:
    """A valid PayloadPart frame (encoded by sagerun's codec)."""
    return encode_message({":message-type": "event", ":event-type": "PayloadPart",
                           ":content-type": "application/octet-stream"}, data)


def raw_frame(headers_section: bytes, payload: bytes, total_length: Optional[int] = None) -> bytes:
    """A frame built by hand: prelude (lengths + CRC), headers, payload,
    message CRC. `total_length` overrides the length the prelude claims."""
    total = total_length if total_length is not None else 16 + len(headers_section) + len(payload)
    prelude = struct.pack(">II", total, len(headers_section))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + headers_section + payload
    return body + struct.pack(">I", zlib.crc32(body))


def bytes_header(name: str, value: bytes) -> bytes:
    """One header of wire type 6 (bytes)."""
    raw = name.encode()
    return struct.pack(">B", len(raw)) + raw + b"\x06" + struct.pack(">H", len(value)) + value


def flip(frame: bytes, index: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1:]


# -- behaviours -----------------------------------------------------------------

OK_BODY = b'{"ok": true}'


def ok(conn: Conn, request: Request) -> bool:
    """A well-behaved answer: a stream for the stream operation, else JSON."""
    if request.path.endswith("/invocations-response-stream"):
        return conn.send(STREAM_HEAD + chunk(payload_part(b"fine")) + LAST_CHUNK)
    return conn.send(full_response(200, OK_BODY, [("Content-Type", "application/json")]))


def reset_before_response(conn: Conn, request: Request) -> bool:
    conn.reset()
    return False


def close_after_headers(conn: Conn, request: Request) -> bool:
    conn.send(head(200, [("Content-Type", "application/json"), ("Content-Length", "100")]))
    return False


def short_body(conn: Conn, request: Request) -> bool:
    """Content-Length says 100; 10 bytes come; then the connection closes."""
    conn.send(head(200, [("Content-Type", "application/json"), ("Content-Length", "100")]) + b"0123456789")
    return False


def no_response(conn: Conn, request: Request) -> bool:
    conn.hold()
    return False


DRIBBLE_INTERVAL = 0.01


def dribble(conn: Conn, request: Request) -> bool:
    """A short valid response (or stream), one byte every 10 ms."""
    if request.path.endswith("/invocations-response-stream"):
        data = STREAM_HEAD + chunk(payload_part(b"slow")) + LAST_CHUNK
    else:
        data = full_response(200, b"slow", [("Content-Type", "text/plain")])
    return conn.dribble(data, DRIBBLE_INTERVAL)


def headers_byte_by_byte(conn: Conn, request: Request) -> bool:
    """The status line and headers one byte per segment, then the body at once."""
    response = full_response(200, OK_BODY, [("Content-Type", "application/json")])
    head_end = response.index(b"\r\n\r\n") + 4
    return conn.dribble(response[:head_end], 0.001) and conn.send(response[head_end:])


def status(code: int, error_type: str, message: str = "hostile") -> Behaviour:
    """An error response as SageMaker sends it."""
    body = b'{"message": "%s"}' % message.encode()

    def behaviour(conn: Conn, request: Request) -> bool:
        return conn.send(full_response(code, body, [("x-amzn-ErrorType", error_type),
                                                    ("Content-Type", "application/json")]))

    behaviour.__name__ = f"status_{code}_{error_type}"
    return behaviour


def huge_header(size: int) -> Behaviour:
    """A 200 whose `x-hostile` header value is `size` bytes long."""
    def behaviour(conn: Conn, request: Request) -> bool:
        return conn.send(full_response(200, OK_BODY, [("x-hostile", "v" * size)]))

    behaviour.__name__ = f"huge_header_{size}"
    return behaviour


def stream_of(*pieces: bytes, end: bytes = b"", then_hold: bool = False) -> Behaviour:
    """A 200 event stream: each piece is one chunk; then `end`. With
    LAST_CHUNK the HTTP framing is complete and the connection stays open for
    the next request (closing it unannounced would race the client's pool, as
    it would boto3's); otherwise the connection is closed mid-body, or held
    open silently with `then_hold`."""
    def behaviour(conn: Conn, request: Request) -> bool:
        if not conn.send(STREAM_HEAD + b"".join(chunk(p) for p in pieces) + end):
            return False
        if then_hold:
            conn.hold()
        return end == LAST_CHUNK

    return behaviour


GOOD_FRAME = payload_part(b"first")
_NEXT = payload_part(b"second-part")

# The stream's connection closes in the middle of its second frame.
stream_cut_mid_frame = stream_of(GOOD_FRAME, _NEXT[:len(_NEXT) // 2])
# The chunked body ends cleanly (0-chunk) in the middle of its second frame.
stream_ends_mid_frame = stream_of(GOOD_FRAME, _NEXT[:len(_NEXT) // 2], end=LAST_CHUNK)
# A prelude claiming a 4 GiB message (valid prelude CRC); the connection then
# stays open: a decoder that waited for the rest would hang.
HUGE_PRELUDE = raw_frame(b"", b"", total_length=0xFFFF_FFF0)[:12]
stream_4gib_prelude = stream_of(GOOD_FRAME, HUGE_PRELUDE, then_hold=True)
stream_bad_prelude_crc = stream_of(GOOD_FRAME, flip(_NEXT, 9), end=LAST_CHUNK)
stream_bad_message_crc = stream_of(GOOD_FRAME, flip(_NEXT, len(_NEXT) - 1), end=LAST_CHUNK)
# Three 60,000-byte headers: a headers section of ~180 KB, over the 128 KiB limit.
BIG_HEADERS_FRAME = raw_frame(b"".join(bytes_header(f"h{i}", b"x" * 60_000) for i in range(3)), b"p")
stream_headers_over_limit = stream_of(GOOD_FRAME, BIG_HEADERS_FRAME, end=LAST_CHUNK)


def stream_4gib_prelude_then_flood(flood_mib: int) -> Behaviour:
    """The 4 GiB prelude followed by `flood_mib` MiB of bytes: a client that
    buffered them while waiting for the frame would grow by as much."""
    block = b"\0" * (1024 * 1024)

    def behaviour(conn: Conn, request: Request) -> bool:
        if not conn.send(STREAM_HEAD + chunk(GOOD_FRAME) + chunk(HUGE_PRELUDE)):
            return False
        for _ in range(flood_mib):
            if conn.server.stopping.is_set() or not conn.send(chunk(block)):
                return False
        conn.hold()
        return False

    return behaviour


# The behaviours that take no parameters, by name (HostileServer(["no_response", "ok"])).
NAMED: Dict[str, Behaviour] = {
    f.__name__: f for f in [ok, reset_before_response, close_after_headers, short_body,
                            no_response, dribble, headers_byte_by_byte]
}

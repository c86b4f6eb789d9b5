# Type stubs for the Rust extension module. Each part adds its own names.
import datetime as _dt
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union, final
from typing import Any as _Any, Dict as _Dict, Iterable as _Iterable, Iterator as _Iterator
from typing import List as _List, Optional as _Optional, Union as _Union
from typing import Callable

__version__: str
DEBUG_BUILD: bool  # built without optimisations (maturin develop without --release)

# --- streaming (public API: sagerun.streaming) ---

_Part = _Union[bytes, bytearray, memoryview, _Dict[str, _Any]]

class StreamFormatError(ValueError):
    record: str  # an excerpt of the offending record (malformed records only)
    items: _List[_Any]  # what the part completed before the error (from feed)

class LineTooLong(StreamFormatError):
    limit: int

class EventTooLong(StreamFormatError):
    limit: int

class ModelGenerationError(RuntimeError):
    message: str
    record: str
    items: _List[_Any]  # what the part completed before the error (from feed)

class ServerSentEvent:
    def __init__(self, data: str = ..., event: str = ..., id: str = ..., retry: _Optional[int] = ...) -> None: ...
    @property
    def data(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def retry(self) -> _Optional[int]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class LineDecoder:
    def __init__(self, keepends: bool = ..., max_line_bytes: _Optional[int] = ...) -> None: ...
    def feed(self, part: _Part) -> _List[bytes]: ...
    def finish(self) -> _List[bytes]: ...
    @property
    def buffered(self) -> int: ...

class Utf8Decoder:
    def __init__(self, errors: str = ...) -> None: ...  # 'strict', 'replace' or 'ignore'
    def feed(self, part: _Part) -> str: ...
    def finish(self) -> str: ...
    @property
    def buffered(self) -> int: ...

class SseDecoder:
    def __init__(self, stop_at_done: bool = ..., max_event_bytes: _Optional[int] = ...) -> None: ...
    def feed(self, part: _Part) -> _List[ServerSentEvent]: ...
    def finish(self) -> _List[ServerSentEvent]: ...
    @property
    def done(self) -> bool: ...
    @property
    def buffered(self) -> int: ...

class TokenDecoder:
    def __init__(self, format: _Optional[str] = ..., skip_special: bool = ..., max_record_bytes: _Optional[int] = ...) -> None: ...
    def feed(self, part: _Part) -> _List[str]: ...
    def finish(self) -> _List[str]: ...
    @property
    def done(self) -> bool: ...
    @property
    def format(self) -> _Optional[str]: ...

def payload_bytes(part: _Part) -> _Optional[bytes]: ...
def drive(source: _Iterable[_Part], decoder: _Union[LineDecoder, SseDecoder, TokenDecoder]) -> _Iterator[_Any]: ...

# --- eventstream (public API: sagerun.eventstream) ---

_Buffer = Union[bytes, bytearray, memoryview]
_DecodedValue = Union[bool, int, bytes, str, _dt.datetime]

EVENTSTREAM_MAX_HEADERS_LEN: int
EVENTSTREAM_MAX_PAYLOAD_LEN: int

class EventStreamError(ValueError): ...

class ChecksumMismatch(EventStreamError):
    which: str  # "prelude" or "message"
    expected: int
    computed: int
    messages: List[Message]

class InvalidFrame(EventStreamError):
    messages: List[Message]

class TruncatedStream(EventStreamError): ...

class Message:
    @property
    def headers(self) -> Mapping[str, _DecodedValue]: ...  # read-only (MappingProxyType)
    @property
    def header_types(self) -> Mapping[str, int]: ...  # read-only (MappingProxyType)
    @property
    def payload(self) -> bytes: ...

class EventStreamDecoder:
    def __init__(self, max_headers_len: Optional[int] = ..., max_payload_len: Optional[int] = ...) -> None: ...
    @property
    def max_headers_len(self) -> int: ...
    @property
    def max_payload_len(self) -> int: ...
    @property
    def buffered(self) -> int: ...
    def feed(self, data: _Buffer) -> List[Message]: ...
    def close(self) -> None: ...

def decode_message(data: _Buffer) -> Message: ...
def encode_message_raw(headers: Sequence[Tuple[str, int, Any]], payload: bytes) -> bytes: ...
# --- client (rust/python/src/client.rs) ---

class TransportError(Exception):
    """args: (kind, message, url); kind is one of invalid_request, config,
    connect, tls, connect_timeout, read_timeout, connection_closed,
    body_cut, response_too_large, stream_checksum, stream_corrupt, stream_truncated."""

# --- events (rust/python/src/events.rs) ---

class EventStreamReader:
    # Iterating hands out the events read so far (never reads); fill() reads more.
    def __iter__(self) -> "EventStreamReader": ...
    def __next__(self) -> Union[Dict[str, Dict[str, bytes]], Tuple[str, str, Any]]: ...
    def raise_events_with(self, make_error: Callable[[Tuple[str, str, Any]], BaseException]) -> None: ...
    # for event in body (sync): reads as needed; closes the stream when over.
    def iterate(self, map_error: Callable[[BaseException], BaseException]) -> "BlockingEvents": ...
    def fill(self) -> bool: ...
    def hand_out_payloads(self) -> None: ...
    @property
    def readable(self) -> bool: ...
    def fill_async(self, queue: CompletionQueue, future: Any) -> PendingCall: ...
    # Timings: seconds on the clock of time.monotonic()/time.perf_counter().
    @property
    def request_sent_at(self) -> float: ...
    @property
    def first_byte_at(self) -> float: ...
    def part_times(self, start: int = 0) -> List[float]: ...
    def close(self) -> None: ...

@final
class BlockingEvents:
    def __iter__(self) -> "BlockingEvents": ...
    def __next__(self) -> Union[Dict[str, Dict[str, bytes]], bytes]: ...

# asyncio bridge (sagerun._async_bridge): a call settles `future` via `queue`.
class CompletionQueue:
    def __init__(self) -> None: ...
    def fileno(self) -> int: ...
    def drain(self) -> int: ...

class PendingCall:
    def cancel(self) -> None: ...

#: One call as ClientBase._prepare makes it: (endpoint_name, header members,
#: body, access_key, secret_key, session_token).
CallArgs = Tuple[str, List[Tuple[str, str]], bytes, str, str, Optional[str]]

class NativeClient:
    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        user_agent: str,
        connect_timeout: Optional[float],
        read_timeout: Optional[float],
        max_pool_connections: int,
        verify: bool,
        ca_bundle: Optional[str],
        proxy_url: Optional[str],
        proxy_authorization: Optional[str],
        retry_mode: str,
        max_attempts: int,
        new_retries: bool,
        client_cert: Optional[Tuple[str, Optional[str]]] = None,
        proxy_ca_bundle: Optional[str] = None,
        proxy_client_cert: Optional[Tuple[str, Optional[str]]] = None,
        proxy_use_forwarding_for_https: bool = False,
        unsigned: bool = False,
    ) -> None: ...
    def invoke(
        self,
        operation_name: str,
        call: CallArgs,
    ) -> Tuple[int, Dict[str, Any], bytes]: ...
    def invoke_stream(
        self,
        operation_name: str,
        call: CallArgs,
    ) -> Tuple[int, Dict[str, Any], Union[bytes, EventStreamReader]]: ...
    def invoke_async(
        self,
        queue: CompletionQueue,
        future: Any,
        operation_name: str,
        call: CallArgs,
    ) -> PendingCall: ...
    def invoke_stream_async(
        self,
        queue: CompletionQueue,
        future: Any,
        operation_name: str,
        call: CallArgs,
    ) -> PendingCall: ...
    def close_async_pool(self) -> None: ...
    @property
    def retry_quota(self) -> int: ...

def protocol_tables() -> Dict[str, Any]: ...
def validate_known(
    params: Dict[str, Any],
    members: Dict[str, Tuple[bool, bool, Set[str]]],
    required: Tuple[str, ...],
    body_limit: int,
) -> Optional[Tuple[str, List[Tuple[str, str]], bytes]]: ...

# --- invoke_endpoint_many (rust/python/src/many.rs) ---
class ManyRun:
    def __init__(
        self, client: NativeClient, operation_name: str, *, concurrency: int, window: int
    ) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def pending(self) -> int: ...
    def submit(
        self,
        items: Sequence[Optional[Tuple[str, List[Tuple[str, str]], bytes]]],
        access_key: str,
        secret_key: str,
        session_token: Optional[str] = None,
    ) -> int: ...
    def next_completed(
        self, max_wait: float
    ) -> List[Tuple[int, Union[Tuple[int, Dict[str, Any], bytes], BaseException]]]: ...
    def close(self) -> None: ...

# --- local runtime (public API: sagerun.local) ---
class _LocalServer:
    def __init__(
        self,
        endpoints_json: str,
        *,
        host: str,
        port: int,
        region: str,
        credentials: List[Tuple[str, str]],
        verify_signatures: bool,
        tls_cert: Optional[str] = ...,
        tls_key: Optional[str] = ...,
        data_dir: Optional[str] = ...,
        session_ttl_seconds: float = ...,
        account_id: str = ...,
        worker_threads: int = ...,
    ) -> None: ...
    @property
    def url(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
# --- sigv4 (wrapped by sagerun.sigv4) ---

class SigningError(ValueError): ...

@final
class SignatureDetails:
    @property
    def canonical_request(self) -> str: ...
    @property
    def string_to_sign(self) -> str: ...
    @property
    def signature(self) -> str: ...
    @property
    def authorization(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...

_Headers = Union[Mapping[str, str], Iterable[tuple[str, str]], None]
_Body = Union[bytes, bytearray, memoryview, str, None]

def sigv4_sign(
    method: str, url: str, headers: _Headers, body: _Body, region: str, service: str,
    access_key: str, secret_key: str, session_token: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> dict[str, str]: ...
def sigv4_sign_details(
    method: str, url: str, headers: _Headers, body: _Body, region: str, service: str,
    access_key: str, secret_key: str, session_token: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> SignatureDetails: ...
def sigv4_verify(method: str, url: str, headers: _Headers, body: _Body, secret_key: str) -> str: ...

@final
class SigV4Signer:
    """``sagerun.sigv4.Signer``: one principal and scope, bound once."""
    def __init__(
        self, *, region: str, service: str, access_key: str, secret_key: str,
        session_token: Optional[str] = None,
    ) -> None: ...
    @property
    def region(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def access_key(self) -> str: ...
    def sign(
        self, method: str, url: str, headers: _Headers, body: _Body, *,
        timestamp: Union[datetime, int, float, None] = None,
    ) -> dict[str, str]: ...
    def sign_details(
        self, method: str, url: str, headers: _Headers, body: _Body, *,
        timestamp: Union[datetime, int, float, None] = None,
    ) -> SignatureDetails: ...

# --- panics at the boundary (rust/python/src/panics.rs) ---

class InternalError(RuntimeError):
    """A bug in sagerun: its Rust code panicked (the message says where)."""

def _panic_for_tests(where_: str) -> None:
    """TEST-ONLY: a real panic at "call", "block_on", "task" or "server"."""

def _panic_in_async_call_for_tests(queue: CompletionQueue, future: Any) -> PendingCall:
    """TEST-ONLY: an async call whose Rust task panics (its awaiter gets InternalError)."""
    ...

@final
class AdaptiveLimiterModel:
    """botocore's ClientRateLimiter arithmetic on a caller-supplied clock."""

    def __init__(self, now: float) -> None: ...
    def try_send(self, now: float) -> Optional[float]: ...
    def on_response(self, now: float, throttled: bool) -> None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def measured_rate(self) -> float: ...
    @property
    def max_rate(self) -> float: ...
    @property
    def capacity(self) -> float: ...

def rate_limiter_state(client: NativeClient) -> Optional[Dict[str, Any]]: ...

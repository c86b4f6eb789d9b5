# Type stubs for the Rust extension module. Each part adds its own names.
__version__: str

# --- eventstream (public API: sagerun.eventstream) ---
import datetime as _dt
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

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
# --- sigv4 (wrapped by sagerun.sigv4) ---
from collections.abc import Iterable, Mapping
from typing import Optional, Union, final

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

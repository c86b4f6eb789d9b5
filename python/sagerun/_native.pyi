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

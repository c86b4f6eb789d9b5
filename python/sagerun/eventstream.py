"""The ``application/vnd.amazon.eventstream`` codec (decoding and encoding in Rust).

Decoding::

    decoder = EventStreamDecoder()            # default limits: 128 KiB headers, 24 MiB payload
    for chunk in body:
        for message in decoder.feed(chunk):   # any split: one byte to megabytes
            message.headers, message.header_types, message.payload
    decoder.close()                           # TruncatedStream if the body ended inside a frame

Header values come out as Python values by wire type:

========  ======================  ==============================================
code      wire type               Python value
========  ======================  ==============================================
0, 1      bool true / false       ``bool``
2 - 5     byte, short, int, long  ``int``
6         byte array              ``bytes``
7         string                  ``str``
8         timestamp (ms)          tz-aware UTC ``datetime.datetime``
                                  (botocore's raw buffer gives the int of
                                  milliseconds; its parser gives datetimes)
9         uuid                    ``bytes`` (16 raw bytes, as botocore gives)
========  ======================  ==============================================

``Message.header_types`` tells the codes apart (e.g. an int32 from an int64).
Both ``headers`` and ``header_types`` are read-only mappings
(``types.MappingProxyType``, in wire order) shared by the messages of a
stream that repeat the same header block, which keeps a message as cheap as
its payload; use ``dict(message.headers)`` for a mutable copy.

Encoding: :func:`encode_message` takes a mapping of name to value and infers
the wire type (``bool`` -> 0/1, ``int`` -> int32 if it fits else int64,
``str`` -> 7, ``bytes``-like -> 6, aware ``datetime`` -> 8, ``uuid.UUID`` -> 9),
or an explicit ``(type_code, value)`` tuple for any of the ten types.

Errors derive from :class:`EventStreamError`, a ``ValueError``:
:class:`ChecksumMismatch` (``.which`` is ``"prelude"`` or ``"message"``),
:class:`InvalidFrame` and :class:`TruncatedStream`. After an error a decoder
stays failed; messages decoded from the same chunk before the error are on
the exception as ``.messages``.
"""

from __future__ import annotations

import datetime as _dt
import uuid as _uuid
from typing import Any, Mapping, Tuple, Union

from sagerun._native import (
    ChecksumMismatch,
    EventStreamDecoder,
    EventStreamError,
    InvalidFrame,
    Message,
    TruncatedStream,
    decode_message,
)
from sagerun._native import encode_message_raw as _encode_raw

__all__ = [
    "ChecksumMismatch",
    "EventStreamDecoder",
    "EventStreamError",
    "InvalidFrame",
    "Message",
    "TruncatedStream",
    "decode_message",
    "encode_message",
    "HeaderValue",
]

HeaderValue = Union[bool, int, str, bytes, bytearray, memoryview, _dt.datetime, _uuid.UUID,
                    Tuple[int, Any]]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MILLISECOND = _dt.timedelta(milliseconds=1)
_INT_RANGES = {2: 8, 3: 16, 4: 32, 5: 64}  # type code -> signed width in bits
_BYTES_LIKE = (bytes, bytearray, memoryview)


def _fits(value: int, bits: int) -> bool:
    return -(1 << (bits - 1)) <= value < (1 << (bits - 1))


def _millis(value: _dt.datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp headers need a timezone-aware datetime (naive ones are ambiguous)")
    # Sub-millisecond precision does not exist on the wire; floor it.
    return (value - _EPOCH) // _MILLISECOND


def _explicit(name: str, code: Any, value: Any) -> Tuple[int, Any]:
    """Checks an explicit ``(type_code, value)`` header and normalises its value."""
    if type(code) is not int or not 0 <= code <= 9:
        raise ValueError(f"header {name!r}: type code must be an int 0-9, not {code!r}")
    if code in (0, 1):
        if not isinstance(value, bool) or value != (code == 0):
            raise ValueError(f"header {name!r}: type {code} holds {code == 0}, not {value!r}")
        return code, None
    if code in _INT_RANGES:
        bits = _INT_RANGES[code]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"header {name!r}: type {code} needs an int, not {type(value).__name__}")
        if not _fits(value, bits):
            raise ValueError(f"header {name!r}: {value} does not fit a signed {bits}-bit integer")
        return code, value
    if code == 6:
        if not isinstance(value, _BYTES_LIKE):
            raise TypeError(f"header {name!r}: type 6 needs bytes, not {type(value).__name__}")
        return code, bytes(value)
    if code == 7:
        if not isinstance(value, str):
            raise TypeError(f"header {name!r}: type 7 needs a str, not {type(value).__name__}")
        return code, value
    if code == 8:
        if isinstance(value, _dt.datetime):
            return code, _millis(value)
        if isinstance(value, int) and not isinstance(value, bool) and _fits(value, 64):
            return code, value
        raise TypeError(f"header {name!r}: type 8 needs an aware datetime or int milliseconds")
    # code == 9
    if isinstance(value, _uuid.UUID):
        return code, value.bytes
    if isinstance(value, _BYTES_LIKE) and len(value) == 16:
        return code, bytes(value)
    raise TypeError(f"header {name!r}: type 9 needs a uuid.UUID or 16 bytes")


def _infer(name: str, value: Any) -> Tuple[int, Any]:
    """Picks the wire type of a plain Python value."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"header {name!r}: an explicit header is a (type_code, value) pair")
        return _explicit(name, *value)
    if isinstance(value, bool):
        return (0 if value else 1), None
    if isinstance(value, int):
        return _explicit(name, 4 if _fits(value, 32) else 5, value)
    if isinstance(value, str):
        return 7, value
    if isinstance(value, _BYTES_LIKE):
        return 6, bytes(value)
    if isinstance(value, _dt.datetime):
        return 8, _millis(value)
    if isinstance(value, _uuid.UUID):
        return 9, value.bytes
    raise TypeError(f"header {name!r}: cannot encode a {type(value).__name__}")


def encode_message(headers: Mapping[str, HeaderValue], payload: Union[bytes, bytearray, memoryview] = b"") -> bytes:
    """Encodes one frame. Raises ``TypeError``/``ValueError`` (``EventStreamError``
    for frame rules: name 1-255 bytes, values up to 65535 bytes, limits)."""
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of name to value, not {type(headers).__name__}")
    if not isinstance(payload, _BYTES_LIKE):
        raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
    triples = []
    for name, value in headers.items():
        if not isinstance(name, str):
            raise TypeError(f"header names must be str, not {type(name).__name__}")
        code, normalised = _infer(name, value)
        triples.append((name, code, normalised))
    return _encode_raw(triples, bytes(payload))

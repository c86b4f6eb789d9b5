"""Helpers for the payload of a response stream (decoders in Rust).

A response stream cuts the model's output into PayloadParts at arbitrary byte
positions: a part may hold half a line, several lines, or half of a UTF-8
character. These helpers put the output back together::

    r = client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=...)
    for token in iter_tokens(r["Body"]):         # TGI, LMI or OpenAI-style
        print(token, end="", flush=True)

**Input.** Every helper takes an iterable of *parts* (an async iterable for the
``aiter_*`` twins). A part is either the payload itself (``bytes``,
``bytearray`` or ``memoryview``) or a boto3-shaped event dict
``{"PayloadPart": {"Bytes": b"..."}}``, so a boto3 / sagerun response body
can be passed as it is. An event dict without a ``PayloadPart`` key (another
event type) carries no payload and is skipped; anything else raises
``TypeError``. Passing a single ``bytes``/``str`` instead of an iterable of
parts raises ``TypeError`` at the call, before anything is read.

**Laziness.** The helpers validate their arguments when called and return a
generator; parts are read only as items are asked for. Memory is bounded by
the longest pending item (line, event, character) and every byte is looked at
a constant number of times, so a 1 MB line fed one byte per part is linear.

Helpers:

- :func:`iter_bytes`: the payloads as ``bytes`` (empty ones skipped).
- :func:`iter_lines`: ``bytes`` lines. Only ``\\n`` ends a line, and a ``\\r``
  just before it belongs to the terminator (``\\r\\n`` is stripped as a unit
  even when split across parts). A lone ``\\r`` and Unicode line breaks such
  as U+2028 are ordinary content (unlike ``str.splitlines``). Empty lines are
  yielded; a last line without a newline is yielded too. Equivalent to
  ``[l[:-1] if l.endswith(b"\\r") else l for l in data.split(b"\\n")]`` on the
  joined payload, less a final empty item when it ends with ``\\n``.
- :func:`iter_text`: ``str`` chunks, decoded as UTF-8 exactly like
  ``codecs.getincrementaldecoder("utf-8")(errors)``: a character split
  across parts is joined; with ``errors="strict"`` an invalid sequence, or an
  unfinished one at the end, raises ``UnicodeDecodeError``. Empty chunks are
  not yielded.
- :func:`iter_sse`: :class:`ServerSentEvent` objects parsed by the WHATWG
  rules (CR/LF/CRLF line ends, ``data:`` with or without one space, multi-line
  data joined with ``\\n``, ``event``/``id``/``retry``, ``:`` comments, BOM,
  invalid UTF-8 replaced by U+FFFD). ``id`` and ``retry`` carry over to later
  events as the standard's last-event-id and reconnection time do (a
  ``retry`` value of 2**64 ms or more is ignored). An event
  not closed by a blank line when the stream ends is discarded (as the
  standard says). ``data: [DONE]`` ends the iteration unless
  ``stop_at_done=False``; parts after it are not read.
- :func:`iter_tokens`: text deltas of an LLM stream (see the function).

Errors: :class:`StreamFormatError` (a ``ValueError``) for content that does
not fit its format, with subclasses :class:`LineTooLong` and
:class:`EventTooLong` for the optional size limits; :class:`ModelGenerationError`
(a ``RuntimeError``) for an error the model reports inside the stream.

Items a part completed before an error in the same part are yielded before
the error is raised; after an error the iteration is over.

The low-level decoders (:class:`LineDecoder`, :class:`Utf8Decoder`,
:class:`SseDecoder`, :class:`TokenDecoder`) are public too, for code that
drives its own loop: ``feed(part)`` returns what the part completes,
``finish()`` what is left at the end (or raises). When ``feed`` raises, the
items the part completed before the error are on the exception as ``.items``.
"""

from __future__ import annotations

import codecs
from typing import Any, AsyncIterable, AsyncIterator, Callable, Dict, Iterable, Iterator, Optional, Tuple, Union

from sagerun._native import (
    EventTooLong,
    LineDecoder,
    LineTooLong,
    ModelGenerationError,
    ServerSentEvent,
    SseDecoder,
    StreamFormatError,
    TokenDecoder,
    Utf8Decoder,
)
from sagerun._native import drive as _drive
from sagerun._native import payload_bytes as _payload_bytes

__all__ = [
    "EventTooLong",
    "LineDecoder",
    "LineTooLong",
    "ModelGenerationError",
    "ServerSentEvent",
    "SseDecoder",
    "StreamFormatError",
    "TokenDecoder",
    "Utf8Decoder",
    "aiter_bytes",
    "aiter_lines",
    "aiter_sse",
    "aiter_text",
    "aiter_tokens",
    "iter_bytes",
    "iter_lines",
    "iter_sse",
    "iter_text",
    "iter_tokens",
]

#: One part of a stream: its payload, or a boto3-shaped PayloadPart event.
Part = Union[bytes, bytearray, memoryview, Dict[str, Any]]

_RUST_ERRORS = ("strict", "replace", "ignore")
_NOT_PARTS = (bytes, bytearray, memoryview, str)


def _check_parts(parts: Any) -> None:
    if isinstance(parts, _NOT_PARTS):
        raise TypeError(
            f"expected an iterable of parts, not a single {type(parts).__name__}; wrap it: [data]")
    if not hasattr(parts, "__iter__"):
        raise TypeError(f"expected an iterable of parts, not {type(parts).__name__}")


def _check_async_parts(parts: Any) -> None:
    if not hasattr(parts, "__aiter__"):
        hint = " (use the iter_* helper for a plain iterable)" if hasattr(parts, "__iter__") else ""
        raise TypeError(f"expected an async iterable of parts, not {type(parts).__name__}{hint}")


# --- drivers: one loop per item shape, shared by every helper ---------------
# The sync loop over list-returning decoders is _native.drive (the same loop
# as _adrive below, in Rust, without a Python frame per part).

async def _adrive(parts: AsyncIterable[Any], decoder: Any) -> AsyncIterator[Any]:
    """Items of decoders whose feed/finish return lists and that may end early."""
    feed = decoder.feed
    stops = hasattr(decoder, "done")
    async for part in parts:
        try:
            items = feed(part)
        except Exception as error:
            # What the part completed before the error still comes out first.
            for item in getattr(error, "items", ()):
                yield item
            raise
        for item in items:
            yield item
        if stops and decoder.done:
            return
    for item in decoder.finish():
        yield item


def _drive_text(parts: Iterable[Any], decode: Callable[[Any], str], finish: Callable[[], str]) -> Iterator[str]:
    for part in parts:
        text = decode(part)
        if text:
            yield text
    text = finish()
    if text:
        yield text


async def _adrive_text(parts: AsyncIterable[Any], decode: Callable[[Any], str],
                       finish: Callable[[], str]) -> AsyncIterator[str]:
    async for part in parts:
        text = decode(part)
        if text:
            yield text
    text = finish()
    if text:
        yield text


def _payloads(parts: Iterable[Any]) -> Iterator[bytes]:
    for part in parts:
        payload = _payload_bytes(part)
        if payload:
            yield payload


async def _apayloads(parts: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    async for part in parts:
        payload = _payload_bytes(part)
        if payload:
            yield payload


def _text_codec(errors: str) -> Tuple[Callable[[Any], str], Callable[[], str]]:
    """decode(part) and finish() for ``errors``: Rust for strict/replace/ignore,
    Python's own incremental decoder for any other registered handler."""
    if not isinstance(errors, str):
        raise TypeError(f"errors must be a str, not {type(errors).__name__}")
    if errors in _RUST_ERRORS:
        decoder = Utf8Decoder(errors)
        return decoder.feed, decoder.finish
    codecs.lookup_error(errors)  # LookupError now for an unknown handler
    incremental = codecs.getincrementaldecoder("utf-8")(errors)

    def decode(part: Any) -> str:
        payload = _payload_bytes(part)
        return incremental.decode(payload) if payload else ""

    return decode, lambda: incremental.decode(b"", final=True)


# --- the helpers ---------------------------------------------------------------

def iter_bytes(parts: Iterable[Part]) -> Iterator[bytes]:
    """The payload of each part as ``bytes`` (empty payloads skipped)."""
    _check_parts(parts)
    return _payloads(parts)


def iter_lines(parts: Iterable[Part], keepends: bool = False, *,
               max_line_bytes: Optional[int] = None) -> Iterator[bytes]:
    """Lines reassembled across parts, as ``bytes``.

    ``keepends`` keeps each line's ``\\n`` or ``\\r\\n``. ``max_line_bytes``
    (without the terminator) raises :class:`LineTooLong` as soon as a line
    is known to be longer, without buffering it further.
    """
    _check_parts(parts)
    return _drive(parts, LineDecoder(keepends, max_line_bytes))


def iter_text(parts: Iterable[Part], errors: str = "strict") -> Iterator[str]:
    """UTF-8 text across parts, with ``codecs``' incremental-decoder semantics."""
    _check_parts(parts)
    return _drive_text(parts, *_text_codec(errors))


def iter_sse(parts: Iterable[Part], *, stop_at_done: bool = True,
             max_event_bytes: Optional[int] = None) -> Iterator[ServerSentEvent]:
    """Server-sent events reassembled across parts (WHATWG parsing rules).

    ``stop_at_done``: an event whose data is ``[DONE]`` ends the iteration
    (it is not yielded). ``max_event_bytes`` bounds an event's data plus the
    line being read (:class:`EventTooLong`).
    """
    _check_parts(parts)
    return _drive(parts, SseDecoder(stop_at_done, max_event_bytes))


def iter_tokens(parts: Iterable[Part], format: str = "auto", *, skip_special: bool = True,
                max_record_bytes: Optional[int] = None) -> Iterator[str]:
    """The text deltas of an LLM's token stream.

    Framing is recognised from the first non-blank byte (``{``: JSON lines,
    otherwise server-sent events) and the schema from the first record, or
    given as ``format``:

    - ``"tgi"`` (Hugging Face TGI) and ``"lmi"`` (LMI / DJL Serving):
      ``{"token": {"text": ...}}``; tokens flagged ``"special": true`` (TGI)
      or ``"special_token": true`` (LMI), e.g. ``</s>``, are skipped unless
      ``skip_special=False``; records without a token (after the first) are
      skipped;
    - ``"openai"`` (vLLM and other OpenAI-compatible servers):
      ``choices[].delta.content`` (chat) or ``choices[].text`` (completions),
      every choice's delta in record order; ``data: [DONE]`` ends the stream.

    Empty deltas are not yielded. An error reported inside the stream raises
    :class:`ModelGenerationError` (``.message``): an ``error`` field (TGI,
    OpenAI), ``"object": "error"`` (vLLM), ``details.finish_reason ==
    "error"`` (LMI) or an SSE event of type ``error``. A record that is not
    JSON, or a first record without the expected field, raises
    :class:`StreamFormatError`. ``max_record_bytes`` bounds one record.
    """
    _check_parts(parts)
    return _drive(parts, TokenDecoder(format, skip_special, max_record_bytes))


# --- async twins: same decoders, plain async generators (no threads) ----------

def aiter_bytes(parts: AsyncIterable[Part]) -> AsyncIterator[bytes]:
    """:func:`iter_bytes` over an async iterable."""
    _check_async_parts(parts)
    return _apayloads(parts)


def aiter_lines(parts: AsyncIterable[Part], keepends: bool = False, *,
                max_line_bytes: Optional[int] = None) -> AsyncIterator[bytes]:
    """:func:`iter_lines` over an async iterable."""
    _check_async_parts(parts)
    return _adrive(parts, LineDecoder(keepends, max_line_bytes))


def aiter_text(parts: AsyncIterable[Part], errors: str = "strict") -> AsyncIterator[str]:
    """:func:`iter_text` over an async iterable."""
    _check_async_parts(parts)
    return _adrive_text(parts, *_text_codec(errors))


def aiter_sse(parts: AsyncIterable[Part], *, stop_at_done: bool = True,
              max_event_bytes: Optional[int] = None) -> AsyncIterator[ServerSentEvent]:
    """:func:`iter_sse` over an async iterable."""
    _check_async_parts(parts)
    return _adrive(parts, SseDecoder(stop_at_done, max_event_bytes))


def aiter_tokens(parts: AsyncIterable[Part], format: str = "auto", *, skip_special: bool = True,
                 max_record_bytes: Optional[int] = None) -> AsyncIterator[str]:
    """:func:`iter_tokens` over an async iterable."""
    _check_async_parts(parts)
    return _adrive(parts, TokenDecoder(format, skip_special, max_record_bytes))

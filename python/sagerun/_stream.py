"""The ``Body`` of an InvokeEndpointWithResponseStream response."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

from sagerun import streaming
from sagerun._errors import transport_error


class StreamTimings:
    """The timings of a response stream, shared by the sync and the async
    stream bodies: seconds on the clock of ``time.monotonic()`` and
    ``time.perf_counter()`` (so they can be subtracted from your own
    readings), taken in Rust. Needs ``_reader`` (a native
    EventStreamReader) and ``_part_times`` (a list) on the instance."""

    _reader: Any
    _part_times: List[float]

    @property
    def request_sent_at(self) -> float:
        """When the call started (before its first attempt was sent)."""
        return float(self._reader.request_sent_at)

    @property
    def first_byte_at(self) -> float:
        """When the response head arrived."""
        return float(self._reader.first_byte_at)

    @property
    def time_to_first_byte(self) -> float:
        """Seconds from the start of the call to the response head (retries
        included)."""
        return self.first_byte_at - self.request_sent_at

    @property
    def part_times(self) -> List[float]:
        """When each PayloadPart read so far was decoded, in order (the
        times of a batch's parts are there before its first part is
        yielded). Parts are decoded as the stream is read: while the reader
        keeps up, that is as they arrive; parts that queue up while it is
        busy elsewhere are decoded together when it reads again, and the
        parts of one read (what had arrived by then) share one time.
        The same list grows as the stream is read: do not modify it. Costs
        8 bytes per part while the stream lives."""
        times = self._part_times
        times.extend(self._reader.part_times(len(times)))
        return times

    @property
    def time_to_first_part(self) -> Optional[float]:
        """Seconds from the start of the call to the first PayloadPart
        (``None`` before it has been read)."""
        times = self.part_times
        return times[0] - self.request_sent_at if times else None


class EventStream(StreamTimings):
    """Iterates ``{"PayloadPart": {"Bytes": b"..."}}`` events as their frames
    complete. In-stream exceptions raise ``botocore.exceptions.EventStreamError``
    (as boto3 does); a corrupt or truncated stream raises too. Like boto3's
    EventStream it can be iterated once; ``close()`` drops the connection.

    Timings, in seconds on the clock of ``time.monotonic()`` and
    ``time.perf_counter()`` (so they can be subtracted from your own
    readings): ``request_sent_at``, ``first_byte_at``,
    ``time_to_first_byte``, ``part_times`` (one per PayloadPart, taken in
    Rust when its frame was decoded) and ``time_to_first_part``."""

    def __init__(self, reader: Any, raise_event: Callable[[tuple], Exception]):
        self._reader = reader
        reader.raise_events_with(raise_event)
        self._consumed = False
        self._part_times: List[float] = []

    def __iter__(self) -> Iterator[Dict[str, Dict[str, bytes]]]:
        if self._consumed:
            return iter(())
        self._consumed = True
        # A native iterator: one call per event, reading the next batch when
        # the events read are used up; it closes the stream when it ends,
        # fails or is dropped (see _native.EventStreamReader.iterate).
        return self._reader.iterate(transport_error)  # type: ignore[no-any-return]

    def _payloads(self) -> Iterator[bytes]:
        # The body hands out payloads from now on: no event dicts are made
        # for helpers that would only take the bytes out of them.
        self._reader.hand_out_payloads()
        return iter(self)  # type: ignore[arg-type]

    def iter_bytes(self) -> Iterator[bytes]:
        """The raw bytes of each PayloadPart (payloads only). Like the other
        payload helpers, it consumes the body."""
        return self._payloads()

    iter_payload = iter_bytes

    # The payload helpers of sagerun.streaming (decoders in Rust), as methods.

    def iter_lines(self, keepends: bool = False, **options: Any) -> Iterator[bytes]:
        """Lines of the model's output reassembled across PayloadPart
        boundaries (see :func:`sagerun.streaming.iter_lines`): a part may hold
        half a line or several lines; a last line without a newline is
        yielded too; memory is bounded by the longest line."""
        return streaming.iter_lines(self._payloads(), keepends, **options)

    def iter_text(self, errors: str = "strict") -> Iterator[str]:
        """The output as UTF-8 text (a character split across parts is joined)."""
        return streaming.iter_text(self._payloads(), errors)

    def iter_sse(self, **options: Any) -> Iterator[Any]:
        """Server-sent events (TGI, vLLM/OpenAI-style containers)."""
        return streaming.iter_sse(self._payloads(), **options)

    def iter_tokens(self, format: str = "auto", **options: Any) -> Iterator[str]:
        """The text deltas of an LLM token stream (TGI, LMI, OpenAI-style)."""
        return streaming.iter_tokens(self._payloads(), format, **options)

    def close(self) -> None:
        self._consumed = True
        self._reader.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Optional[BaseException]) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<sagerun EventStream>"

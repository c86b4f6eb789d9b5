"""Timings of a response stream, shared by the sync and async stream bodies
(both read them from the same native reader)."""

from __future__ import annotations

from typing import Any, List, Optional


class StreamTimings:
    """Timings, in seconds on the clock of ``time.monotonic()`` and
    ``time.perf_counter()`` (so they can be subtracted from your own
    readings): ``request_sent_at``, ``first_byte_at``,
    ``time_to_first_byte``, ``part_times`` (one per PayloadPart, taken in
    Rust when its frame was decoded) and ``time_to_first_part``. The class
    using it sets ``_reader`` (the native EventStreamReader) and
    ``_part_times`` (an empty list)."""

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
        busy elsewhere are decoded (and timed) together when it reads again.
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

"""Timing of a response stream as it is consumed: time to the first item,
items per second and the number of PayloadParts (shared by ``sagerun demo``
and ``sagerun stream``)."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, TypeVar

T = TypeVar("T")


class StreamStats:
    """Counts the events of a stream body and times the items decoded from
    them. The clock starts when the object is made: make it just before the
    request so the time to the first item includes the round trip."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.parts = 0
        self.items = 0
        self.first_item_at: Optional[float] = None
        self.ended_at: Optional[float] = None
        #: Time to the response head, from a sagerun stream body's own
        #: timings (None for a body without them, such as boto3's).
        self.ttfb_ms: Optional[float] = None

    def count_parts(self, events: Iterable[T]) -> Iterator[T]:
        """The events unchanged, counted (feed this to a decoder)."""
        ttfb = getattr(events, "time_to_first_byte", None)
        if isinstance(ttfb, float):
            self.ttfb_ms = ttfb * 1000.0
        for event in events:
            self.parts += 1
            yield event

    def count_items(self, items: Iterable[T]) -> Iterator[T]:
        """The decoded items unchanged, counted and timed."""
        try:
            for item in items:
                if self.first_item_at is None:
                    self.first_item_at = time.perf_counter()
                self.items += 1
                yield item
        finally:
            self.ended_at = time.perf_counter()

    @property
    def ttft_ms(self) -> Optional[float]:
        if self.first_item_at is None:
            return None
        return (self.first_item_at - self.started) * 1000.0

    @property
    def total_ms(self) -> float:
        end = self.ended_at if self.ended_at is not None else time.perf_counter()
        return (end - self.started) * 1000.0

    @property
    def items_per_s(self) -> Optional[float]:
        """Items after the first, over the time after the first (the rate of
        generation, not counting the wait for the first)."""
        if self.first_item_at is None or self.ended_at is None or self.items < 2:
            return None
        span = self.ended_at - self.first_item_at
        return (self.items - 1) / span if span > 0 else None

    def summary(self) -> Dict[str, Any]:
        return {
            "parts": self.parts,
            "items": self.items,
            "ttft_ms": _rounded(self.ttft_ms),
            "ttfb_ms": _rounded(self.ttfb_ms),
            "total_ms": _rounded(self.total_ms),
            "items_per_s": _rounded(self.items_per_s),
        }

    def describe(self, unit: str = "tokens") -> str:
        return describe(self.summary(), unit)


def describe(summary: Mapping[str, Any], unit: str = "tokens") -> str:
    """One line from :meth:`StreamStats.summary`:
    ``TTFT 3.1 ms, 24 tokens in 950 ms (25.0 tokens/s), 24 PayloadParts``."""
    ttft, rate = summary["ttft_ms"], summary["items_per_s"]
    text = f"TTFT {ttft:.1f} ms" if ttft is not None else "no output"
    if summary.get("ttfb_ms") is not None:
        text += f" (first byte {summary['ttfb_ms']:.1f} ms)"
    text += f", {summary['items']} {unit} in {summary['total_ms']:.0f} ms"
    if rate is not None:
        text += f" ({rate:.1f} {unit}/s)"
    return text + f", {summary['parts']} PayloadParts"


def _rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 2)

"""The ``Body`` of a ``Client.invoke_endpoint`` response: botocore's
``StreamingBody`` (a subclass, so ``isinstance`` checks and every method
behave as boto3's) over a body already read in full in Rust.

botocore's class wraps a raw stream; here that stream, an ``io.BytesIO``, is
only made when something other than one whole ``read()`` needs it, which is
how nearly every response is read: the common call then costs neither the
BytesIO nor botocore's read path, and returns the bytes object itself (as a
BytesIO over it would)."""

from __future__ import annotations

import io
from typing import Optional

from botocore.response import StreamingBody


class InMemoryBody(StreamingBody):
    # Class-level defaults, so that a new body sets two attributes only (a
    # measurable share of a small call): nothing read yet, no stream made.
    _amount_read = 0
    _raw: Optional[io.BytesIO] = None

    def __init__(self, body: bytes) -> None:
        # What StreamingBody(io.BytesIO(body), len(body)) sets, less the stream.
        self._body = body
        self._content_length = len(body)

    @property  # type: ignore[override]
    def _raw_stream(self) -> io.BytesIO:
        """The BytesIO botocore's methods read from, made on first use at the
        position reached so far."""
        raw = self._raw
        if raw is None:
            raw = self._raw = io.BytesIO(self._body)
            raw.seek(self._amount_read)
        return raw

    def read(self, amt: Optional[int] = None) -> bytes:
        if amt is None and self._raw is None:
            # Without a stream, all or nothing has been read so far.
            if self._amount_read:
                return b""
            body = self._body
            self._amount_read = len(body)
            return body
        return super().read(amt)

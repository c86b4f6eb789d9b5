"""The ``Body`` of an InvokeEndpointWithResponseStream response."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

from sagerun import _native
from sagerun._errors import transport_error


class EventStream:
    """Iterates ``{"PayloadPart": {"Bytes": b"..."}}`` events as their frames
    complete. In-stream exceptions raise ``botocore.exceptions.EventStreamError``
    (as boto3 does); a corrupt or truncated stream raises too. Like boto3's
    EventStream it can be iterated once; ``close()`` drops the connection."""

    def __init__(self, reader: Any, raise_event: Callable[[tuple], Exception]):
        self._reader = reader
        self._raise_event = raise_event
        self._consumed = False

    def __iter__(self) -> Iterator[Dict[str, Dict[str, bytes]]]:
        if self._consumed:
            return
        self._consumed = True
        next_batch = self._reader.next_batch
        try:
            while True:
                try:
                    batch: List[Any] = next_batch()
                except _native.TransportError as e:
                    raise transport_error(e) from None
                if not batch:
                    return
                for event in batch:
                    if type(event) is dict:
                        yield event
                    else:
                        raise self._raise_event(event)
        finally:
            self._reader.close()

    def iter_payload(self) -> Iterator[bytes]:
        """The raw bytes of each PayloadPart."""
        for event in self:
            yield event["PayloadPart"]["Bytes"]

    def iter_lines(self, keepends: bool = False) -> Iterator[bytes]:
        """Lines of the model's output reassembled across PayloadPart
        boundaries (a part may hold half a line or several lines; a UTF-8
        character split across parts is rejoined). A last line without a
        newline is yielded too; nothing is buffered beyond one line."""
        pending = b""
        for part in self.iter_payload():
            data = pending + part if pending else part
            start = 0
            while True:
                end = data.find(b"\n", start)
                if end < 0:
                    break
                line = data[start : end + 1]
                yield line if keepends else line.rstrip(b"\r\n")
                start = end + 1
            pending = data[start:]
        if pending:
            yield pending if keepends else pending.rstrip(b"\r")

    def close(self) -> None:
        self._consumed = True
        self._reader.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Optional[BaseException]) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<sagerun EventStream>"

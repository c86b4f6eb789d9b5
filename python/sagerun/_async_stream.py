"""The ``Body`` of an InvokeEndpointWithResponseStream response from
``sagerun.AsyncClient``: an async iterator of ``{"PayloadPart": {"Bytes":
b"..."}}`` events, with the ``sagerun.streaming`` helpers as methods."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Dict, List, Optional

from sagerun import _async_bridge, _native, streaming
from sagerun._errors import transport_error
from sagerun._stream import StreamTimings


class AsyncEventStream(StreamTimings):
    """``async for event in body``: events as their frames complete (a burst
    of frames is read in one hand-over from Rust). In-stream exceptions
    raise ``botocore.exceptions.EventStreamError``, as aiobotocore does; a
    corrupt or truncated stream raises too. Iterable once; ``close()`` (or
    cancelling the task that reads) drops the connection. Timed as the sync
    stream is (``time_to_first_byte``, ``part_times``, ...: see
    :class:`sagerun._stream.StreamTimings`)."""

    def __init__(self, reader: Any, raise_event: Callable[[tuple], Exception]):
        self._reader = reader
        reader.raise_events_with(raise_event)
        self._part_times: List[float] = []
        self._events: Optional[AsyncIterator[Dict[str, Dict[str, bytes]]]] = None

    def __aiter__(self) -> AsyncIterator[Dict[str, Dict[str, bytes]]]:
        if self._events is None:
            self._events = self._read()
        return self._events

    async def __anext__(self) -> Dict[str, Dict[str, bytes]]:
        return await self.__aiter__().__anext__()

    async def _read(self) -> AsyncIterator[Dict[str, Dict[str, bytes]]]:
        reader = self._reader
        try:
            while True:
                # The events already read, made one at a time; close() drops
                # the rest of them (see _native.EventStreamReader).
                for event in reader:
                    yield event
                if not reader.readable:  # the last batch reached the end
                    return
                try:
                    more = await _async_bridge.run(reader.fill_async)
                except _native.TransportError as e:
                    raise transport_error(e) from None
                if not more:
                    return
        finally:
            reader.close()

    # The payload helpers of sagerun.streaming (decoders in Rust), as methods
    # returning async iterators.

    def _payloads(self) -> AsyncIterator[bytes]:
        # The body hands out payloads from now on: no event dicts are made
        # for helpers that would only take the bytes out of them.
        self._reader.hand_out_payloads()
        return self.__aiter__()  # type: ignore[return-value]

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The raw bytes of each PayloadPart."""
        return streaming.aiter_bytes(self._payloads())

    iter_payload = iter_bytes

    def iter_lines(self, keepends: bool = False, **options: Any) -> AsyncIterator[bytes]:
        """Lines reassembled across PayloadPart boundaries (see
        :func:`sagerun.streaming.iter_lines`)."""
        return streaming.aiter_lines(self._payloads(), keepends, **options)

    def iter_text(self, errors: str = "strict") -> AsyncIterator[str]:
        """The output as UTF-8 text (a character split across parts is joined)."""
        return streaming.aiter_text(self._payloads(), errors)

    def iter_sse(self, **options: Any) -> AsyncIterator[Any]:
        """Server-sent events (TGI, vLLM/OpenAI-style containers)."""
        return streaming.aiter_sse(self._payloads(), **options)

    def iter_tokens(self, format: str = "auto", **options: Any) -> AsyncIterator[str]:
        """The text deltas of an LLM token stream (TGI, LMI, OpenAI-style)."""
        return streaming.aiter_tokens(self._payloads(), format, **options)

    def close(self) -> None:
        self._reader.close()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<sagerun AsyncEventStream>"

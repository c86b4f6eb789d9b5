"""The ``Body`` of an InvokeEndpoint response from ``sagerun.AsyncClient``:
the shape of aiobotocore's StreamingBody (``await read(amt)``,
``iter_chunks()``, ``iter_lines()``, ``async with``). The whole body was
read in Rust before the call returned, so reading never waits."""

from __future__ import annotations

from typing import Any, AsyncIterator, List, Optional


class AsyncStreamingBody:
    _DEFAULT_CHUNK_SIZE = 1024

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._amount_read = 0
        self._closed = False

    async def read(self, amt: Optional[int] = None) -> bytes:
        """At most ``amt`` bytes (all that is left when omitted); ``b""`` at the end."""
        start = self._amount_read
        end = len(self._body) if amt is None or amt < 0 else min(len(self._body), start + amt)
        self._amount_read = end
        if start == 0 and end == len(self._body):
            return self._body
        return self._body[start:end]

    async def readinto(self, b: Any) -> int:
        chunk = await self.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)

    def readable(self) -> bool:
        return not self._closed and self._amount_read < len(self._body)

    async def readlines(self) -> List[bytes]:
        return [line async for line in self.iter_lines()]

    async def iter_chunks(self, chunk_size: int = _DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read(chunk_size)
            if not chunk:
                return
            yield chunk

    async def iter_lines(self, chunk_size: int = _DEFAULT_CHUNK_SIZE,
                         keepends: bool = False) -> AsyncIterator[bytes]:
        """Lines of the rest of the body, as aiobotocore's ``iter_lines``."""
        rest = await self.read()
        for line in rest.splitlines(keepends):
            yield line

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_chunks(self._DEFAULT_CHUNK_SIZE)

    async def __anext__(self) -> bytes:
        chunk = await self.read(self._DEFAULT_CHUNK_SIZE)
        if chunk:
            return chunk
        raise StopAsyncIteration

    def tell(self) -> int:
        return self._amount_read

    def close(self) -> None:
        self._closed = True

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncStreamingBody":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Any:
        raise TypeError("AsyncStreamingBody is async; use 'async for'")

    def __enter__(self) -> Any:
        raise TypeError("AsyncStreamingBody is async; use 'async with'")

    def __exit__(self, *exc: Any) -> None:
        raise TypeError("AsyncStreamingBody is async; use 'async with'")

    def __repr__(self) -> str:
        return f"<sagerun AsyncStreamingBody {len(self._body)} bytes>"

"""``sagerun.AsyncClient``: the asyncio twin of ``sagerun.Client``, shaped like
aiobotocore's ``sagemaker-runtime`` client.

    async with sagerun.AsyncClient(region_name="us-east-1") as client:
        r = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        await r["Body"].read()
        r = await client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
        async for token in r["Body"].iter_tokens():
            ...
        async for result in client.invoke_endpoint_many(requests, concurrency=64):
            ...

Requests run as futures on sagerun's process-wide Tokio runtime (no thread
per request, the event loop never blocks) and share one connection pool per
client (``max_pool_connections`` idle connections kept). Cancelling the task
awaiting a call cancels the request in Rust and closes its connection.
Construction, validation, retries, response dicts and exceptions are those
of ``sagerun.Client`` (and boto3's).
"""

from __future__ import annotations

import asyncio
import collections
from typing import (
    Any, AsyncIterable, AsyncIterator, Callable, Deque, Dict, Iterable, Optional, Union,
)

from sagerun import _async_bridge, _native
from sagerun._async_body import AsyncStreamingBody
from sagerun._async_stream import AsyncEventStream
from sagerun._botocore_methods import BotocoreMethods
from sagerun._client_base import ClientBase, _Operation

#: How many results may wait behind a slow earlier one (in input order),
#: as a multiple of ``concurrency``: bounds memory while a slow request
#: holds up the yielding of the ones after it.
_WINDOW_FACTOR = 4


class AsyncClient(ClientBase):
    """Same construction, response dicts and exceptions as
    ``boto3.client("sagemaker-runtime", ...)``; the operations are
    coroutines, as aiobotocore's. Use it from any number of tasks (on one
    event loop or several)."""

    # -- the three operations -------------------------------------------------

    async def invoke_endpoint(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_endpoint_op
        response, body = await self._call(op, args, kwargs, op.native.invoke_async)
        response["Body"] = AsyncStreamingBody(body)
        return response

    async def invoke_endpoint_async(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_async_op
        response, body = await self._call(op, args, kwargs, op.native.invoke_async)
        return self._add_inference_id(response, body)

    async def invoke_endpoint_with_response_stream(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_stream_op
        response, reader = await self._call(op, args, kwargs, op.native.invoke_stream_async)
        response["Body"] = AsyncEventStream(reader, self._stream_errors(op))
        return response

    # -- fan-out ----------------------------------------------------------------

    def invoke_endpoint_many(
        self,
        requests: Union[Iterable[Dict[str, Any]], AsyncIterable[Dict[str, Any]]],
        *,
        concurrency: int = 64,
        return_exceptions: bool = True,
        on_result: Optional[Callable[[int, Any], Any]] = None,
    ) -> AsyncIterator[Any]:
        """``async for result in client.invoke_endpoint_many(requests)``:
        one InvokeEndpoint per keyword dict of ``requests`` (an iterable or
        async iterable, consumed lazily: it may be a generator of millions),
        with up to ``concurrency`` in flight. Results come out in input
        order; memory stays bounded (at most ``concurrency`` requests in
        flight and ``4 * concurrency`` started but not yet yielded, and
        nothing is started while the caller does not ask for results).

        A failed request yields its exception in its place with
        ``return_exceptions`` (the default); without it the first failure
        raises and the requests still in flight are cancelled.
        ``on_result(index, result_or_exception)`` is called as each request
        finishes, in completion order (e.g. for a progress bar)."""
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
        if not (hasattr(requests, "__aiter__") or hasattr(requests, "__iter__")):
            raise TypeError(
                f"requests must be an iterable of keyword dicts, not {type(requests).__name__}")
        return self._many(requests, concurrency, return_exceptions, on_result)

    async def _many(self, requests: Any, concurrency: int, return_exceptions: bool,
                    on_result: Optional[Callable[[int, Any], Any]]) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        source = _requests_source(requests)
        window: Deque["asyncio.Task[Any]"] = collections.deque()
        limit = concurrency * _WINDOW_FACTOR
        progress = asyncio.Event()
        in_flight = 0
        callback_error: Optional[BaseException] = None

        async def one(index: int, kwargs: Any) -> Any:
            nonlocal in_flight, callback_error
            try:
                if not isinstance(kwargs, dict):
                    raise TypeError(
                        f"request {index}: expected a dict of keyword arguments, "
                        f"not {type(kwargs).__name__}")
                result: Any = await self.invoke_endpoint(**kwargs)
                failed = None
            except Exception as error:
                result, failed = error, error
            finally:
                in_flight -= 1
                progress.set()
            if on_result is not None:
                try:
                    on_result(index, result)
                except BaseException as error:  # raised from the iterator, not lost
                    callback_error = error
            if failed is not None:
                raise failed
            return result

        index = 0
        exhausted = False
        try:
            while True:
                while not exhausted and in_flight < concurrency and len(window) < limit:
                    try:
                        kwargs = await source.__anext__()
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    in_flight += 1
                    window.append(loop.create_task(one(index, kwargs)))
                    index += 1
                if callback_error is not None:
                    raise callback_error
                if not window:
                    return
                head = window[0]
                if not head.done():
                    progress.clear()
                    await progress.wait()
                    continue
                window.popleft()
                error = head.exception()
                if error is None:
                    yield head.result()
                elif return_exceptions:
                    yield error
                else:
                    raise error
        finally:
            for task in window:
                if task.done():
                    if not task.cancelled():
                        task.exception()  # retrieved: no "never retrieved" warning
                else:
                    task.cancel()

    # -- internals --------------------------------------------------------------

    async def _call(self, op: _Operation, args: Any, kwargs: Dict[str, Any], send: Any) -> Any:
        """Validates, sends (awaiting the Rust future) and shapes one call:
        (response dict without its payload, payload)."""
        call = self._prepare(op, args, kwargs)
        try:
            answer = await _async_bridge.run(send, op.name, call)
        except _native.TransportError as e:
            raise self._failed(op, call[0], e) from None
        return self._answer(op, call[0], answer)

    # -- lifecycle --------------------------------------------------------------

    async def generate_presigned_url(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        """aiobotocore's: a coroutine (botocore computes the URL, without I/O)."""
        return BotocoreMethods.generate_presigned_url(self, *args, **kwargs)

    async def close(self) -> None:
        """Closes the pool's idle connections and the botocore client used for
        resolution. Calls still in flight finish on their connections; a
        later call opens a new pool."""
        natives = {id(op.native): op.native for op in
                   (self._invoke_endpoint_op, self._invoke_async_op, self._invoke_stream_op)}
        for native in natives.values():
            native.close_async_pool()
        self._botocore_client.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def _requests_source(requests: Any) -> AsyncIterator[Any]:
    """The requests as an async iterator, whether they come sync or async."""
    if hasattr(requests, "__aiter__"):
        async for kwargs in requests:
            yield kwargs
    else:
        for kwargs in requests:
            yield kwargs

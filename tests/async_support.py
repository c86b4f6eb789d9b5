"""Helpers of the AsyncClient tests: running a coroutine under asyncio or
uvloop, and the reference async client they compare with.

The reference is aiobotocore's ``sagemaker-runtime`` client on the same
server when aiobotocore is installed (the ``aio`` extra); otherwise boto3's
client with each call in a worker thread (``asyncio.to_thread``), which
gives the same response dicts and exceptions (aiobotocore is botocore with
an aiohttp transport). ``REFERENCE`` says which one is in use."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Callable, Coroutine, Dict, List, Optional, Tuple

import boto3
from botocore.config import Config

try:
    import aiobotocore.session as _aiobotocore_session
except ImportError:  # the aio extra is not installed
    _aiobotocore_session = None

try:
    import uvloop
except ImportError:
    uvloop = None

REFERENCE = "aiobotocore" if _aiobotocore_session is not None else "boto3-in-thread"
LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(coroutine: Callable[[], Coroutine[Any, Any, Any]], loop: str = "asyncio") -> Any:
    """Runs ``coroutine()`` to its end on a fresh event loop of that kind."""
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine())


class _ThreadedBoto3:
    """boto3's client behind coroutines (each call, and each body read, in a
    worker thread)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._client, method)

        async def invoke(**kwargs: Any) -> Any:
            return await asyncio.to_thread(call, **kwargs)

        return invoke


@contextlib.asynccontextmanager
async def reference_client(client_kwargs: Dict[str, Any],
                           config: Optional[Config] = None) -> AsyncIterator[Any]:
    """The reference client for a server (``LocalRuntime.client_kwargs()``)."""
    if _aiobotocore_session is not None:
        session = _aiobotocore_session.get_session()
        async with session.create_client("sagemaker-runtime", config=config, **client_kwargs) as c:
            yield c
    else:
        yield _ThreadedBoto3(boto3.client("sagemaker-runtime", config=config, **client_kwargs))


async def read_body(body: Any) -> bytes:
    """An InvokeEndpoint Body read whole: ours and aiobotocore's are
    awaitable, boto3's is read in a thread."""
    data = body.read()
    if asyncio.iscoroutine(data):
        return await data
    return data


async def read_events(stream: Any) -> Tuple[List[Any], Optional[BaseException]]:
    """A response stream's events, and the exception that ended it if any."""
    events: List[Any] = []
    if not hasattr(stream, "__aiter__"):
        def collect() -> Optional[BaseException]:
            try:
                for event in stream:
                    events.append(event)
            except Exception as error:  # returned for comparison
                return error
            return None
        return events, await asyncio.to_thread(collect)
    try:
        async for event in stream:
            events.append(event)
    except Exception as error:  # returned for comparison
        return events, error
    return events, None


async def outcome(call: Coroutine[Any, Any, Any]) -> Tuple[Optional[Any], Optional[BaseException]]:
    """(result, None) or (None, the exception raised)."""
    try:
        return await call, None
    except Exception as error:
        return None, error

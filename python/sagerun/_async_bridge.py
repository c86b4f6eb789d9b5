"""Awaiting native calls from asyncio: a native call runs as a task of the
process-wide Tokio runtime (no thread per request) and settles an asyncio
future through the running loop's ``CompletionQueue`` (one per loop: a
socket the loop watches with ``add_reader``, drained in batches)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Dict

from sagerun import _native

_queues: Dict[Any, Any] = {}
# A forked child must not share its parent's queues (their sockets are shared).
os.register_at_fork(after_in_child=_queues.clear)


def _queue_for(loop: asyncio.AbstractEventLoop) -> Any:
    queue = _queues.get(loop)
    if queue is None:
        # Forget the queues of loops that were closed since.
        for old in [old for old in _queues if old.is_closed()]:
            del _queues[old]
        queue = _native.CompletionQueue()
        loop.add_reader(queue.fileno(), queue.drain)
        _queues[loop] = queue
    return queue


async def run(start: Callable[..., Any], *args: Any) -> Any:
    """Starts a native call, ``start(queue, future, *args)``, and awaits its
    result. Cancelling the awaiting task cancels the call: its Rust future
    is dropped and its connection closed (never returned to the pool
    half-read)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    call = start(_queue_for(loop), future, *args)
    try:
        return await future
    except asyncio.CancelledError:
        call.cancel()
        raise

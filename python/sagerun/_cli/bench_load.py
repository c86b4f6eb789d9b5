"""The load engine behind ``sagerun bench`` and ``benches/run.py``: what a
load recorded, and the *drivers* that generate it.

A driver is ``driver(load, requests, concurrency, recorder)``: it sends
``requests`` requests, at most ``concurrency`` at once, and records each
outcome. What ``load`` is depends on the driver:

- :func:`run_threads`: a :data:`Call` (one blocking request), run by
  ``concurrency`` threads;
- :func:`run_asyncio`: an :data:`AsyncOpener` (opens a client inside the
  event loop and gives back one awaitable request), run by ``concurrency``
  asyncio tasks;
- :func:`run_many`: a :data:`FanOut` (sends N requests at a concurrency
  itself, e.g. through ``Client.invoke_endpoint_many``, and yields each
  outcome in input order).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from typing import (
    AsyncContextManager, Awaitable, Callable, ContextManager, Iterable, List, Mapping, Optional,
    Protocol, Tuple, Type,
)

__all__ = [
    "Call", "AsyncCall", "AsyncOpener", "FanOut", "Driver", "Recorder", "error_code", "fatal_errors",
    "run_one", "run_threads", "run_asyncio", "run_many", "run_load", "DRIVERS", "ProgressDisplay",
]

#: One request; returns the seconds to the first event for a stream, else None.
Call = Callable[[], Optional[float]]
AsyncCall = Callable[[], Awaitable[Optional[float]]]
#: Opens a client in the running event loop; yields the request to repeat.
AsyncOpener = Callable[[], AsyncContextManager[AsyncCall]]
#: ``fan_out(requests, concurrency)``: each outcome in input order, None for a success.
FanOut = Callable[[int, int], Iterable[Optional[BaseException]]]
Driver = Callable[..., None]
Fatal = Tuple[Type[BaseException], ...]


def error_code(exc: BaseException) -> str:
    """The service's error code when the exception carries a response
    (botocore's ClientError, EventStreamError), else its type's name."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def fatal_errors() -> Fatal:
    """Failures that would repeat on every request: stop the load at once."""
    from botocore.exceptions import (
        NoCredentialsError, NoRegionError, ParamValidationError, PartialCredentialsError,
    )

    return (ParamValidationError, NoCredentialsError, PartialCredentialsError, NoRegionError)


class Recorder:
    """What a load produced, written to by every worker at once: latencies
    (list appends need no lock), failures by code (under a lock; rare), and
    the first fatal error, which tells the drivers to stop. The progress
    display reads ``completed`` and ``failures`` while the load runs.

    A driver that cannot time single requests (a fan-out gives results in
    input order, not as each finishes) records successes without a latency."""

    def __init__(self) -> None:
        self.latencies: List[float] = []
        self.first_events: List[float] = []
        self.untimed = 0  # successes without a latency (written by one thread only)
        self.errors: "Counter[str]" = Counter()
        self.failures = 0
        self.fatal: Optional[BaseException] = None
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.restart_clock()
        self._lock = threading.Lock()

    def restart_clock(self) -> None:
        """Starts the load's wall and CPU clocks now: a driver that must
        open its client first (an async client lives in its event loop)
        calls this once the client is open, so opening it is not timed."""
        self.started_at = time.perf_counter()
        self.cpu_started_at = time.process_time()

    def stop_clock(self) -> None:
        self.seconds = time.perf_counter() - self.started_at
        self.cpu_seconds = time.process_time() - self.cpu_started_at

    def succeeded(self, latency: Optional[float], first_event: Optional[float]) -> None:
        if latency is None:
            self.untimed += 1
        else:
            self.latencies.append(latency)
        if first_event is not None:
            self.first_events.append(first_event)

    def failed(self, code: str) -> None:
        with self._lock:
            self.errors[code] += 1
            self.failures += 1

    def abort(self, exc: BaseException) -> None:
        with self._lock:
            if self.fatal is None:
                self.fatal = exc

    def outcome(self, exc: BaseException, fatal: Fatal) -> None:
        """Records a failed request: fatal ones stop the load."""
        if isinstance(exc, fatal):
            self.abort(exc)
        else:
            self.failed(error_code(exc))

    @property
    def aborted(self) -> bool:
        return self.fatal is not None

    @property
    def ok(self) -> int:
        return len(self.latencies) + self.untimed

    @property
    def completed(self) -> int:
        return self.ok + self.failures


def run_one(call: Call, recorder: Recorder, fatal: Fatal) -> None:
    """Times one request and records its outcome (the thread driver's step)."""
    start = time.perf_counter()
    try:
        first_event = call()
    except Exception as e:  # noqa: BLE001 - any failure is a measured outcome
        recorder.outcome(e, fatal)
        return
    recorder.succeeded(time.perf_counter() - start, first_event)


async def _run_one_async(call: AsyncCall, recorder: Recorder, fatal: Fatal) -> None:
    start = time.perf_counter()
    try:
        first_event = await call()
    except Exception as e:  # noqa: BLE001 - any failure is a measured outcome
        recorder.outcome(e, fatal)
        return
    recorder.succeeded(time.perf_counter() - start, first_event)


def run_threads(call: Call, requests: int, concurrency: int, recorder: Recorder) -> None:
    """The thread driver: ``concurrency`` threads take requests from one
    counter until ``requests`` have been taken."""
    fatal = fatal_errors()
    tickets = itertools.count()
    lock = threading.Lock()

    def worker() -> None:
        while not recorder.aborted:
            with lock:
                ticket = next(tickets)
            if ticket >= requests:
                return
            run_one(call, recorder, fatal)

    threads = [threading.Thread(target=worker, name=f"sagerun-bench-{i}", daemon=True)
               for i in range(min(concurrency, requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_asyncio(opener: AsyncOpener, requests: int, concurrency: int, recorder: Recorder) -> None:
    """The asyncio driver: one event loop in this thread, ``concurrency``
    tasks taking requests from one shared ticket iterator."""
    fatal = fatal_errors()

    async def main() -> None:
        async with opener() as call:
            recorder.restart_clock()
            tickets = iter(range(requests))  # one loop, one thread: next() needs no lock

            async def worker() -> None:
                for _ in tickets:
                    if recorder.aborted:
                        return
                    await _run_one_async(call, recorder, fatal)

            await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
            recorder.stop_clock()  # before the client closes

    asyncio.run(main())


def run_many(fan_out: FanOut, requests: int, concurrency: int, recorder: Recorder) -> None:
    """The fan-out driver: the library schedules the requests itself; this
    records each outcome as the results come back in input order."""
    fatal = fatal_errors()
    outcomes = fan_out(requests, concurrency)
    try:
        for outcome in outcomes:
            if outcome is None:
                recorder.succeeded(None, None)
            else:
                recorder.outcome(outcome, fatal)
            if recorder.aborted:
                return
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()  # stops a generator left early (and what it drives)


DRIVERS: "dict[str, Driver]" = {"threads": run_threads, "async": run_asyncio, "many": run_many}


class ProgressDisplay(Protocol):
    def showing(self, recorder: Recorder) -> ContextManager[None]: ...


def run_load(driver: Driver, load: object, requests: int, concurrency: int,
             progress: Optional[ProgressDisplay] = None) -> Recorder:
    """Runs one load; raises the fatal error if the load was stopped by one.
    ``progress`` displays the load while it runs."""
    recorder = Recorder()
    if progress is None:
        driver(load, requests, concurrency, recorder)
    else:
        with progress.showing(recorder):
            driver(load, requests, concurrency, recorder)
    if not recorder.seconds:  # unless the driver stopped the clock itself
        recorder.stop_clock()
    if recorder.fatal is not None:
        raise recorder.fatal
    return recorder

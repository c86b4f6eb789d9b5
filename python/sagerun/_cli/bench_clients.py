"""What one benchmarked request is, for each client and driver: the load
that a driver of :mod:`sagerun._cli.bench_load` repeats.

A client is described by a :class:`ClientSpec` (the same keyword arguments
for sagerun, boto3 and aiobotocore) so that ``sagerun bench`` and the
benchmark sweep in ``benches/`` open their clients the same way.
"""

from __future__ import annotations

import itertools
import time
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, Iterator, Mapping, Optional

from sagerun._cli.bench_load import AsyncCall, Call, FanOut
from sagerun._cli.stream_stats import StreamStats

__all__ = ["ClientSpec", "CLIENTS_BY_DRIVER", "unavailable", "open_load"]

#: Which clients each driver can run: sagerun first, then its reference.
CLIENTS_BY_DRIVER: Mapping[str, "tuple[str, ...]"] = {
    "threads": ("sagerun", "boto3"),
    "async": ("sagerun", "aiobotocore"),
    "many": ("sagerun",),
}


@dataclass(frozen=True)
class ClientSpec:
    """Where and how to connect; ``concurrency`` sizes the connection pool."""

    region_name: Optional[str] = None
    endpoint_url: Optional[str] = None
    profile_name: Optional[str] = None
    aws_access_key_id: Optional[str] = None
    aws_secret_access_key: Optional[str] = None
    max_attempts: Optional[int] = None
    concurrency: int = 10

    def config(self, aio: bool = False) -> Any:
        options: Dict[str, Any] = {"max_pool_connections": self.concurrency}
        if self.max_attempts is not None:
            options["retries"] = {"total_max_attempts": self.max_attempts}
        if aio:
            from aiobotocore.config import AioConfig

            return AioConfig(**options)
        from botocore.config import Config

        return Config(**options)

    def keys(self) -> Dict[str, Any]:
        return {"aws_access_key_id": self.aws_access_key_id,
                "aws_secret_access_key": self.aws_secret_access_key}


def unavailable(kind: str, driver: str) -> Optional[str]:
    """Why ``kind`` cannot run under ``driver`` here (None: it can)."""
    if kind not in CLIENTS_BY_DRIVER.get(driver, ()):
        return f"the {driver} driver runs {' and '.join(CLIENTS_BY_DRIVER[driver])}, not {kind}"
    import sagerun

    if kind == "sagerun" and driver == "async" and not hasattr(sagerun, "AsyncClient"):
        return "sagerun.AsyncClient is not in this build of sagerun yet"
    if kind == "sagerun" and driver == "many" and not hasattr(sagerun.Client, "invoke_endpoint_many"):
        return "Client.invoke_endpoint_many is not in this build of sagerun yet"
    module = {"boto3": "boto3", "aiobotocore": "aiobotocore"}.get(kind)
    if module is not None:
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install 'sagerun[bench]')"
    return None


@contextmanager
def open_load(kind: str, driver: str, spec: ClientSpec, request: Dict[str, Any],
              stream: bool = False) -> Iterator[Any]:
    """The load ``driver`` repeats for client ``kind``; its client is closed
    on exit (an async client lives inside the driver's event loop)."""
    if driver == "async":
        yield _async_opener(kind, spec, request, stream)
        return
    client = _sync_client(kind, spec)
    try:
        if driver == "many":
            if stream:
                raise ValueError("the many driver sends InvokeEndpoint only, not response streams")
            yield _fan_out(client, request)
        else:
            yield (_stream_call if stream else _invoke_call)(client, request)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def _sync_client(kind: str, spec: ClientSpec) -> Any:
    if kind == "sagerun":
        import sagerun

        return sagerun.Client(region_name=spec.region_name, endpoint_url=spec.endpoint_url,
                              profile_name=spec.profile_name, config=spec.config(), **spec.keys())
    import boto3

    session = boto3.Session(profile_name=spec.profile_name, **spec.keys())
    return session.client("sagemaker-runtime", region_name=spec.region_name,
                          endpoint_url=spec.endpoint_url, config=spec.config())


def _invoke_call(client: Any, request: Dict[str, Any]) -> Call:
    def call() -> None:
        client.invoke_endpoint(**request)["Body"].read()

    return call


def _stream_call(client: Any, request: Dict[str, Any]) -> Call:
    """A response stream read to its end; returns the time to its first event."""
    def call() -> Optional[float]:
        stats = StreamStats()
        response = client.invoke_endpoint_with_response_stream(**request)
        with closing(response["Body"]) as events:
            for _ in stats.count_items(events):
                pass
        return None if stats.ttft_ms is None else stats.ttft_ms / 1000.0

    return call


def _fan_out(client: Any, request: Dict[str, Any]) -> FanOut:
    """``Client.invoke_endpoint_many`` over ``requests`` copies of the request;
    each body is read as its result comes back."""
    def fan_out(requests: int, concurrency: int) -> Iterator[Optional[BaseException]]:
        results = client.invoke_endpoint_many(itertools.repeat(request, requests),
                                              concurrency=concurrency, return_exceptions=True)
        try:
            for result in results:
                yield result if isinstance(result, BaseException) else _read(result)
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # left early (a fatal error): cancel what is still running

    return fan_out


def _read(response: Dict[str, Any]) -> Optional[BaseException]:
    try:
        response["Body"].read()
    except Exception as e:  # noqa: BLE001 - a failed read is this request's outcome
        return e
    return None


def _async_opener(kind: str, spec: ClientSpec, request: Dict[str, Any], stream: bool) -> Any:
    @asynccontextmanager
    async def opener() -> AsyncIterator[AsyncCall]:
        async with _async_client(kind, spec) as client:
            yield _async_stream_call(client, request) if stream else _async_invoke_call(client, request)

    return opener


def _async_client(kind: str, spec: ClientSpec) -> Any:
    """An async context manager giving the client (sagerun's or aiobotocore's)."""
    if kind == "sagerun":
        import sagerun

        return sagerun.AsyncClient(region_name=spec.region_name, endpoint_url=spec.endpoint_url,  # type: ignore[attr-defined]
                                   profile_name=spec.profile_name, config=spec.config(), **spec.keys())
    from aiobotocore.session import AioSession

    session = AioSession(profile=spec.profile_name)
    return session.create_client("sagemaker-runtime", region_name=spec.region_name,
                                 endpoint_url=spec.endpoint_url, config=spec.config(aio=True),
                                 **spec.keys())


def _async_invoke_call(client: Any, request: Dict[str, Any]) -> AsyncCall:
    async def call() -> None:
        response = await client.invoke_endpoint(**request)
        await response["Body"].read()

    return call


def _async_stream_call(client: Any, request: Dict[str, Any]) -> AsyncCall:
    async def call() -> Optional[float]:
        start, first_event = time.perf_counter(), None
        response = await client.invoke_endpoint_with_response_stream(**request)
        async for _ in response["Body"]:
            if first_event is None:
                first_event = time.perf_counter() - start
        return first_event

    return call

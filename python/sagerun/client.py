"""``sagerun.Client``: a drop-in for boto3's ``sagemaker-runtime`` client whose
requests are built, signed, sent and read in Rust.

    import sagerun
    client = sagerun.Client(region_name="us-east-1")       # boto3's arguments
    r = client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    r["Body"].read()
    for event in client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]:
        event["PayloadPart"]["Bytes"]

Region, credentials, endpoint URL, retries (``adaptive`` mode's client-side
rate limiter and ``x-amz-retry-after`` included), timeouts, proxies
(``https://`` ones and ``proxies_config`` too), CA bundle and ``client_cert``
resolve through botocore exactly as for boto3 (one botocore client is built
for that and never sends). Responses and exceptions are boto3's. Where it
differs on purpose: default read timeout 70 s and a pool of 128 idle
connections per thread (botocore: 60 s, 10); a truncated or corrupt event
stream raises (botocore stops silently); patterns, maximum lengths and control
characters in header members are checked before sending; an https:// proxy
is checked against the CA bundles even for http:// targets (botocore does
not check it then). Not supported: botocore event hooks on this client
(``meta.events`` are not emitted).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Union

from sagerun import _many, _native
from sagerun._body import InMemoryBody
from sagerun._client_base import ClientBase, _Operation
from sagerun._stream import EventStream


class Client(ClientBase):
    """Same construction, methods, response dicts and exceptions as
    ``boto3.client("sagemaker-runtime", ...)``. Safe to share across threads.

    Picklable (as AsyncClient): the copy is rebuilt from the constructor
    arguments (see ``sagerun._pickling``); keys passed as
    ``aws_access_key_id=``/... are in the pickle in clear, credentials from
    the credential chain never are (the copy resolves them again), a
    ``session=`` pickles as its profile."""

    # -- the three operations -------------------------------------------------

    def invoke_endpoint(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_endpoint_op
        response, body = self._call(op, args, kwargs, op.native.invoke)
        response["Body"] = InMemoryBody(body)
        return response

    def invoke_endpoint_async(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_async_op
        response, body = self._call(op, args, kwargs, op.native.invoke)
        return self._add_inference_id(response, body)

    def invoke_endpoint_with_response_stream(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        op = self._invoke_stream_op
        response, reader = self._call(op, args, kwargs, op.native.invoke_stream)
        response["Body"] = EventStream(reader, self._stream_errors(op))
        return response

    def invoke_endpoint_many(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = 64,
        return_exceptions: bool = True,
        on_result: Optional[Callable[[int, Union[Dict[str, Any], Exception]], Any]] = None,
    ) -> Iterator[Union[Dict[str, Any], Exception]]:
        """Runs ``invoke_endpoint(**request)`` for every request, up to
        ``concurrency`` at once, as futures in Rust (no Python threads; the GIL
        is released while the batch waits), over this client's pooled
        connections. Calls start in input order (with ``concurrency=1``,
        one after another). ``concurrency`` is at most 65536 (each call in
        flight holds its own connection).

        Returns an iterator of the results **in input order**: each is what
        ``invoke_endpoint`` would return (the response dict, ``Body`` a
        StreamingBody already read into memory) or, with
        ``return_exceptions=True``, the exception it would raise, in its
        place (``ParamValidationError`` of one request included: it is that
        request's result, sent nothing). With ``return_exceptions=False``
        the first failure in input order is raised by the iterator, after the
        results before it, and the calls still running are dropped.

        ``requests`` (mappings of invoke_endpoint's keyword arguments) is
        consumed lazily and may be endless: at most ``concurrency`` requests
        are in flight and ``4 * concurrency`` pulled but not yet yielded at
        any time (the rest wait for a permit or, finished, for a slower
        earlier one: a slow request holds up the pulling of new ones once
        that window is full), and none is pulled while the caller does not
        ask for results. The batch starts when the iterator is first
        advanced; stopping the iteration (or closing it) cancels what is
        still running.

        ``on_result(index, result)`` is called once per request as it
        finishes (completion order, 0-based input index, from the iterating
        thread), for progress reporting; an exception it raises ends the
        iteration.
        """
        return _many.invoke_endpoint_many(self, requests, concurrency, return_exceptions, on_result)

    # -- internals --------------------------------------------------------------

    def _call(self, op: _Operation, args: Any, kwargs: Dict[str, Any], send: Any) -> Any:
        """Validates, sends (blocking, the GIL released) and shapes one call:
        (response dict without its payload, payload)."""
        call = self._prepare(op, args, kwargs)
        try:
            answer = send(op.name, call)
        except _native.TransportError as e:
            raise self._failed(op, call[0], e) from None
        return self._answer(op, call[0], answer)

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        """Closes the botocore client used for resolution. Pooled connections
        close when the client is garbage-collected."""
        self._botocore_client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

"""``Client.invoke_endpoint_many``: a batch of InvokeEndpoint calls run
concurrently in Rust (futures on the process-wide Tokio runtime, not Python
threads). Python only validates each request and shapes each result, a
batch at a time; it waits for the calls with the GIL released.

The fan-out engine (concurrency limit, completion queue, reorder window) is
``sagerun_client::many`` in Rust; ``_native.ManyRun`` carries one batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from sagerun import _native
from sagerun._body import InMemoryBody
from sagerun._errors import transport_error

if TYPE_CHECKING:
    from sagerun.client import Client, _Operation

#: What one item of the batch gives: the response dict of
#: ``invoke_endpoint(**request)``, or the exception that call would raise.
Result = Union[Dict[str, Any], Exception]
OnResult = Callable[[int, Result], Any]

#: Each call in flight holds a connection of its own, to one host: more
#: than the ports of one address could not be open at once.
MAX_CONCURRENCY = 65536

#: Requests pulled but not yet yielded, at most, per unit of concurrency
#: (the same bound as AsyncClient.invoke_endpoint_many's).
WINDOW_FACTOR = 4

_NOT_READY: Any = object()

# How long one wait for results lasts before Python gets control back (to
# run signal handlers: Ctrl-C stops a batch within this time).
_WAIT_SECONDS = 0.1


def invoke_endpoint_many(
    client: "Client",
    requests: Iterable[Mapping[str, Any]],
    concurrency: int,
    return_exceptions: bool,
    on_result: Optional[OnResult],
) -> Iterator[Result]:
    """See :meth:`sagerun.Client.invoke_endpoint_many`. Arguments are
    checked now; the batch starts when the iterator is first advanced."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    if concurrency > MAX_CONCURRENCY:
        raise ValueError(
            f"concurrency must be at most {MAX_CONCURRENCY} (each request in flight holds "
            f"its own connection to the endpoint), not {concurrency}")
    if on_result is not None and not callable(on_result):
        raise TypeError("on_result must be callable(index, result) or None")
    items = iter(requests)
    return _run(client, items, concurrency, return_exceptions, on_result)


def _run(
    client: "Client",
    items: Iterator[Any],
    concurrency: int,
    return_exceptions: bool,
    on_result: Optional[OnResult],
) -> Iterator[Result]:
    op = client._invoke_endpoint_op
    # At most WINDOW_FACTOR * concurrency requests are pulled from `items`
    # and not yet yielded (see the method's docstring).
    run = _native.ManyRun(op.native, op.name, concurrency=concurrency,
                          window=(WINDOW_FACTOR - 1) * concurrency)
    ready: Dict[int, Result] = {}  # finished, waiting for their turn
    next_out = 0
    exhausted = False
    source_error: Optional[BaseException] = None
    shape = _shaper(client, op)
    try:
        while True:
            while True:
                result = ready.pop(next_out, _NOT_READY)
                if result is _NOT_READY:
                    break
                next_out += 1
                if not return_exceptions and isinstance(result, BaseException):
                    raise result
                yield result
            room = run.capacity
            if room and not exhausted:
                try:
                    exhausted = _submit(client, op, run, items, room, ready, on_result)
                except _SourceFailed as failed:
                    # Raised after the results of the requests before it,
                    # as a plain loop over `requests` would.
                    exhausted, source_error = True, failed.error
                continue
            if exhausted and not run.pending:
                if source_error is not None:
                    raise source_error
                return
            for index, outcome in run.next_completed(_WAIT_SECONDS):
                result = shape(outcome)
                if on_result is not None:
                    on_result(index, result)
                ready[index] = result
    finally:
        # Stops what is still running (also when the caller stops iterating).
        run.close()


def _submit(
    client: "Client",
    op: "_Operation",
    run: Any,
    items: Iterator[Any],
    room: int,
    ready: Dict[int, Result],
    on_result: Optional[OnResult],
) -> bool:
    """Pulls up to `room` requests, validates them and starts the valid ones;
    an invalid one gets its exception as its result at once. True when
    `items` is exhausted."""
    prepared: List[Optional[Tuple[str, Any, bytes]]] = []
    failed: List[Tuple[int, Exception]] = []
    exhausted = False
    source_error: Optional[BaseException] = None
    validate = op.validate
    for _ in range(room):
        try:
            request = next(items)
        except StopIteration:
            exhausted = True
            break
        except Exception as e:  # the requests' iterator itself failed
            source_error = e
            break
        try:
            prepared.append(validate(request if type(request) is dict else _keyword_dict(request)))
        except Exception as e:  # what invoke_endpoint(**request) would raise
            failed.append((len(prepared), e))
            prepared.append(None)
    if not prepared:
        if source_error is not None:
            raise _SourceFailed(source_error)
        return exhausted
    try:
        credentials = client._frozen_credentials()
    except Exception as e:  # NoCredentialsError, a failed refresh: every call raises it
        for position, item in enumerate(prepared):
            if item is not None:
                failed.append((position, e))
                prepared[position] = None
        failed.sort(key=lambda f: f[0])
        access_key, secret_key, token = "", "", None
    else:
        access_key, secret_key, token = credentials.access_key, credentials.secret_key, credentials.token
    first = run.submit(prepared, access_key, secret_key, token)
    for position, error in failed:
        ready[first + position] = error
        if on_result is not None:
            on_result(first + position, error)
    if source_error is not None:
        raise _SourceFailed(source_error)
    return exhausted


class _SourceFailed(Exception):
    """Carries an exception raised by the requests' iterator out of _submit
    (after the requests pulled before it were started)."""

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error


def _keyword_dict(request: Any) -> Dict[str, Any]:
    if type(request) is dict:
        return request
    if isinstance(request, Mapping):
        return dict(request)
    raise TypeError(
        "invoke_endpoint_many: each request must be a mapping of invoke_endpoint's "
        f"keyword arguments, not {type(request).__name__}"
    )


def _shaper(client: "Client", op: "_Operation") -> Callable[[Any], Result]:
    """The function giving what invoke_endpoint would have returned (or
    raised) for an outcome of ManyRun.next_completed (names bound once: it
    runs once per request)."""
    service_error, model = client._errors.service_error, op.model
    TransportError = _native.TransportError

    def result(outcome: Any) -> Result:
        if type(outcome) is tuple:
            status, response, body = outcome
            if status >= 300:
                return service_error(model, response["ResponseMetadata"], body)
            response["Body"] = InMemoryBody(body)
            return response
        if isinstance(outcome, TransportError):
            return transport_error(outcome)
        error: Exception = outcome  # one already (a task that failed inside sagerun)
        return error

    return result

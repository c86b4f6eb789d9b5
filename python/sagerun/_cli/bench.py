"""``sagerun bench``: a load test of one endpoint through ``sagerun.Client``,
optionally beside boto3 under the same load.

    sagerun bench my-ep --requests 2000 --concurrency 16 --endpoint-url http://127.0.0.1:8080
    sagerun bench my-llm --stream --requests 200 --concurrency 8 --compare boto3
    sagerun bench my-ep --requests 500 --body @request.json --json

N requests run over C threads that share one client (with ``--stream``, each
response stream is read to its end). Reported: requests/s, latency
percentiles of the successful requests, CPU per request, and failures by
error code (``e.response["Error"]["Code"]``, else the exception's type).
Exit status: 0 when every request succeeded, 1 when some failed (the
summary is printed all the same), 2 for bad input or a load that cannot run
(a bad parameter, no credentials, no region).

How the load is generated is a *driver*: ``driver(call, requests,
concurrency, recorder)`` runs ``call`` ``requests`` times, at most
``concurrency`` at once, each through :func:`run_one`. Threads are the only
driver today; an asyncio or fan-out driver plugs in beside them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from typing import IO, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from sagerun._cli.invoke import read_body
from sagerun._cli.stream_stats import StreamStats

__all__ = [
    "add_parser", "run_bench", "run_threads", "run_one", "run_load", "Recorder", "error_code",
    "summarize",
]

#: One request; returns the seconds to the first event for a stream, else None.
Call = Callable[[], Optional[float]]
CLIENTS = ("sagerun", "boto3")
PERCENTILES = (50, 90, 99)
#: One thread per concurrent request: beyond this, use an async driver.
MAX_THREADS = 1024


def error_code(exc: BaseException) -> str:
    """The service's error code when the exception carries a response
    (botocore's ClientError, EventStreamError), else its type's name."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def _fatal_errors() -> "tuple[type[BaseException], ...]":
    """Failures that would repeat on every request: stop the load at once."""
    from botocore.exceptions import (
        NoCredentialsError, NoRegionError, ParamValidationError, PartialCredentialsError,
    )

    return (ParamValidationError, NoCredentialsError, PartialCredentialsError, NoRegionError)


class Recorder:
    """What a load produced, written to by every worker at once: latencies
    (list appends need no lock), failures by code (under a lock; rare), and
    the first fatal error, which tells the drivers to stop. The progress
    line reads ``completed`` and ``failures`` while the load runs."""

    def __init__(self) -> None:
        self.latencies: List[float] = []
        self.first_events: List[float] = []
        self.errors: "Counter[str]" = Counter()
        self.failures = 0
        self.fatal: Optional[BaseException] = None
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self._lock = threading.Lock()

    def succeeded(self, latency: float, first_event: Optional[float]) -> None:
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

    @property
    def aborted(self) -> bool:
        return self.fatal is not None

    @property
    def completed(self) -> int:
        return len(self.latencies) + self.failures


def run_one(call: Call, recorder: Recorder, fatal: "tuple[type[BaseException], ...]") -> None:
    """Times one request and records its outcome (the drivers' common step)."""
    start = time.perf_counter()
    try:
        first_event = call()
    except fatal as e:
        recorder.abort(e)
        return
    except Exception as e:  # noqa: BLE001 - any failure is a measured outcome
        recorder.failed(error_code(e))
        return
    recorder.succeeded(time.perf_counter() - start, first_event)


def run_threads(call: Call, requests: int, concurrency: int, recorder: Recorder) -> None:
    """The thread driver: ``concurrency`` threads take requests from one
    counter until ``requests`` have been taken."""
    fatal = _fatal_errors()
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


Driver = Callable[[Call, int, int, Recorder], None]


class Progress:
    """A live ``\\r`` line on ``out`` while a load runs, redrawn a few times
    a second; nothing at all when ``out`` is not a terminal."""

    def __init__(self, label: str, total: int, out: IO[str], interval: float = 0.2) -> None:
        self.label = label
        self.total = total
        self.out = out
        self.interval = interval
        self.enabled = out.isatty()

    @contextmanager
    def showing(self, recorder: Recorder) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        done = threading.Event()
        started = time.perf_counter()

        def draw() -> None:
            while not done.wait(self.interval):
                self._write(recorder, time.perf_counter() - started)

        painter = threading.Thread(target=draw, daemon=True)
        painter.start()
        try:
            yield
        finally:
            done.set()
            painter.join()
            self.out.write("\r\x1b[K")  # clear the line for what follows
            self.out.flush()

    def _write(self, recorder: Recorder, elapsed: float) -> None:
        completed, failed = recorder.completed, recorder.failures
        rate = completed / elapsed if elapsed > 0 else 0.0
        self.out.write(f"\r{self.label}: {completed}/{self.total} requests, "
                       f"{failed} failed, {rate:,.0f} req/s\x1b[K")  # erase a longer last line
        self.out.flush()


def run_load(driver: Driver, call: Call, requests: int, concurrency: int,
             progress: Optional[Progress] = None) -> Recorder:
    """Runs one load; raises the fatal error if the load was stopped by one."""
    recorder = Recorder()
    cpu_start, start = time.process_time(), time.perf_counter()
    if progress is None:
        driver(call, requests, concurrency, recorder)
    else:
        with progress.showing(recorder):
            driver(call, requests, concurrency, recorder)
    recorder.seconds = time.perf_counter() - start
    recorder.cpu_seconds = time.process_time() - cpu_start
    if recorder.fatal is not None:
        raise recorder.fatal
    return recorder


# -- what one request is ---------------------------------------------------------

def invoke_call(client: Any, request: Dict[str, Any]) -> Call:
    def call() -> None:
        client.invoke_endpoint(**request)["Body"].read()

    return call


def stream_call(client: Any, request: Dict[str, Any]) -> Call:
    """A response stream read to its end; returns the time to its first event."""
    def call() -> Optional[float]:
        stats = StreamStats()
        response = client.invoke_endpoint_with_response_stream(**request)
        with closing(response["Body"]) as events:
            for _ in stats.count_items(events):
                pass
        return None if stats.ttft_ms is None else stats.ttft_ms / 1000.0

    return call


def make_client(kind: str, args: argparse.Namespace) -> Any:
    """One client for the whole load, its pool sized to the concurrency."""
    from botocore.config import Config

    options: Dict[str, Any] = {"max_pool_connections": args.concurrency}
    if args.max_attempts is not None:
        options["retries"] = {"total_max_attempts": args.max_attempts}
    config = Config(**options)
    if kind == "sagerun":
        import sagerun

        return sagerun.Client(region_name=args.region, endpoint_url=args.endpoint_url,
                              profile_name=args.profile, config=config)
    import boto3

    session = boto3.Session(profile_name=args.profile)
    return session.client("sagemaker-runtime", region_name=args.region,
                          endpoint_url=args.endpoint_url, config=config)


# -- the summary -------------------------------------------------------------------

def _percentiles(seconds: Sequence[float]) -> Optional[Dict[str, float]]:
    """Nearest-rank percentiles and the maximum, in milliseconds."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    n = len(ordered)
    result = {f"p{q}": ordered[max(0, -(-q * n // 100) - 1)] for q in PERCENTILES}
    result["max"] = ordered[-1]
    return {k: round(v * 1000.0, 3) for k, v in result.items()}


def summarize(recorder: Recorder) -> Dict[str, Any]:
    ok, failed = len(recorder.latencies), sum(recorder.errors.values())
    total = ok + failed
    summary: Dict[str, Any] = {
        "requests": total,
        "ok": ok,
        "failed": failed,
        "errors": dict(sorted(recorder.errors.items())),
        "seconds": round(recorder.seconds, 4),
        "requests_per_s": round(total / recorder.seconds, 1) if recorder.seconds > 0 else None,
        "cpu_ms_per_request": round(recorder.cpu_seconds / total * 1000.0, 4) if total else None,
        "latency_ms": _percentiles(recorder.latencies),
    }
    if recorder.first_events:
        summary["first_event_ms"] = _percentiles(recorder.first_events)
    return summary


def _ratio(ours: Optional[float], theirs: Optional[float], higher_is_better: bool) -> Optional[float]:
    """How many times better sagerun did (above 1: better)."""
    if not ours or not theirs:
        return None
    return round(ours / theirs if higher_is_better else theirs / ours, 2)


# (label, key path, higher is better)
_ROWS: List["tuple[str, tuple[str, ...], bool]"] = [("requests/s", ("requests_per_s",), True)]
_ROWS += [(f"latency {p} ms", ("latency_ms", p), False) for p in ("p50", "p90", "p99", "max")]
_ROWS += [(f"first event {p} ms", ("first_event_ms", p), False) for p in ("p50", "p99")]
_ROWS += [("CPU ms/request", ("cpu_ms_per_request",), False)]


def _lookup(summary: Mapping[str, Any], path: Sequence[str]) -> Optional[float]:
    value: Any = summary
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, (int, float)) else None


def ratios(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> Dict[str, Optional[float]]:
    return {label: _ratio(_lookup(ours, path), _lookup(theirs, path), better)
            for label, path, better in _ROWS if _lookup(ours, path) is not None}


def render_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One column per client, a ratio column when there are two."""
    names = list(results)
    compared = len(names) == 2
    ratio_of = ratios(results[names[0]], results[names[1]]) if compared else {}
    rows: List["tuple[str, List[Any], Optional[float]]"] = []
    for label, path, _ in _ROWS:
        values = [_lookup(results[n], path) for n in names]
        if any(v is not None for v in values):
            rows.append((label, values, ratio_of.get(label)))
    for label in ("ok", "failed"):
        rows.append((label, [results[n][label] for n in names], None))
    for code in sorted({code for n in names for code in results[n]["errors"]}):
        rows.append(("  " + code, [results[n]["errors"].get(code, 0) for n in names], None))

    width = max(len(label) for label, _, _ in rows) + 2
    lines = [" " * width + "".join(f"{n:>12}" for n in names) + (f"{'ratio':>10}" if compared else "")]
    for label, values, ratio in rows:
        line = f"{label:<{width}}" + "".join(_cell(v) for v in values)
        lines.append(line + (f"{ratio:>9.2f}x" if ratio is not None else ""))
    if compared:
        lines.append(f"ratio: how many times better {names[0]} did than {names[1]} (above 1: better)")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return f"{'-':>12}"
    if isinstance(value, float):
        return f"{value:>12,.6g}"
    return f"{value:>12}"


# -- the command -------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _thread_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"at most {MAX_THREADS} (one thread each), not {text}")
    return value


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "bench", help="load-test an endpoint (optionally beside boto3)",
        description="Send N requests over C threads sharing one sagerun.Client and report "
        "requests/s, latency percentiles and failures by error code. Exit 0 when every request "
        "succeeded, 1 when some failed, 2 for bad input.")
    p.add_argument("endpoint_name", metavar="ENDPOINT")
    p.add_argument("-n", "--requests", type=_positive_int, default=1000, metavar="N",
                   help="how many requests (default 1000)")
    p.add_argument("-c", "--concurrency", type=_thread_count, default=8, metavar="C",
                   help="how many at once, one thread each (default 8)")
    p.add_argument("--stream", action="store_true",
                   help="InvokeEndpointWithResponseStream, each stream read to its end")
    p.add_argument("--body", default="{}", metavar="TEXT|@FILE|-",
                   help="the request body: literal text, @FILE, - for stdin (default {})")
    p.add_argument("--content-type", default="application/json",
                   help="ContentType (default application/json)")
    p.add_argument("--endpoint-url", help="e.g. the URL of a local runtime (sagerun serve)")
    p.add_argument("--region", help="AWS region (default: as configured for AWS tools)")
    p.add_argument("--profile", help="AWS profile name")
    p.add_argument("--max-attempts", type=_positive_int, metavar="N",
                   help="attempts per request, retries included (default: as configured); "
                   "1 makes every request exactly one call")
    p.add_argument("--compare", choices=["boto3"], help="run the same load through boto3 too")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace, parser: argparse.ArgumentParser,
              driver: Driver = run_threads) -> int:
    from botocore.exceptions import BotoCoreError

    prog = "sagerun bench"
    kinds = ["sagerun"] + ([args.compare] if args.compare else [])
    operation = "InvokeEndpointWithResponseStream" if args.stream else "InvokeEndpoint"
    results: Dict[str, Dict[str, Any]] = {}
    try:
        body = read_body(args.body, sys.stdin.buffer)
        request = {"EndpointName": args.endpoint_name, "Body": body, "ContentType": args.content_type}
        for kind in kinds:
            client = make_client(kind, args)
            call = (stream_call if args.stream else invoke_call)(client, request)
            progress = Progress(kind, args.requests, sys.stderr)
            results[kind] = summarize(run_load(driver, call, args.requests, args.concurrency, progress))
    except ImportError as e:
        print(f"{prog}: error: {e.name or e} is not installed", file=sys.stderr)
        return 2
    except (OSError, ValueError, BotoCoreError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130

    summary: Dict[str, Any] = {
        "endpoint": args.endpoint_name,
        "operation": operation,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "driver": "threads" if driver is run_threads else getattr(driver, "__name__", "custom"),
        "body_bytes": len(body),
        "clients": results,
    }
    if len(kinds) == 2:
        summary["ratios"] = ratios(results[kinds[0]], results[kinds[1]])
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{operation} {args.endpoint_name}: {args.requests} requests, "
              f"concurrency {args.concurrency} (threads), body {len(body)} bytes")
        print(render_table(results))
    return 1 if any(r["failed"] for r in results.values()) else 0

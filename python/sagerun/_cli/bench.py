"""``sagerun bench``: a load test of one endpoint through ``sagerun.Client``,
optionally beside boto3 under the same load.

    sagerun bench my-ep --requests 2000 --concurrency 16 --endpoint-url http://127.0.0.1:8080
    sagerun bench my-llm --stream --requests 200 --concurrency 8 --compare boto3
    sagerun bench my-ep --requests 500 --body @request.json --json
    sagerun bench my-ep --driver async --concurrency 256 --compare aiobotocore

N requests run over C threads that share one client (with ``--stream``, each
response stream is read to its end). Reported: requests/s, latency
percentiles of the successful requests, CPU per request, and failures by
error code (``e.response["Error"]["Code"]``, else the exception's type).
Exit status: 0 when every request succeeded, 1 when some failed (the
summary is printed all the same), 2 for bad input or a load that cannot run
(a bad parameter, no credentials, no region).

How the load is generated is a *driver* (``--driver``): ``threads`` (C
threads sharing one ``sagerun.Client``), ``async`` (C asyncio tasks sharing
one ``sagerun.AsyncClient``) or ``many`` (``Client.invoke_endpoint_many(...,
concurrency=C)``); see :mod:`sagerun._cli.bench_load`. ``--compare boto3``
runs boto3 with threads, ``--compare aiobotocore`` aiobotocore with asyncio
tasks, under the same load.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from sagerun._cli.bench_clients import ClientSpec, open_load, unavailable
from sagerun._cli.bench_load import (
    DRIVERS, Recorder, error_code, run_asyncio, run_load, run_many, run_one, run_threads,
)
from sagerun._cli.bench_progress import Progress, RichProgress, progress_for
from sagerun._cli.bench_report import ratio_note, ratios, render_table, rich_table, summarize
from sagerun._cli.console import rich_console
from sagerun._cli.invoke import read_body

__all__ = [
    "add_parser", "run_bench", "run_threads", "run_asyncio", "run_many", "run_one", "run_load",
    "Recorder", "error_code", "summarize", "Progress", "RichProgress", "ratios", "render_table",
]

#: One thread per concurrent request: beyond this, use the async or many driver.
MAX_THREADS = 1024
#: The driver each reference client runs under.
REFERENCE_DRIVER = {"boto3": "threads", "aiobotocore": "async"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "bench", help="load-test an endpoint (optionally beside boto3 or aiobotocore)",
        description="Send N requests, C at once, through one sagerun client and report "
        "requests/s, latency percentiles and failures by error code. Exit 0 when every request "
        "succeeded, 1 when some failed, 2 for bad input.")
    p.add_argument("endpoint_name", metavar="ENDPOINT")
    p.add_argument("-n", "--requests", type=_positive_int, default=1000, metavar="N",
                   help="how many requests (default 1000)")
    p.add_argument("-c", "--concurrency", type=_positive_int, default=8, metavar="C",
                   help=f"how many at once (default 8; at most {MAX_THREADS} with threads)")
    p.add_argument("--driver", choices=sorted(DRIVERS), default="threads",
                   help="threads sharing one Client (default), asyncio tasks sharing one "
                   "AsyncClient, or Client.invoke_endpoint_many")
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
    p.add_argument("--compare", choices=sorted(REFERENCE_DRIVER),
                   help="run the same load through boto3 (threads) or aiobotocore (asyncio tasks) too")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(run=run_bench)


def _plan(args: argparse.Namespace) -> "List[tuple[str, str]]":
    """(client, driver) for each load to run; ValueError when one cannot run."""
    plan = [("sagerun", args.driver)]
    if args.compare:
        plan.append((args.compare, REFERENCE_DRIVER[args.compare]))
    for kind, driver in plan:
        reason = unavailable(kind, driver)
        if reason is not None:
            raise ValueError(f"--driver {driver}: {reason}" if kind == "sagerun" else reason)
        if driver == "threads" and args.concurrency > MAX_THREADS:
            raise ValueError(f"--concurrency: at most {MAX_THREADS} with threads (one thread each), "
                             f"not {args.concurrency}; --driver async or many goes further")
        if driver == "many" and args.stream:
            raise ValueError("--driver many sends InvokeEndpoint only, not response streams")
    return plan


def run_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from botocore.exceptions import BotoCoreError

    prog = "sagerun bench"
    operation = "InvokeEndpointWithResponseStream" if args.stream else "InvokeEndpoint"
    spec = ClientSpec(region_name=args.region, endpoint_url=args.endpoint_url,
                      profile_name=args.profile, max_attempts=args.max_attempts,
                      concurrency=args.concurrency)
    results: Dict[str, Dict[str, Any]] = {}
    try:
        plan = _plan(args)
        body = read_body(args.body, sys.stdin.buffer)
        request = {"EndpointName": args.endpoint_name, "Body": body, "ContentType": args.content_type}
        for kind, driver in plan:
            with open_load(kind, driver, spec, request, args.stream) as load:
                progress = progress_for(kind, args.requests, sys.stderr, quiet=args.json)
                recorder = run_load(DRIVERS[driver], load, args.requests, args.concurrency, progress)
            results[kind] = {**summarize(recorder), "driver": driver}
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
        "driver": args.driver,
        "body_bytes": len(body),
        "clients": results,
    }
    if len(plan) == 2:
        summary["ratios"] = ratios(results[plan[0][0]], results[plan[1][0]])
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_human(summary, results)
    return 1 if any(r["failed"] for r in results.values()) else 0


def _print_human(summary: Dict[str, Any], results: Dict[str, Dict[str, Any]]) -> None:
    drivers = ", ".join(f"{name}: {r['driver']}" for name, r in results.items())
    title = (f"{summary['operation']} {summary['endpoint']}: {summary['requests']} requests, "
             f"concurrency {summary['concurrency']} ({drivers}), body {summary['body_bytes']} bytes")
    notes = [ratio_note(list(results))] if len(results) == 2 else []
    if summary["driver"] == "many":
        notes.append("invoke_endpoint_many yields results in input order: no latency per request")
    console = rich_console(sys.stdout)
    if console is not None:
        console.print(title, style="bold", markup=False)
        console.print(rich_table(results))
        for note in notes:
            console.print(note, style="dim", markup=False)
    else:
        print(title)
        print(render_table(results))
        for note in notes:
            print(note)

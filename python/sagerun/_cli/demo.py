"""``sagerun demo``: a local SageMaker Runtime in this process, each
operation shown through ``sagerun.Client`` (the token stream printed as it
arrives), then a short bench against boto3 when boto3 is installed.

    sagerun demo               # readable, about 10 seconds
    sagerun demo --json        # a machine-readable summary on stdout
    sagerun demo --no-bench    # the operations only
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Mapping, Optional, TextIO

from sagerun._cli import demo_bench, demo_steps, stream_stats
from sagerun._cli.console import rich_console

__all__ = ["add_parser", "run_demo", "collect"]


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "demo",
        help="show every operation against a local runtime, then bench against boto3",
        description="Start a local SageMaker Runtime in this process, show InvokeEndpoint, "
        "a live token stream, a ModelError and InvokeEndpointAsync through sagerun.Client, "
        "then time small InvokeEndpoint calls through sagerun and boto3 (when installed).",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable summary instead")
    p.add_argument("--no-bench", action="store_true", help="skip the bench against boto3")
    p.add_argument("--bench-seconds", type=_positive_float, default=2.0, metavar="S",
                   help="how long each client is timed (default 2)")
    p.add_argument("--token-delay-ms", type=_non_negative_int, default=40, metavar="MS",
                   help="pause between streamed tokens (default 40)")
    p.set_defaults(run=run_demo)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


class _Printer:
    """The human-readable narration; silent in --json mode."""

    def __init__(self, out: Optional[TextIO]) -> None:
        self.out = out

    def __call__(self, text: str = "", end: str = "\n") -> None:
        if self.out is not None:
            self.out.write(text + end)
            self.out.flush()

    def fields(self, fields: Mapping[str, Any], indent: str = "   ") -> None:
        for name, value in fields.items():
            if isinstance(value, Mapping):
                self.fields(value, indent)
            elif value is not None:
                self(f"{indent}{name}: {value}")


def _call_text(method: str, request: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in request.items())
    return f"client.{method}({args})"


def collect(args: argparse.Namespace, say: _Printer) -> Dict[str, Any]:
    """Runs the demo, narrating through ``say``; returns the summary."""
    import sagerun
    from sagerun.local import LocalRuntime

    summary: Dict[str, Any] = {"ok": False}
    endpoints = demo_steps.endpoints(args.token_delay_ms)
    with LocalRuntime(endpoints) as rt:
        summary["runtime_url"] = rt.url
        summary["endpoints"] = endpoints
        say(f"sagerun {sagerun.__version__} demo: a local SageMaker Runtime at {rt.url} (in this process)")
        say(f"   endpoints: {', '.join(sorted(endpoints))}; data_dir (stands in for S3): {rt.data_dir}")
        say(f"   client = sagerun.Client(endpoint_url={rt.url!r}, region_name={rt.region!r}, ...)")
        client = sagerun.Client(**rt.client_kwargs())

        say("\n1. InvokeEndpoint")
        result = demo_steps.invoke(client)
        say("   " + _call_text("invoke_endpoint", result["request"]))
        say.fields(result["response"])
        summary["invoke"] = result

        say("\n2. InvokeEndpointWithResponseStream (TGI-style server-sent events, tokens printed as they arrive)")
        say("   for token in response['Body'].iter_tokens(): print(token, end='')")
        say("   > ", end="")
        result = demo_steps.stream(client, on_token=lambda token: say(token, end=""))
        say()
        say("   " + stream_stats.describe(result))
        say.fields(result["response"])
        summary["stream"] = result

        say("\n3. A model error, caught as client.exceptions.ModelError (botocore's own class)")
        result = demo_steps.model_error(client)
        say("   " + _call_text("invoke_endpoint", result["request"]))
        say.fields(result["error"])
        summary["model_error"] = result

        say("\n4. InvokeEndpointAsync (input file written into the runtime's data_dir)")
        result = demo_steps.invoke_async(client, rt.data_dir)
        say("   " + _call_text("invoke_endpoint_async", result["request"]))
        say.fields(result["response"])
        say(f"   output written by the endpoint: {result['output']}")
        summary["async"] = result
        client.close()

    summary["bench"] = _bench(args, say)
    summary["ok"] = True
    return summary


def _bench(args: argparse.Namespace, say: _Printer) -> Dict[str, Any]:
    if args.no_bench:
        return {"skipped": "--no-bench"}
    if not demo_bench.boto3_available():
        say("\n5. Bench skipped: boto3 is not installed (pip install boto3)")
        return {"skipped": "boto3 is not installed"}
    say(f"\n5. Bench: small InvokeEndpoint calls on one thread, {args.bench_seconds:g} s per client,")
    say("   same local runtime (a child process, so CPU is the client's alone)")
    result = demo_bench.run(args.bench_seconds, on_start=lambda name: say(f"   timing {name}..."))
    verdict = (f"   sagerun: {result['throughput_ratio']:.1f}x the requests/s, "
               f"{result['cpu_ratio']:.1f}x less CPU per call")
    console = rich_console(say.out) if say.out is not None else None
    if console is not None:
        console.print(_rich_bench_table(result))
        console.print(verdict, style="bold green")
        return result
    say(f"   {'client':<8} {'calls':>7} {'requests/s':>11} {'CPU/call':>11}")
    for name in ("sagerun", "boto3"):
        r = result[name]
        say(f"   {name:<8} {r['calls']:>7} {r['requests_per_s']:>11.0f} {r['cpu_us_per_call']:>8.0f} us")
    say(verdict)
    return result


def _rich_bench_table(result: Mapping[str, Any]) -> Any:
    from rich.table import Table

    table = Table()
    for column in ("client", "calls", "requests/s", "CPU/call"):
        table.add_column(column, justify="left" if column == "client" else "right")
    for name in ("sagerun", "boto3"):
        r = result[name]
        table.add_row(name, str(r["calls"]), f"{r['requests_per_s']:,.0f}", f"{r['cpu_us_per_call']:,.0f} µs",
                      style="cyan" if name == "sagerun" else None)
    return table


def _done(say: _Printer) -> None:
    console = rich_console(say.out) if say.out is not None else None
    if console is not None:
        console.print("\nAll operations answered as declared.", style="bold green")
    else:
        say("\nAll operations answered as declared.")


def run_demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    say = _Printer(None if args.json else sys.stdout)
    try:
        summary = collect(args, say)
    except KeyboardInterrupt:
        print("\nsagerun demo: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # any failure ends the demo with its reason
        message = f"{type(e).__name__}: {e}"
        if args.json:
            print(json.dumps({"ok": False, "error": message}))
        print(f"\nsagerun demo: failed: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _done(say)
    return 0



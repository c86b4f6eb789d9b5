"""``sagerun serve``: a local SageMaker Runtime until Ctrl-C or SIGTERM.

    sagerun serve --config endpoints.json --port 8080
    sagerun serve --endpoint my-echo=echo --endpoint llm=tokens,text=Hi,parts=4,format=sse \\
                  --endpoint flaky=echo,faults.error_rate=0.5,faults.seed=7 --no-verify-signatures
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any, Dict, List

__all__ = ["add_parser", "coerce_value", "parse_endpoint_spec", "run_serve"]


def coerce_value(text: str) -> Any:
    """``true``/``false`` -> bool, then int, then float, else the text.
    A value in double quotes stays a string, without the quotes
    (``text="42"``)."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_endpoint_spec(spec: str) -> "tuple[str, Dict[str, Any]]":
    """``NAME=MODEL,key=value,faults.x=value`` -> (name, declaration).

    Values are coerced with :func:`coerce_value`; dotted keys nest.
    Validation of the keys themselves is left to the one parser (Rust).
    """
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ValueError(f"--endpoint {spec!r}: expected NAME=MODEL[,key=value...]")
    model, *options = rest.split(",")
    if not model or "=" in model:
        raise ValueError(f"--endpoint {spec!r}: the model must come first (NAME=MODEL,...)")
    decl: Dict[str, Any] = {"model": model}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ValueError(f"--endpoint {spec!r}: {option!r} is not key=value")
        *parents, leaf = key.split(".")
        target = decl
        for parent in parents:
            nested = target.setdefault(parent, {})
            if not isinstance(nested, dict):
                raise ValueError(f"--endpoint {spec!r}: {key!r} conflicts with {parent!r}")
            target = nested
        if leaf in target:
            raise ValueError(f"--endpoint {spec!r}: {key!r} given twice")
        target[leaf] = coerce_value(value)
    return name, decl


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    p = sub.add_parser(
        "serve",
        help="run a local SageMaker Runtime",
        description="Serve the SageMaker Runtime protocol locally (Ctrl-C or SIGTERM stops it).",
    )
    p.add_argument("--config", metavar="FILE", help="JSON file: {endpoint name: declaration}")
    p.add_argument(
        "--endpoint",
        metavar="NAME=MODEL,key=value,...",
        action="append",
        default=[],
        help="declare an endpoint (repeatable); dotted keys nest, e.g. faults.latency_ms=5",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port (default 8080)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
    p.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    p.add_argument("--no-verify-signatures", action="store_true", help="accept unsigned requests")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    p.add_argument("--data-dir", help="directory standing in for S3 (async invocations)")
    p.add_argument("--workers", type=int, default=2, help="server threads (default 2)")
    p.set_defaults(run=run_serve)


def _load_endpoints(args: argparse.Namespace) -> Dict[str, Any]:
    endpoints: Dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            loaded = json.load(f)
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: expected a JSON object of endpoint declarations")
        endpoints.update(loaded)
    for spec in args.endpoint:
        name, decl = parse_endpoint_spec(spec)
        if name in endpoints:
            raise ValueError(f"endpoint {name!r} is declared twice")
        endpoints[name] = decl
    if not endpoints:
        raise ValueError("no endpoints: give --config FILE and/or --endpoint NAME=MODEL,...")
    return endpoints


def run_serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sagerun.local import LocalRuntime

    try:
        endpoints = _load_endpoints(args)
        runtime = LocalRuntime(
            endpoints,
            region=args.region,
            credentials=(args.access_key, args.secret_key),
            verify_signatures=not args.no_verify_signatures,
            port=args.port,
            host=args.host,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            data_dir=args.data_dir,
            worker_threads=args.workers,
        )
    except (OSError, ValueError, TypeError) as e:
        parser.exit(2, f"sagerun serve: error: {e}\n")

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous: List[Any] = [signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)]
    try:
        names = ", ".join(sorted(endpoints))
        print(f"sagerun local runtime listening on {runtime.url} (endpoints: {names})", flush=True)
        if not args.no_verify_signatures:
            print(f"  credentials: {args.access_key} / {args.secret_key}, region {args.region}", flush=True)
        print(f"  async data directory (stands in for S3): {runtime.data_dir}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        runtime.stop()
        for s, handler in zip((signal.SIGINT, signal.SIGTERM), previous):
            signal.signal(s, handler)
    print("sagerun local runtime stopped", flush=True)
    return 0

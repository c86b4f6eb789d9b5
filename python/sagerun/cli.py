"""The ``sagerun`` console script.

    sagerun demo                      # a local runtime, every operation, a bench against boto3
    sagerun serve --endpoint my-echo=echo --endpoint llm=tokens,text=Hi,parts=4,format=sse
    sagerun invoke my-echo --body '{"x": 1}' --endpoint-url http://127.0.0.1:8080
    sagerun stream llm --body @prompt.json --format tokens --endpoint-url http://127.0.0.1:8080
    sagerun invoke-async my-echo --input-location s3://bucket/in.json --endpoint-url http://127.0.0.1:8080
    sagerun bench my-echo --requests 2000 --concurrency 16 --compare boto3 --endpoint-url http://127.0.0.1:8080
    sagerun bench my-echo --driver async --concurrency 256 --compare aiobotocore --endpoint-url ...

Human output uses rich (colour, tables, a progress bar) when it is installed
and the output is a terminal, plain text otherwise; ``--json`` is for scripts.

Each subcommand lives in its own module under ``sagerun._cli`` (``add_parser``
registers it, ``run`` does it), so the CLI grows without touching the others.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from sagerun._cli import bench, demo, invoke, invoke_async, serve
from sagerun._cli.serve import coerce_value, parse_endpoint_spec

__all__ = ["main", "parse_endpoint_spec", "coerce_value"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sagerun", description="sagerun command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    serve.add_parser(sub)
    invoke.add_parsers(sub)
    invoke_async.add_parser(sub)
    bench.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args, parser) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

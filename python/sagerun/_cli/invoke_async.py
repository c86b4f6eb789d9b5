"""``sagerun invoke-async``: one InvokeEndpointAsync call through
``sagerun.Client``; prints where the endpoint will write its output.

    sagerun invoke-async my-async-ep --input-location s3://bucket/input.json
    sagerun invoke-async my-async-ep --input-location s3://b/in.json --inference-id run-7 --json

Prints OutputLocation, FailureLocation and InferenceId (``--json``: the
whole response as JSON). Exit 1 for a service error, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict

from sagerun._cli.console import print_json, rich_console
from sagerun._cli.invoke import _client, _fields, _run

__all__ = ["add_parser", "run_invoke_async"]

# option -> InvokeEndpointAsync member (besides EndpointName and InputLocation)
_MEMBERS = {
    "content_type": "ContentType",
    "accept": "Accept",
    "custom_attributes": "CustomAttributes",
    "inference_id": "InferenceId",
    "invocation_timeout_seconds": "InvocationTimeoutSeconds",
    "request_ttl_seconds": "RequestTTLSeconds",
    "s3_output_path_extension": "S3OutputPathExtension",
    "filename": "Filename",
}
_INTEGER_MEMBERS = ("invocation_timeout_seconds", "request_ttl_seconds")
#: What is printed, in this order (absent fields are left out).
SHOWN = ("OutputLocation", "FailureLocation", "InferenceId")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("invoke-async", help="InvokeEndpointAsync: queue a request stored at a URI",
                       description="Call InvokeEndpointAsync with an input already stored (S3 URI); "
                       "prints OutputLocation, FailureLocation and InferenceId.")
    p.add_argument("endpoint_name", metavar="ENDPOINT")
    p.add_argument("--input-location", required=True, metavar="URI",
                   help="where the input is, e.g. s3://bucket/input.json")
    for option, member in _MEMBERS.items():
        kind = int if option in _INTEGER_MEMBERS else str
        p.add_argument("--" + option.replace("_", "-"), dest=option, type=kind, help=member)
    p.add_argument("--endpoint-url", help="e.g. the URL of a local runtime (sagerun serve)")
    p.add_argument("--region", help="AWS region (default: as configured for AWS tools)")
    p.add_argument("--profile", help="AWS profile name")
    p.add_argument("--json", action="store_true", help="print the whole response as JSON")
    p.set_defaults(run=run_invoke_async)


def _request(args: argparse.Namespace) -> Dict[str, Any]:
    request: Dict[str, Any] = {"EndpointName": args.endpoint_name, "InputLocation": args.input_location}
    for option, member in _MEMBERS.items():
        value = getattr(args, option)
        if value is not None:
            request[member] = value
    return request


def run_invoke_async(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    def invoke() -> int:
        response = _client(args).invoke_endpoint_async(**_request(args))
        if args.json:
            print_json(sys.stdout, json.dumps(_fields(response), default=str))
            return 0
        shown = [(name, response[name]) for name in SHOWN if response.get(name) is not None]
        console = rich_console(sys.stdout)
        for name, value in shown:
            if console is not None:
                console.print(f"[bold]{name}[/]: [cyan]{value}[/]")
            else:
                print(f"{name}: {value}")
        return 0

    return _run("sagerun invoke-async", invoke)

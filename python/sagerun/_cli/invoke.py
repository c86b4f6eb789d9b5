"""``sagerun invoke`` and ``sagerun stream``: one request from the command
line through ``sagerun.Client``.

    sagerun invoke my-ep --body '{"inputs": "hi"}' --content-type application/json
    sagerun invoke my-ep --body @request.json -o answer.json
    echo '{"inputs": "hi"}' | sagerun stream my-llm --body - --format tokens

``invoke`` writes the response body to stdout (or ``-o FILE``) and the other
response fields, as JSON, to stderr. ``stream`` writes the output as it
arrives, then the time to the first item, the rate and the number of
PayloadParts to stderr. Region, credentials and endpoint resolve as for any
AWS tool; ``--endpoint-url`` points at a local runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from typing import IO, Any, Callable, Dict, Iterable, Iterator

from sagerun._cli.console import print_json, print_styled
from sagerun._cli.stream_stats import StreamStats
from sagerun.streaming import iter_lines, iter_sse, iter_tokens

__all__ = ["add_parsers", "run_invoke", "run_stream"]

# option -> InvokeEndpoint member, shared by both subcommands
_REQUEST_MEMBERS = {
    "content_type": "ContentType",
    "accept": "Accept",
    "custom_attributes": "CustomAttributes",
    "target_variant": "TargetVariant",
    "inference_component": "InferenceComponentName",
    "session_id": "SessionId",
}
# --format -> (decoder over the body's events, unit for the stats line)
_STREAM_FORMATS: Dict[str, "tuple[Callable[[Iterable[Any]], Iterator[Any]], str]"] = {
    "raw": (lambda events: (e["PayloadPart"]["Bytes"] for e in events), "parts"),
    "lines": (iter_lines, "lines"),
    "sse": (iter_sse, "events"),
    "tokens": (iter_tokens, "tokens"),
}


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("invoke", help="InvokeEndpoint: send a body, print the answer",
                       description="Call InvokeEndpoint; the body goes to stdout (or -o FILE), "
                       "the other response fields to stderr as JSON.")
    _add_request_options(p)
    p.set_defaults(run=run_invoke)

    p = sub.add_parser("stream", help="InvokeEndpointWithResponseStream: print output as it arrives",
                       description="Call InvokeEndpointWithResponseStream and print the output as it "
                       "arrives; TTFT, rate and PayloadParts go to stderr.")
    _add_request_options(p)
    p.add_argument("--format", choices=sorted(_STREAM_FORMATS), default="raw",
                   help="raw payload bytes, lines, server-sent event data, or LLM tokens "
                   "(TGI, LMI, OpenAI-style; default raw)")
    p.set_defaults(run=run_stream)


def _add_request_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("endpoint_name", metavar="ENDPOINT")
    p.add_argument("--body", required=True, metavar="TEXT|@FILE|-",
                   help="the request body: literal text, @FILE for a file's bytes, - for stdin")
    for option, member in _REQUEST_MEMBERS.items():
        p.add_argument("--" + option.replace("_", "-"), dest=option, help=member)
    p.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")
    p.add_argument("--endpoint-url", help="e.g. the URL of a local runtime (sagerun serve)")
    p.add_argument("--region", help="AWS region (default: as configured for AWS tools)")
    p.add_argument("--profile", help="AWS profile name")


def read_body(spec: str, stdin: IO[bytes]) -> bytes:
    """``-`` -> stdin, ``@FILE`` -> the file's bytes, else the text as UTF-8."""
    if spec == "-":
        return stdin.read()
    if spec.startswith("@"):
        with open(spec[1:], "rb") as f:
            return f.read()
    return spec.encode("utf-8")


def _request(args: argparse.Namespace) -> Dict[str, Any]:
    request: Dict[str, Any] = {"EndpointName": args.endpoint_name,
                               "Body": read_body(args.body, sys.stdin.buffer)}
    for option, member in _REQUEST_MEMBERS.items():
        value = getattr(args, option)
        if value is not None:
            request[member] = value
    return request


def _client(args: argparse.Namespace) -> Any:
    import sagerun

    return sagerun.Client(region_name=args.region, endpoint_url=args.endpoint_url,
                          profile_name=args.profile)


@contextmanager
def _output(path: "str | None") -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb") as f:
            yield f


def _fields(response: Dict[str, Any]) -> Dict[str, Any]:
    """The response without its Body, JSON-ready."""
    return {k: v for k, v in response.items() if k != "Body"}


def _run(prog: str, body: Callable[[], int]) -> int:
    """Runs one request; service errors exit 1, bad input 2, each with a
    one-line reason on stderr (a ModelError's extra fields included)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    try:
        return body()
    except ClientError as e:
        error = e.response.get("Error", {})
        extra = {k: v for k, v in e.response.items()
                 if k not in ("Error", "ResponseMetadata") and v != error.get("Message")}
        detail = f" {json.dumps(extra)}" if extra else ""
        print_styled(sys.stderr, f"{prog}: {error.get('Code')}: {error.get('Message')}{detail}", "bold red")
        return 1
    except (ParamValidationError, OSError) as e:
        print_styled(sys.stderr, f"{prog}: error: {e}", "bold red")
        return 2
    except BotoCoreError as e:
        print_styled(sys.stderr, f"{prog}: error: {e}", "bold red")
        return 1


def run_invoke(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    def invoke() -> int:
        request = _request(args)
        response = _client(args).invoke_endpoint(**request)
        with _output(args.output) as out:
            out.write(response["Body"].read())
        print_json(sys.stderr, json.dumps(_fields(response), default=str))
        return 0

    return _run("sagerun invoke", invoke)


def _encode(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return item.data.encode("utf-8")  # a ServerSentEvent


def run_stream(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    decode, unit = _STREAM_FORMATS[args.format]
    # Lines and events lose their terminators when decoded; put one back.
    separator = b"\n" if args.format in ("lines", "sse") else b""

    def stream() -> int:
        request = _request(args)
        client = _client(args)
        stats = StreamStats()
        response = client.invoke_endpoint_with_response_stream(**request)
        with response["Body"] as events, _output(args.output) as out:
            for item in stats.count_items(decode(stats.count_parts(events))):
                out.write(_encode(item) + separator)
                out.flush()
            if args.format == "tokens" and stats.items and out is sys.stdout.buffer:
                out.write(b"\n")
        print_styled(sys.stderr, stats.describe(unit), "bold cyan")
        return 0

    return _run("sagerun stream", stream)

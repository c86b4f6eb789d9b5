"""Instructions per response stream, counted by valgrind (callgrind): the
before/after figure for the stream paths that a busy shared machine does not
move (their timings swing by 2x between runs while others build).

    python benches/stream_icount.py                      # sync, tokens200 (200 small parts)
    python benches/stream_icount.py --endpoint big       # sync, 32 parts of 64 KiB
    python benches/stream_icount.py --async --streams 320  # AsyncClient, 16 tasks

Counts the client process only (the LocalRuntime serving it runs in a
spawned child that valgrind does not follow), user space only: a run of N
streams minus a run of none, over N. Each stream is the call plus
``for event in body`` (``async for``), as in bench_client.py/bench_async.py.
Method as in percall_icount.py (which counts small calls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_client import CONFIG, _ServerChild  # noqa: E402

import sagerun  # noqa: E402

TASKS = 16
WARM_UP = 5


def _streams_sync(kwargs: dict, endpoint: str, streams: int) -> None:
    client = sagerun.Client(config=CONFIG, **kwargs)
    for _ in range(WARM_UP + streams):
        for _event in client.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")["Body"]:
            pass


def _streams_async(kwargs: dict, endpoint: str, streams: int) -> None:
    async def go() -> None:
        client = sagerun.AsyncClient(config=CONFIG, **kwargs)

        async def task(n: int) -> None:
            for _ in range(n):
                r = await client.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")
                async for _event in r["Body"]:
                    pass

        await asyncio.gather(*[task(1) for _ in range(TASKS)])
        await asyncio.gather(*[task(streams // TASKS) for _ in range(TASKS)])

    asyncio.run(go())


def _child(mode: str, endpoint: str, streams: int) -> None:
    server = _ServerChild()
    try:
        (_streams_async if mode == "async" else _streams_sync)(server.kwargs, endpoint, streams)
    finally:
        server.stop()


def _instructions(mode: str, endpoint: str, streams: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        err = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", sys.executable,
             os.path.abspath(__file__), "--child", mode, endpoint, str(streams)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True,
        ).stderr
    return int(re.search(r"Collected : (\d+)", err).group(1))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", choices=["tokens200", "big"], default="tokens200")
    parser.add_argument("--streams", type=int, default=160)
    parser.add_argument("--async", dest="use_async", action="store_true")
    args = parser.parse_args()
    mode = "async" if args.use_async else "sync"
    streams = args.streams - args.streams % TASKS if args.use_async else args.streams
    base = _instructions(mode, args.endpoint, 0)
    loaded = _instructions(mode, args.endpoint, streams)
    print(f"{mode} {args.endpoint}: {(loaded - base) / streams:,.0f} instructions per stream "
          f"(user space, client process; {streams} streams)")


if __name__ == "__main__":
    main()

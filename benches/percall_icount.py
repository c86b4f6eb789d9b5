"""Instructions per small call, counted by valgrind (callgrind): a figure
that a busy shared machine does not move, for before/after comparisons of
the client's per-call CPU (timings there swing by 2x between runs).

    python benches/percall_icount.py            # Client.invoke_endpoint, 1 thread
    python benches/percall_icount.py --async    # AsyncClient, 64 tasks
    python benches/percall_icount.py --calls 2000

Counts the client process only (the LocalRuntime serving it runs in a
spawned child that valgrind does not follow): a run with N calls minus a
run with none, over N. User-space instructions only (the kernel's share,
about a third of a call's CPU, is not seen). Needs valgrind
(``apt-get install valgrind``); the hash seed is fixed so that dict probe
counts do not differ between runs. Inside valgrind SHA-256 takes its AVX
path (no SHA extensions), so signing weighs more than on the real CPU.
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

from bench_client import CONFIG, SMALL_JSON, _ServerChild  # noqa: E402

import sagerun  # noqa: E402

TASKS = 64


def _calls_sync(kwargs: dict, calls: int) -> None:
    client = sagerun.Client(config=CONFIG, **kwargs)
    for _ in range(50 + calls):  # 50 to open the connection and warm up
        client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON,
                               ContentType="application/json")["Body"].read()


def _calls_async(kwargs: dict, calls: int) -> None:
    async def go() -> None:
        client = sagerun.AsyncClient(config=CONFIG, **kwargs)

        async def task(n: int) -> None:
            for _ in range(n):
                r = await client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON,
                                                 ContentType="application/json")
                await r["Body"].read()

        await asyncio.gather(*[task(2) for _ in range(TASKS)])
        await asyncio.gather(*[task(calls // TASKS) for _ in range(TASKS)])

    asyncio.run(go())


def _child(mode: str, calls: int) -> None:
    server = _ServerChild()
    try:
        (_calls_async if mode == "async" else _calls_sync)(server.kwargs, calls)
    finally:
        server.stop()


def _instructions(mode: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
             sys.executable, os.path.abspath(__file__), "--child", mode, str(calls)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        ).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1280)
    parser.add_argument("--async", dest="use_async", action="store_true")
    args = parser.parse_args()
    mode = "async" if args.use_async else "sync"
    calls = args.calls - args.calls % TASKS if args.use_async else args.calls
    base, loaded = _instructions(mode, 0), _instructions(mode, calls)
    print(f"{mode}: {(loaded - base) / calls:,.0f} instructions per call "
          f"(user space, client process; {calls} calls)")


if __name__ == "__main__":
    main()

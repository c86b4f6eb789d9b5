"""Instructions per small call, counted by valgrind (callgrind): a figure
that a busy shared machine does not move, for before/after comparisons of
the client's per-call CPU (timings there swing by 2x between runs).

    python benches/percall_icount.py            # Client.invoke_endpoint, 1 thread
    python benches/percall_icount.py --async    # AsyncClient, 64 tasks
    python benches/percall_icount.py --calls 2000
    python benches/percall_icount.py --syscalls # no valgrind: see below

``--syscalls`` runs the sync calls without valgrind and reports, per call,
the client process's user and system CPU and context switches (getrusage),
then the system calls it makes (``strace -f -c`` attached for the calls
only; needs ``apt-get install strace``): where a call's CPU goes beyond the
instructions, and whether anything of ours adds a syscall or a wake-up.

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
import resource
import signal
import subprocess
import sys
import tempfile
import time

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


def _syscalls(kwargs: dict, calls: int) -> None:
    client = sagerun.Client(config=CONFIG, **kwargs)

    def run(n: int) -> None:
        for _ in range(n):
            client.invoke_endpoint(EndpointName="echo", Body=SMALL_JSON,
                                   ContentType="application/json")["Body"].read()

    run(300)  # open the connection, warm up
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    run(calls)
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    per = 1e6 / calls
    print(f"sync, {calls} calls, per call: wall {wall * per:.1f} us, "
          f"user {(after.ru_utime - before.ru_utime) * per:.1f} us, "
          f"system {(after.ru_stime - before.ru_stime) * per:.1f} us, context switches "
          f"{(after.ru_nvcsw - before.ru_nvcsw) / calls:.2f} voluntary + "
          f"{(after.ru_nivcsw - before.ru_nivcsw) / calls:.2f} involuntary")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "strace.txt")
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(os.getpid())],
                                  stderr=subprocess.PIPE, text=True)
        assert tracer.stderr is not None
        tracer.stderr.readline()  # "Process N attached": tracing from here on
        run(calls)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
        with open(out) as f:
            table = f.read()
    counts = {m.group(2): int(m.group(1)) for m in
              re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", table, re.M)}
    counts.pop("total", None)
    print("syscalls per call (strace -f -c): " + ", ".join(
        f"{name} {n / calls:.2f}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])))


def _child(mode: str, calls: int) -> None:
    server = _ServerChild()
    try:
        run = {"async": _calls_async, "syscalls": _syscalls}.get(mode, _calls_sync)
        run(server.kwargs, calls)
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
    parser.add_argument("--syscalls", action="store_true",
                        help="CPU split, context switches and syscalls per sync call (no valgrind)")
    args = parser.parse_args()
    if args.syscalls:
        _child("syscalls", args.calls)
        return
    mode = "async" if args.use_async else "sync"
    calls = args.calls - args.calls % TASKS if args.use_async else args.calls
    base, loaded = _instructions(mode, 0), _instructions(mode, calls)
    print(f"{mode}: {(loaded - base) / calls:,.0f} instructions per call "
          f"(user space, client process; {calls} calls)")


if __name__ == "__main__":
    main()

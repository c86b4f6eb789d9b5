"""What one wake-up across vCPUs costs on this machine, apart from any HTTP
client: two processes pass one byte back and forth over pipes, first where
the scheduler puts them, then both pinned to one CPU. On a VM that halts
idle vCPUs the first costs each side far more CPU per round trip; that cost
is the floor under every one-connection, latency-bound figure in benches/.

    python benches/vm_wakeup.py [round trips=20000]
"""

from __future__ import annotations

import os
import resource
import sys
import time


def round_trips(n: int) -> "tuple[float, float, float]":
    """(wall us, parent CPU us, child CPU us) per round trip."""
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    pid = os.fork()
    if pid == 0:
        for _ in range(n):
            os.read(to_child, 1)
            os.write(from_child, b"x")
        os._exit(0)
    child_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        os.write(from_parent, b"x")
        os.read(to_parent, 1)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    os.waitpid(pid, 0)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (child.ru_utime + child.ru_stime) - (child_before.ru_utime + child_before.ru_stime)
    for fd in (to_child, from_parent, to_parent, from_child):
        os.close(fd)
    return wall / n * 1e6, cpu / n * 1e6, child_cpu / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    cpus = sorted(os.sched_getaffinity(0))
    for label, pin in (("where the scheduler puts them", None), (f"both on CPU {cpus[-1]}", cpus[-1])):
        if pin is not None:
            os.sched_setaffinity(0, {pin})  # the child inherits it
        wall, parent, child = round_trips(n)
        print(f"{label}: {wall:.1f} us per round trip; CPU {parent:.1f} us (parent), "
              f"{child:.1f} us (child)")


if __name__ == "__main__":
    main()

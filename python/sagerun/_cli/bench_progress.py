"""Live progress of a load on stderr: a rich progress bar when rich is
installed and stderr is a terminal, else a plain ``\\r`` line on a
terminal, else nothing (a pipe, a file, ``--json``)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterator, Optional

from sagerun._cli.bench_load import ProgressDisplay, Recorder
from sagerun._cli.console import rich_console

__all__ = ["Progress", "RichProgress", "progress_for"]


@contextmanager
def repainted(interval: float, paint: Callable[[float], None]) -> Iterator[None]:
    """While the body runs, a thread calls ``paint(seconds since start)``
    every ``interval`` seconds; it is stopped and joined when the body ends."""
    done = threading.Event()
    started = time.perf_counter()

    def loop() -> None:
        while not done.wait(interval):
            paint(time.perf_counter() - started)

    painter = threading.Thread(target=loop, daemon=True)
    painter.start()
    try:
        yield
    finally:
        done.set()
        painter.join()


class Progress:
    """A live ``\\r`` line on ``out`` while a load runs, redrawn a few times
    a second; nothing at all when ``out`` is not a terminal."""

    def __init__(self, label: str, total: int, out: IO[str], interval: float = 0.2) -> None:
        self.label = label
        self.total = total
        self.out = out
        self.interval = interval
        self.enabled = out.isatty()

    @contextmanager
    def showing(self, recorder: Recorder) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        try:
            with repainted(self.interval, lambda elapsed: self._write(recorder, elapsed)):
                yield
        finally:
            self.out.write("\r\x1b[K")  # clear the line for what follows
            self.out.flush()

    def _write(self, recorder: Recorder, elapsed: float) -> None:
        completed, failed = recorder.completed, recorder.failures
        rate = completed / elapsed if elapsed > 0 else 0.0
        self.out.write(f"\r{self.label}: {completed}/{self.total} requests, "
                       f"{failed} failed, {rate:,.0f} req/s\x1b[K")  # erase a longer last line
        self.out.flush()


class RichProgress:
    """A rich bar (done/total, failures, requests/s, elapsed) redrawn from
    the recorder's counters a few times a second."""

    def __init__(self, label: str, total: int, console: Any, interval: float = 0.2) -> None:
        self.label = label
        self.total = total
        self.console = console
        self.interval = interval

    @contextmanager
    def showing(self, recorder: Recorder) -> Iterator[None]:
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn,
        )

        bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[red]{task.fields[failed]} failed"), TextColumn("{task.fields[rate]} req/s"),
                  TimeElapsedColumn(), console=self.console, transient=True,
                  refresh_per_second=max(1.0, 1.0 / self.interval))
        task = bar.add_task(self.label, total=self.total, failed=0, rate="-")

        def update(elapsed: float) -> None:
            completed = recorder.completed
            rate = f"{completed / elapsed:,.0f}" if elapsed > 0 else "-"
            bar.update(task, completed=completed, failed=recorder.failures, rate=rate)

        with bar, repainted(self.interval, update):
            yield


def progress_for(label: str, total: int, out: IO[str], quiet: bool = False) -> Optional[ProgressDisplay]:
    """The display for one load: None when ``quiet`` (``--json``)."""
    if quiet:
        return None
    console = rich_console(out)
    if console is not None:
        return RichProgress(label, total, console)
    return Progress(label, total, out)

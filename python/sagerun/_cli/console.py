"""Output for people: rich (colour, tables, progress bars) when it is
installed and the stream is a terminal, plain text otherwise.

rich is optional (``pip install 'sagerun[cli]'``): without it, or when the
output goes to a pipe or a file, the CLI prints plain aligned text, which is
also what scripts that grep it see. ``FORCE_COLOR`` makes rich draw on a
pipe too (rich's own convention); ``NO_COLOR`` keeps its layout but drops
colours. ``--json`` is the format for scripts.
"""

from __future__ import annotations

import os
from typing import IO, Any, Optional

__all__ = ["rich_console", "ratio_style", "print_styled", "print_json"]


def rich_console(stream: IO[str]) -> Optional[Any]:
    """A rich Console writing to ``stream``, or None for plain output."""
    if os.environ.get("SAGERUN_PLAIN"):
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    console = Console(file=stream, highlight=False)
    return console if console.is_terminal else None


def ratio_style(ratio: Optional[float]) -> str:
    """Green when sagerun did better, red when worse."""
    if ratio is None:
        return ""
    return "bold green" if ratio >= 1.0 else "bold red"


def print_styled(stream: IO[str], text: str, style: Optional[str] = None) -> None:
    """One line, styled through rich on a terminal, plain otherwise (the
    text itself is never read as rich markup)."""
    console = rich_console(stream)
    if console is None:
        print(text, file=stream, flush=True)
    else:
        console.print(text, style=style, markup=False, soft_wrap=True)


def print_json(stream: IO[str], text: str) -> None:
    """A JSON document: highlighted on a terminal, as is otherwise."""
    console = rich_console(stream)
    if console is None:
        print(text, file=stream, flush=True)
    else:
        console.print_json(text)

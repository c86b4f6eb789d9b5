"""Bounded waiting for something another thread records (a test server
counting what it saw): the client may see a refusal before the server's
thread has noted it."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """True as soon as `condition()` holds; False once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True

"""Client.invoke_endpoint's Body (sagerun._body.InMemoryBody) against
botocore's StreamingBody over a BytesIO of the same bytes: every sequence of
reads and calls gives the same results and the same exceptions."""

from __future__ import annotations

import io
from typing import Any, Callable, List

import pytest
from botocore.exceptions import IncompleteReadError
from botocore.response import StreamingBody
from hypothesis import given, settings
from hypothesis import strategies as st

from sagerun._body import InMemoryBody


def outcome(step: Callable[[Any], Any], body: Any) -> Any:
    try:
        return ("ok", step(body))
    except Exception as error:  # compared by type and message
        return ("raised", type(error), str(error))


def readinto(n: int) -> Callable[[Any], Any]:
    def step(body: Any) -> Any:
        buffer = bytearray(n)
        count = body.readinto(buffer)
        return count, bytes(buffer[:count])
    return step


STEPS = {
    "read()": lambda b: b.read(),
    "read(0)": lambda b: b.read(0),
    "read(1)": lambda b: b.read(1),
    "read(5)": lambda b: b.read(5),
    "read(-1)": lambda b: b.read(-1),
    "readinto(3)": readinto(3),
    "tell()": lambda b: b.tell(),
    "readable()": lambda b: b.readable(),
    "readlines()": lambda b: b.readlines(),
    "iter_lines()": lambda b: list(b.iter_lines()),
    "iter_chunks(4)": lambda b: list(b.iter_chunks(4)),
    "iter": lambda b: list(b),
    "next": lambda b: next(b),
    "close()": lambda b: b.close(),
    "with": lambda b: b.__enter__().read(2),
}


def run(body: Any, names: List[str]) -> List[Any]:
    return [outcome(STEPS[name], body) for name in names]


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=40) | st.sampled_from([b"", b"a\nb\r\nc\n", b"x" * 2050]),
    names=st.lists(st.sampled_from(sorted(STEPS)), max_size=6),
)
def test_any_sequence_of_calls_matches_botocore(data: bytes, names: List[str]) -> None:
    expected = run(StreamingBody(io.BytesIO(data), len(data)), names)
    assert run(InMemoryBody(data), names) == expected


def test_is_botocore_streaming_body_and_returns_the_bytes_themselves() -> None:
    data = b'{"a": 1}'
    body = InMemoryBody(data)
    assert isinstance(body, StreamingBody) and isinstance(body, io.IOBase)
    assert body.read() is data
    assert body.read() == b"" and body.tell() == len(data)


def test_content_length_is_checked_as_botocore_does() -> None:
    # A body shorter than its length is impossible here (the length is the
    # body's), but the check must still be the one botocore runs.
    body = InMemoryBody(b"abc")
    body._content_length = 5
    reference = StreamingBody(io.BytesIO(b"abc"), 5)
    with pytest.raises(IncompleteReadError):
        reference.read()
    with pytest.raises(IncompleteReadError):
        body.read(10)
        body.read(10)

"""sagerun.streaming.iter_sse against a reference parser written here from
the WHATWG HTML standard, "9.2.6 Interpreting an event stream", run on the
whole stream at once; ours sees it split at random byte positions."""

import asyncio
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagerun import streaming as s


def reference_sse(stream: bytes, stop_at_done: bool):
    """Straight from the standard: decode (UTF-8, replacement, one leading BOM
    dropped), split into lines at CRLF / LF / CR, interpret each line; the
    text after the last line end is an unfinished line and is discarded, as
    is an event with no blank line after it."""
    text = stream.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    *lines, _unfinished = re.split(r"\r\n|\r|\n", text)
    events = []
    data, event_type, last_id, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data == "":
                event_type = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            if stop_at_done and data == "[DONE]":
                return events
            events.append((event_type or "message", data, last_id, retry))
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\0" not in value:
                last_id = value
        elif field == "retry":
            # Deliberate, documented deviation: values past 64 bits are ignored.
            if value and all(c in "0123456789" for c in value) and int(value) < 2**64:
                retry = int(value)
    return events


def ours(parts, stop_at_done):
    return [(e.event, e.data, e.id, e.retry) for e in s.iter_sse(parts, stop_at_done=stop_at_done)]


def split_at(data: bytes, cuts) -> list:
    points = sorted(min(c, len(data)) for c in cuts)
    bounds = [0] + points + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


values = st.text(alphabet=st.sampled_from(" :ab\0é€😀[]DONE\t") | st.characters(codec="utf-8",
                 exclude_characters="\r\n"), max_size=12)
field_lines = st.one_of(
    st.tuples(st.sampled_from(["data", "event", "id", "retry", "dat", "Data", "", " data"]),
              st.sampled_from([":", ": ", ":  ", ""]), values).map("".join),
    st.builds(lambda d: "retry:" + d, st.text(alphabet="0123456789", min_size=1, max_size=25)),
    st.just("data: [DONE]"),
    st.just(""), st.just(""), st.just(""),
    values.map(lambda v: ":" + v),
)
line_ends = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def streams(draw):
    lines = draw(st.lists(st.tuples(field_lines, line_ends), max_size=25))
    text = "".join(line + end for line, end in lines)
    text += draw(st.sampled_from(["", "data: unfinished", "\r"]))
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 4)) == 0:  # some invalid UTF-8 inside values
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc3"])) + data[at:]
    return data


@settings(max_examples=500, deadline=None)
@given(streams(), st.lists(st.integers(0, 500), max_size=30), st.booleans())
def test_matches_reference_parser_at_any_split(stream, cuts, stop_at_done):
    assert ours(split_at(stream, cuts), stop_at_done) == reference_sse(stream, stop_at_done)


@settings(max_examples=100, deadline=None)
@given(streams())
def test_one_byte_per_part(stream):
    parts = [stream[i:i + 1] for i in range(len(stream))]
    assert ours(parts, False) == reference_sse(stream, False)


def test_several_events_in_one_part_and_one_event_across_parts():
    parts = [b"data: a\n\ndata: b\n\nda", b"ta: c1\r\nda", b"ta:c2\r", b"\n\r\n"]
    assert [(e.data, e.event) for e in s.iter_sse(parts)] == [("a", "message"), ("b", "message"), ("c1\nc2", "message")]


def test_event_fields_and_comments():
    stream = b": keep-alive\nevent: token\nid: 42\nretry: 3000\ndata: {\"x\": 1}\n\ndata:no space\n\n"
    events = list(s.iter_sse([stream]))
    assert events == [s.ServerSentEvent('{"x": 1}', "token", "42", 3000),
                      s.ServerSentEvent("no space", "message", "42", 3000)]


def test_done_stops_without_reading_further_parts():
    def source():
        yield {"PayloadPart": {"Bytes": b"data: 1\n\ndata: [DONE]\n\n"}}
        raise AssertionError("read past [DONE]")

    assert [e.data for e in s.iter_sse(source())] == ["1"]
    assert [e.data for e in s.iter_sse([b"data: [DONE]\n\ndata: 2\n\n"], stop_at_done=False)] == ["[DONE]", "2"]


def test_unfinished_event_is_discarded_at_the_end():
    assert [e.data for e in s.iter_sse([b"data: 1\n\ndata: 2\n"])] == ["1"]


def test_max_event_bytes():
    with pytest.raises(s.EventTooLong) as info:
        list(s.iter_sse([b"data: " + b"x" * 100 + b"\n\n"], max_event_bytes=50))
    assert info.value.limit == 50
    many_lines = (b"data: xxxxxxxxxx\n" for _ in range(100))
    with pytest.raises(s.EventTooLong):
        list(s.iter_sse(many_lines, max_event_bytes=500))


def test_event_objects_are_frozen_values():
    e = s.ServerSentEvent("d", "e", "i", 5)
    assert (e.data, e.event, e.id, e.retry) == ("d", "e", "i", 5)
    assert s.ServerSentEvent("d") == s.ServerSentEvent("d", "message", "", None)
    assert e != s.ServerSentEvent("d", "e", "i", 6) and hash(e) == hash(s.ServerSentEvent("d", "e", "i", 5))
    assert repr(s.ServerSentEvent("a'\n")) == "ServerSentEvent(data=\"a'\\n\", event='message', id='', retry=None)"
    with pytest.raises(AttributeError):
        e.data = "x"


def test_async_twin():
    async def agen():
        for part in [b"data: a\n", b"\ndata: [DONE]\n\n", b"data: late\n\n"]:
            yield part

    async def run():
        return [e.data async for e in s.aiter_sse(agen())]

    assert asyncio.run(run()) == ["a"]

"""sagerun.streaming.iter_bytes / iter_lines / iter_text (and async twins).

References: io.BytesIO.readlines() (which ends lines at b"\\n" only, like
us) for lines, and Python's own codecs incremental UTF-8 decoder for text,
fed the same parts. Payloads are split at random byte positions."""

import asyncio
import codecs
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagerun import streaming as s

# Text with the characters that break naive line splitting: multi-byte UTF-8,
# CR/LF in every combination, and Unicode line breaks that must NOT split.
TRICKY = "\n\r\u2028\u0085\x0b\x0céé€😀"
texts = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(codec="utf-8"), max_size=300)


def split_at(data: bytes, cuts) -> list:
    """data cut at the given positions (any order, repeats give empty parts)."""
    points = sorted(min(c, len(data)) for c in cuts)
    bounds = [0] + points + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


cuts = st.lists(st.integers(min_value=0, max_value=2000), max_size=40)


def reference_lines(data: bytes, keepends: bool) -> list:
    lines = io.BytesIO(data).readlines()  # ends lines at b"\n" only
    if keepends:
        return lines
    out = []
    for line in lines:
        if line.endswith(b"\r\n"):
            line = line[:-2]
        elif line.endswith(b"\n"):
            line = line[:-1]
        out.append(line)
    return out


def events_of(parts):
    """The parts as boto3 shapes them: {"PayloadPart": {"Bytes": ...}}."""
    return [{"PayloadPart": {"Bytes": p}} for p in parts]


@settings(max_examples=300, deadline=None)
@given(texts, cuts, st.booleans(), st.booleans())
def test_lines_match_readlines_on_the_joined_payload(text, cut, keepends, as_events):
    data = text.encode()
    parts = split_at(data, cut)
    got = list(s.iter_lines(events_of(parts) if as_events else parts, keepends=keepends))
    assert got == reference_lines(data, keepends)


@settings(max_examples=300, deadline=None)
@given(texts, cuts)
def test_text_joined_equals_original_and_matches_codecs_part_by_part(text, cut):
    parts = split_at(text.encode(), cut)
    got = list(s.iter_text(parts))
    assert "".join(got) == text
    python = codecs.getincrementaldecoder("utf-8")()
    want = [t for t in [python.decode(p) for p in parts] + [python.decode(b"", final=True)] if t]
    assert got == want


def codecs_outcome(parts, errors):
    """What Python's incremental decoder yields (non-empty chunks) and raises."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    out = []
    try:
        for p in parts:
            out.append(decoder.decode(p))
        out.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as e:
        return [t for t in out if t], (e.object, e.start, e.end, e.reason)
    return [t for t in out if t], None


def sagerun_outcome(parts, errors):
    out = []
    try:
        for t in s.iter_text(parts, errors=errors):
            out.append(t)
    except UnicodeDecodeError as e:
        assert e.encoding == "utf-8"
        return out, (e.object, e.start, e.end, e.reason)
    return out, None


# Bytes near the UTF-8 edge cases: continuation bytes, overlong leads,
# surrogate and out-of-range 4-byte leads, and valid sequences to split.
edge_bytes = st.lists(
    st.sampled_from([b"a", b"\n", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xdf", b"\xe0",
                     b"\xed", b"\xef", b"\xf0", b"\xf4", b"\xf5", b"\xff", b"\xa0", b"\x90",
                     "é€😀".encode()]) | st.binary(max_size=3),
    max_size=30).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(edge_bytes, cuts, st.sampled_from(["strict", "replace", "ignore", "backslashreplace"]))
def test_invalid_utf8_behaves_like_codecs(data, cut, errors):
    parts = split_at(data, cut)
    assert sagerun_outcome(parts, errors) == codecs_outcome(parts, errors)


@pytest.mark.parametrize("errors", ["strict", "replace", "ignore", "backslashreplace"])
@pytest.mark.parametrize("parts", [
    # CPython holds a surrogate prefix (ED A0..BF) at the end of a part until
    # a third byte or the end arrives; E0/F0/F4 prefixes are checked at once.
    [b"a\xed\xbf"], [b"a\xed\xa0", b"b"], [b"a\xed", b"\xbf"], [b"a\xed", b"\xbf", b"\x80"],
    [b"\xed\xa0", b"\xed\xbf"], [b"a\xe0\x80"], [b"a\xf0\x80"], [b"\xed\x9f", b"\xbf"],
])
def test_surrogate_and_overlong_prefixes_at_part_ends_behave_like_codecs(parts, errors):
    assert sagerun_outcome(parts, errors) == codecs_outcome(parts, errors)


def test_unknown_error_handler_is_refused_at_the_call():
    with pytest.raises(LookupError):
        s.iter_text([b"x"], errors="no-such-handler")


# --- the four failure modes of the copy-pasted LineIterator -----------------

def test_last_line_without_newline_is_yielded_and_iteration_ends():
    # The LineIterator waited for a newline that never comes.
    assert list(s.iter_lines([b"first\nlas", b"t"])) == [b"first", b"last"]
    assert list(s.iter_lines(iter([b"only"]))) == [b"only"]


def test_buffer_holds_only_the_pending_line():
    # The LineIterator kept every byte of the stream in its BytesIO.
    decoder = s.LineDecoder()
    high = 0
    for i in range(20_000):
        lines = decoder.feed(b"x" * 50 + b"\n" + b"y" * 10)
        assert lines == ([b"y" * 10 + b"x" * 50] if i else [b"x" * 50])
        high = max(high, decoder.buffered)
    assert high == 10  # the pending tail, never the stream
    assert decoder.feed(b"\n") == [b"y" * 10]
    assert decoder.buffered == 0


def test_several_lines_in_one_part_are_all_yielded():
    # The LineIterator yielded one line per part and dropped the rest.
    assert list(s.iter_lines([b"a\nb\nc\n", b"d\ne\n"])) == [b"a", b"b", b"c", b"d", b"e"]


def test_utf8_split_across_parts_is_joined():
    # The LineIterator decoded each part on its own and broke characters.
    data = "naïve €100 😀\n".encode()
    parts = [data[i:i + 1] for i in range(len(data))]
    assert list(s.iter_text(parts)) == [c for c in "naïve €100 😀\n"]
    assert [line.decode() for line in s.iter_lines(parts)] == ["naïve €100 😀"]


# --- limits, inputs, laziness ------------------------------------------------

def test_one_megabyte_line_one_byte_per_part():
    line = b"z" * (1 << 20)
    parts = (line[i:i + 1] for i in range(len(line)))
    assert list(s.iter_lines(parts)) == [line]


def test_max_line_bytes_raises_before_buffering_the_rest():
    pulled = []

    def source():
        for _ in range(1000):
            pulled.append(1)
            yield b"x" * 10

    with pytest.raises(s.LineTooLong) as info:
        list(s.iter_lines(source(), max_line_bytes=25))
    assert info.value.limit == 25 and isinstance(info.value, ValueError)
    assert len(pulled) == 3  # stopped at the part that crossed the limit
    assert list(s.iter_lines([b"abc\r\n", b"ab", b"c"], max_line_bytes=3)) == [b"abc", b"abc"]
    with pytest.raises(s.LineTooLong):
        list(s.iter_lines([b"abc\r"], max_line_bytes=3))  # no \n follows: \r is content


@pytest.mark.parametrize("bad", [0, -1, "10", 1.5, True])
def test_bad_limits_are_refused_at_the_call(bad):
    with pytest.raises((TypeError, ValueError)):
        s.iter_lines([], max_line_bytes=bad)


@pytest.mark.parametrize("not_parts", [b"abc", "abc", bytearray(b"x"), memoryview(b"x"), 5, None])
def test_a_single_payload_is_not_an_iterable_of_parts(not_parts):
    with pytest.raises(TypeError):
        s.iter_lines(not_parts)
    with pytest.raises(TypeError):
        s.iter_bytes(not_parts)


@pytest.mark.parametrize("part", ["text", 5, None, [b"x"], {"PayloadPart": {"Bytes": "str"}},
                                  {"PayloadPart": b"x"}])
def test_bad_parts_raise_type_error(part):
    with pytest.raises(TypeError):
        list(s.iter_lines([part]))


def test_bytes_like_parts_and_events_without_payload():
    parts = [b"a", bytearray(b"b"), memoryview(b"c\n"), {"PayloadPart": {"Bytes": b"d"}},
             {"SomeOtherEvent": {}}, b""]
    assert list(s.iter_bytes(parts)) == [b"a", b"b", b"c\n", b"d"]
    assert all(type(b) is bytes for b in s.iter_bytes(parts))
    assert list(s.iter_lines(parts)) == [b"abc", b"d"]


def test_helpers_are_lazy():
    def source():
        yield b"a\n"
        raise AssertionError("read too far")

    lines = s.iter_lines(source())
    assert next(lines) == b"a"


# --- async twins -----------------------------------------------------------

async def agen(parts):
    for p in parts:
        await asyncio.sleep(0)
        yield p


async def collect(aiterator):
    return [x async for x in aiterator]


@settings(max_examples=50, deadline=None)
@given(texts, cuts)
def test_async_twins_match_sync(text, cut):
    parts = split_at(text.encode(), cut)
    for sync, asyn in [(s.iter_lines, s.aiter_lines), (s.iter_text, s.aiter_text), (s.iter_bytes, s.aiter_bytes)]:
        assert asyncio.run(collect(asyn(agen(parts)))) == list(sync(parts))


def test_async_twins_refuse_plain_iterables():
    with pytest.raises(TypeError, match="iter_"):
        s.aiter_lines([b"x"])
    with pytest.raises(TypeError):
        s.aiter_text(b"x")


def test_async_text_error_handler_fallback_and_errors():
    assert asyncio.run(collect(s.aiter_text(agen([b"a\xff", b"b"]), errors="backslashreplace"))) == ["a\\xff", "b"]
    with pytest.raises(UnicodeDecodeError):
        asyncio.run(collect(s.aiter_text(agen([b"a\xe2\x82"]))))


def test_an_error_ends_the_iteration_without_passing_off_the_partial_line():
    def source():
        yield b"complete\npartial"
        raise ConnectionError("stream broken")

    for helper in (s.iter_lines, s.iter_tokens, s.iter_sse):
        it = helper(source())
        with pytest.raises((ConnectionError, s.StreamFormatError)):
            list(it)
        assert list(it) == []
    it = s.iter_lines([b"ok\n", b"x" * 20, b"\n"], max_line_bytes=10)
    assert next(it) == b"ok"
    with pytest.raises(s.LineTooLong):
        next(it)
    assert list(it) == []


def test_lines_before_a_too_long_line_in_the_same_part_come_out_first():
    items = []
    with pytest.raises(s.LineTooLong):
        for line in s.iter_lines([b"a\nb\n" + b"x" * 50], max_line_bytes=10):
            items.append(line)
    assert items == [b"a", b"b"]

"""Streaming behaviour of sagerun.eventstream: arbitrary splits, round trips
and agreement with botocore's EventStreamBuffer (hypothesis), truncation,
hostile lengths, limits and errors. Frames are built either with our encoder
(checked by botocore) or by hand here with struct + zlib."""

import datetime as dt
import struct
import threading
import uuid
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sagerun import eventstream as es

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)


# --- an independent encoder (struct + zlib), for hand-built frames ---------

def raw_header(name: bytes, code: int, value=b"") -> bytes:
    return struct.pack("B", len(name)) + name + struct.pack("B", code) + value


def raw_frame(header_block: bytes, payload: bytes = b"") -> bytes:
    prelude = struct.pack(">II", 16 + len(header_block) + len(payload), len(header_block))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + header_block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def raw_prelude(total: int, headers_len: int) -> bytes:
    prelude = struct.pack(">II", total, headers_len)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


WIRE = {  # type code -> packing of its value
    2: lambda v: struct.pack(">b", v), 3: lambda v: struct.pack(">h", v),
    4: lambda v: struct.pack(">i", v), 5: lambda v: struct.pack(">q", v),
    6: lambda v: struct.pack(">H", len(v)) + v, 7: lambda v: struct.pack(">H", len(v.encode())) + v.encode(),
    8: lambda v: struct.pack(">q", v), 9: lambda v: v,
}


def raw_headers(headers) -> bytes:
    """headers: list of (name, code, wire value) with ints for 8, bytes for 9."""
    return b"".join(raw_header(n.encode(), c, b"" if c < 2 else WIRE[c](v)) for n, c, v in headers)


def strict_headers_ok(block: bytes) -> bool:
    """An independent reading of the header rules botocore does not enforce:
    every length stays inside the block, names are 1..255 bytes of UTF-8 and
    unique, strings are UTF-8, type codes are 0-9."""
    fixed = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
    seen, at = set(), 0
    try:
        while at < len(block):
            n = block[at]
            name = block[at + 1:at + 1 + n].decode("utf-8")
            if n == 0 or len(name.encode()) != n or name in seen:
                return False
            seen.add(name)
            at += 1 + n
            code = block[at]
            at += 1
            if code in fixed:
                size = fixed[code]
            elif code in (6, 7):
                size = 2 + struct.unpack(">H", block[at:at + 2])[0]
                if code == 7:
                    block[at + 2:at + size].decode("utf-8")
            else:
                return False
            if at + size > len(block):
                return False
            at += size
    except (IndexError, struct.error, UnicodeDecodeError):
        return False
    return True


# --- strategies --------------------------------------------------------------

def ints(bits):
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


# Timestamps that a datetime can hold (years 1..9999).
MIN_MS = (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc) - EPOCH) // MS
MAX_MS = (dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.timezone.utc) - EPOCH) // MS

# (type code, wire value): every one of the ten types.
typed_values = st.one_of(
    st.just((0, True)), st.just((1, False)),
    ints(8).map(lambda v: (2, v)), ints(16).map(lambda v: (3, v)),
    ints(32).map(lambda v: (4, v)), ints(64).map(lambda v: (5, v)),
    st.binary(max_size=300).map(lambda v: (6, v)), st.text(max_size=100).map(lambda v: (7, v)),
    st.integers(MIN_MS, MAX_MS).map(lambda v: (8, v)), st.binary(min_size=16, max_size=16).map(lambda v: (9, v)),
)
names = st.text(min_size=1, max_size=40).filter(lambda n: len(n.encode()) <= 255)
header_maps = st.dictionaries(names, typed_values, max_size=8)
messages = st.tuples(header_maps, st.binary(max_size=600))


def python_value(code, value):
    """What sagerun documents decoding (code, wire value) to."""
    if code == 8:
        return EPOCH + dt.timedelta(milliseconds=value)
    return value


def encode(headers, payload):
    return es.encode_message({n: (c, v) for n, (c, v) in headers.items()}, payload)


def assert_matches(message, headers, payload):
    assert message.headers == {n: python_value(c, v) for n, (c, v) in headers.items()}
    assert list(message.headers) == list(headers)
    assert message.header_types == {n: c for n, (c, _) in headers.items()}
    assert message.payload == payload


def botocore_messages(data: bytes):
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer), len(buffer._data)  # leftover: an unfinished frame


def as_botocore_headers(message):
    """Our headers as botocore's raw buffer shows them (timestamps as int ms)."""
    return {k: (v - EPOCH) // MS if isinstance(v, dt.datetime) else v for k, v in message.headers.items()}


# --- properties --------------------------------------------------------------

@given(msg=messages)
def test_round_trip_every_type(msg):
    headers, payload = msg
    frame = encode(headers, payload)
    assert_matches(es.decode_message(frame), headers, payload)


@given(msgs=st.lists(messages, min_size=1, max_size=6), data=st.data())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_split_decodes_like_one_feed(msgs, data):
    stream = b"".join(encode(h, p) for h, p in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    decoder = es.EventStreamDecoder()
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        got.extend(decoder.feed(stream[start:end]))
    decoder.close()
    assert got == es.EventStreamDecoder().feed(stream)
    assert len(got) == len(msgs)
    for message, (headers, payload) in zip(got, msgs):
        assert_matches(message, headers, payload)


@given(msgs=st.lists(messages, min_size=1, max_size=4))
def test_botocore_decodes_our_frames_identically(msgs):
    stream = b"".join(encode(h, p) for h, p in msgs)
    theirs, leftover = botocore_messages(stream)
    ours = es.EventStreamDecoder().feed(stream)
    assert leftover == 0 and len(theirs) == len(ours) == len(msgs)
    for t, o in zip(theirs, ours):
        assert as_botocore_headers(o) == t.headers
        assert o.payload == t.payload


raw_header_lists = st.lists(
    st.tuples(st.text(min_size=1, max_size=20), typed_values).map(lambda t: (t[0], *t[1])), max_size=6)


@given(headers=raw_header_lists, payload=st.binary(max_size=100),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
       fix_crcs=st.booleans())
@settings(max_examples=400)
def test_hand_built_frames_agree_with_botocore(headers, payload, flips, fix_crcs):
    """Hand-built frames (possibly with duplicate names), possibly corrupted
    (and possibly with CRCs recomputed so the header parser is reached): when
    botocore rejects a frame we reject it; when it accepts one we decode the
    same thing, or reject it for a rule botocore does not check."""
    frame = bytearray(raw_frame(raw_headers(headers), payload))
    for at, xor in flips:
        frame[at % len(frame)] ^= xor
    if fix_crcs:
        frame[8:12] = struct.pack(">I", zlib.crc32(frame[:8]))
        frame[-4:] = struct.pack(">I", zlib.crc32(frame[:-4]))
    frame = bytes(frame)
    try:
        theirs, leftover = botocore_messages(frame)
    except Exception:  # botocore raises many types: ParserError, KeyError, UnicodeDecodeError...
        with pytest.raises(es.EventStreamError):
            decoder = es.EventStreamDecoder()
            decoder.feed(frame)
            decoder.close()
        return
    decoder = es.EventStreamDecoder()
    try:
        ours = decoder.feed(frame)
        decoder.close()
    except es.TruncatedStream:
        assert leftover > 0  # botocore silently waits for more
        return
    except es.InvalidFrame as e:
        # Rules botocore skips (it slices past ends, allows empty names, ...):
        # an independent strict reading must agree the frame is bad; or it
        # holds a timestamp no datetime can (botocore gives raw ints).
        total, headers_len = struct.unpack(">II", frame[:8])
        beyond_datetime = "outside the range of datetime" in str(e) and any(
            isinstance(v, int) and not MIN_MS <= v <= MAX_MS for v in theirs[0].headers.values())
        bad_layout = headers_len > total - 16 or total > len(frame)
        assert bad_layout or not strict_headers_ok(frame[12:12 + headers_len]) or beyond_datetime, e
        return
    assert leftover == 0 and len(ours) == len(theirs) == 1
    assert as_botocore_headers(ours[0]) == theirs[0].headers
    assert ours[0].payload == theirs[0].payload


# --- truncation, hostile input, limits -------------------------------------

def test_a_stream_cut_anywhere_raises_truncated_on_close():
    frames = [encode({":event-type": (7, "PayloadPart"), "n": (4, i)}, b"x" * i) for i in range(4)]
    stream = b"".join(frames)
    boundaries = {sum(map(len, frames[:i])) for i in range(len(frames) + 1)}
    for cut in range(len(stream) + 1):
        decoder = es.EventStreamDecoder()
        decoder.feed(stream[:cut])
        if cut in boundaries:
            decoder.close()
        else:
            with pytest.raises(es.TruncatedStream):
                decoder.close()
            if cut < len(frames[0]):
                with pytest.raises(es.TruncatedStream):
                    es.decode_message(stream[:cut])


def test_hostile_length_fails_at_once_without_buffering():
    decoder = es.EventStreamDecoder()
    with pytest.raises(es.InvalidFrame, match="payload length"):
        decoder.feed(raw_prelude(0xFFFFFFFF, 0))  # 4 GiB, valid prelude CRC
    assert decoder.buffered == 0
    # Byte by byte: nothing happens until the 12th byte, which fails.
    decoder = es.EventStreamDecoder()
    prelude = raw_prelude(0xFFFFFFFF, 0xFFFF)
    for i in range(11):
        assert decoder.feed(prelude[i:i + 1]) == []
    with pytest.raises(es.InvalidFrame):
        decoder.feed(prelude[11:])


def test_limits_are_configurable():
    frame = raw_frame(raw_headers([("abcd", 4, 1)]), b"x" * 20)  # 10 header bytes, 20 payload
    assert len(es.EventStreamDecoder(max_headers_len=10, max_payload_len=20).feed(frame)) == 1
    with pytest.raises(es.InvalidFrame, match="headers length 10"):
        es.EventStreamDecoder(max_headers_len=9).feed(frame)
    with pytest.raises(es.InvalidFrame, match="payload length 20"):
        es.EventStreamDecoder(max_payload_len=19).feed(frame)
    defaults = es.EventStreamDecoder()
    assert (defaults.max_headers_len, defaults.max_payload_len) == (128 * 1024, 24 * 1024 * 1024)
    with pytest.raises(ValueError):
        es.EventStreamDecoder(max_payload_len=-1)


@pytest.mark.parametrize("what, block", [
    ("duplicate", raw_headers([("a", 4, 1), ("a", 4, 2)])),
    ("unknown header value type", b"\x01a\x0a"),
    ("empty header name", b"\x00\x00"),
    ("not valid UTF-8", b"\x01\xff\x00"),
    ("ends inside", b"\x01a\x07\x00\x09x"),
])
def test_structural_errors_are_invalid_frame(what, block):
    with pytest.raises(es.InvalidFrame, match=what):
        es.decode_message(raw_frame(block, b"p"))


def test_timestamp_beyond_datetime_is_a_clear_error():
    frame = raw_frame(raw_headers([("t", 8, 2**62)]))
    with pytest.raises(es.InvalidFrame, match="outside the range of datetime"):
        es.decode_message(frame)


def test_errors_poison_the_decoder_and_keep_earlier_messages():
    good = encode({"n": (4, 1)}, b"ok")
    bad = bytearray(encode({}, b"bad"))
    bad[-1] ^= 1
    decoder = es.EventStreamDecoder()
    with pytest.raises(es.ChecksumMismatch) as info:
        decoder.feed(good + bytes(bad))
    assert [m.payload for m in info.value.messages] == [b"ok"]
    assert info.value.which == "message"
    with pytest.raises(es.ChecksumMismatch):
        decoder.feed(good)
    with pytest.raises(es.ChecksumMismatch):
        decoder.close()


def test_large_chunks_take_the_gil_free_path_and_agree():
    """Chunks of 64 KiB+ that start in a large frame are verified with the GIL
    released (then built); the result must not depend on the path taken."""
    small = [encode({":event-type": (7, "PayloadPart"), "i": (4, i)}, b"t" * (i % 50)) for i in range(3000)]
    bigs = [encode({"big": (0, True), "n": (4, n)}, bytes(range(256)) * (300 * (n + 1))) for n in range(3)]
    stream = bigs[0] + b"".join(small[:1500]) + bigs[1] + b"".join(small[1500:]) + bigs[2]
    expected = es.EventStreamDecoder().feed(stream)
    assert len(expected) == 3003
    for chunk in (65_536, 100_000, 300_001, len(stream)):
        decoder = es.EventStreamDecoder()
        got = []
        for at in range(0, len(stream), chunk):
            got.extend(decoder.feed(stream[at:at + chunk]))
        decoder.close()
        assert got == expected
    # A corrupt frame in a large chunk still reports the earlier messages.
    corrupt = bytearray(stream)
    corrupt[len(bigs[0]) + len(b"".join(small[:1500])) + 20] ^= 1  # inside bigs[1]
    with pytest.raises(es.ChecksumMismatch) as info:
        es.EventStreamDecoder().feed(bytes(corrupt))
    assert len(info.value.messages) == 1501


def test_decoders_in_threads_do_not_interfere():
    stream = b"".join(encode({"i": (4, i)}, b"p" * 1000) for i in range(500))
    expected = es.EventStreamDecoder().feed(stream)
    results = {}

    def run(k):
        decoder = es.EventStreamDecoder()
        out = []
        for at in range(0, len(stream), 70_000 + k):
            out.extend(decoder.feed(stream[at:at + 70_000 + k]))
        decoder.close()
        results[k] = out

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == expected for k in range(4))


def test_inputs_accepted_and_refused():
    frame = encode({"a": (7, "b")}, b"payload")
    expected = es.decode_message(frame)
    for data in (bytearray(frame), memoryview(frame)):
        assert es.decode_message(data) == expected
        assert es.EventStreamDecoder().feed(data) == [expected]
    for wrong in ("text", 12, None):
        with pytest.raises(TypeError):
            es.EventStreamDecoder().feed(wrong)


# --- encoder: inference, explicit types, validation --------------------------

def test_encoder_infers_types():
    u = uuid.uuid4()
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    frame = es.encode_message({"t": True, "f": False, "i32": 2**31 - 1, "i64": 2**31, "neg": -(2**31) - 1,
                               "s": "é", "b": b"\x00", "ba": bytearray(b"x"), "when": when, "u": u}, b"p")
    message = es.decode_message(frame)
    assert message.header_types == {"t": 0, "f": 1, "i32": 4, "i64": 5, "neg": 5, "s": 7, "b": 6, "ba": 6,
                                    "when": 8, "u": 9}
    assert message.headers["when"] == when.replace(microsecond=123000)  # ms on the wire
    assert message.headers["u"] == u.bytes
    # botocore reads the same bytes independently.
    (theirs,), _ = botocore_messages(frame)
    assert theirs.headers["i64"] == 2**31 and theirs.headers["u"] == u.bytes
    assert theirs.headers["when"] == (when - EPOCH) // MS


@pytest.mark.parametrize("headers, error", [
    ({"n": 2**63}, ValueError),
    ({"n": (2, 128)}, ValueError),
    ({"n": (3, -(2**15) - 1)}, ValueError),
    ({"n": (0, False)}, ValueError),
    ({"n": (10, 1)}, ValueError),
    ({"n": (7, b"bytes")}, TypeError),
    ({"n": (9, b"short")}, TypeError),
    ({"n": dt.datetime(2024, 1, 1)}, ValueError),  # naive
    ({"n": 1.5}, TypeError),
    ({"n": (1, 2, 3)}, ValueError),
    ({"": 1}, es.EventStreamError),
    ({"x" * 256: 1}, es.EventStreamError),
    ({"n": "v" * 65536}, es.EventStreamError),
    ({"n": b"v" * 65536}, es.EventStreamError),
    ({1: 1}, TypeError),
])
def test_encoder_rejects_bad_headers(headers, error):
    with pytest.raises(error):
        es.encode_message(headers, b"")


def test_encoder_edges_are_accepted():
    headers = {"x" * 255: "v" * 65535, "ts": (8, -1), "u": (9, b"\x01" * 16)}
    message = es.decode_message(es.encode_message(headers, b""))
    assert message.headers["x" * 255] == "v" * 65535
    assert message.headers["ts"] == EPOCH - MS
    assert es.decode_message(es.encode_message({"b": b"v" * 65535})).headers["b"] == b"v" * 65535
    # Two such values pass the 128 KiB header limit, which encoding keeps too.
    with pytest.raises(es.EventStreamError, match="limit"):
        es.encode_message({"a": b"v" * 65535, "b": b"v" * 65535})
    with pytest.raises(TypeError):
        es.encode_message([("a", 1)], b"")
    with pytest.raises(TypeError):
        es.encode_message({}, "text")


def test_message_mappings_are_read_only_and_shared_safely():
    stream = encode({"k": (7, "v")}, b"1") + encode({"k": (7, "v")}, b"2")
    first, second = es.EventStreamDecoder().feed(stream)
    with pytest.raises(TypeError):
        first.headers["k"] = "changed"
    with pytest.raises(TypeError):
        first.header_types["k"] = 4
    assert second.headers == {"k": "v"} and dict(first.headers) == {"k": "v"}
    assert first != second and first == es.decode_message(stream[: len(stream) // 2])

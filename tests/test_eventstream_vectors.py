"""sagerun.eventstream against the official vectors (aws-sdk-go's encoded/decoded
set and smithy-rs's frames, see shared/vectors/README.md), with botocore's
decoder as a second opinion on the same bytes."""

import base64
import datetime as dt
import json
import pathlib
import uuid

import pytest
from botocore.eventstream import EventStreamBuffer

from sagerun import eventstream as es

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "vectors" / "eventstream"
SMITHY = VECTORS / "smithy-rs" / "test_data"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

POSITIVE = sorted(p.name for p in (VECTORS / "encoded" / "positive").iterdir())
NEGATIVE = sorted(p.name for p in (VECTORS / "encoded" / "negative").iterdir())
SMITHY_INVALID = sorted(p.name for p in SMITHY.iterdir() if p.name.startswith("invalid"))


def expected_value(header):
    """The Python value sagerun documents for a JSON vector header."""
    kind, value = header["type"], header["value"]
    if kind in (6, 9):
        return base64.b64decode(value)
    if kind == 7:
        return base64.b64decode(value).decode("utf-8")
    if kind == 8:
        return EPOCH + dt.timedelta(milliseconds=value)
    return value


def test_the_vector_sets_are_complete():
    assert POSITIVE == ["all_headers", "empty_message", "int32_header", "payload_no_headers",
                        "payload_one_str_header"]
    assert len(NEGATIVE) == 4 and len(SMITHY_INVALID) == 8


@pytest.mark.parametrize("name", POSITIVE)
def test_positive_vector_decodes_to_its_json(name):
    frame = (VECTORS / "encoded" / "positive" / name).read_bytes()
    doc = json.loads((VECTORS / "decoded" / "positive" / name).read_text())
    for message in (es.decode_message(frame), *es.EventStreamDecoder().feed(frame)):
        assert list(message.headers) == [h["name"] for h in doc["headers"]]  # wire order
        assert message.headers == {h["name"]: expected_value(h) for h in doc["headers"]}
        assert message.header_types == {h["name"]: h["type"] for h in doc["headers"]}
        assert message.payload == base64.b64decode(doc["payload"])
        for h in doc["headers"]:
            assert type(message.headers[h["name"]]) is type(expected_value(h))


@pytest.mark.parametrize("name", POSITIVE)
def test_positive_vector_re_encodes_to_the_same_bytes(name):
    frame = (VECTORS / "encoded" / "positive" / name).read_bytes()
    doc = json.loads((VECTORS / "decoded" / "positive" / name).read_text())
    headers = {h["name"]: (h["type"], expected_value(h)) for h in doc["headers"]}
    assert es.encode_message(headers, base64.b64decode(doc["payload"])) == frame


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_vector_raises_the_named_checksum(name):
    frame = (VECTORS / "encoded" / "negative" / name).read_bytes()
    text = (VECTORS / "decoded" / "negative" / name).read_text()
    which = {"Prelude checksum mismatch": "prelude", "Message checksum mismatch": "message"}[text]
    for decode in (es.decode_message, es.EventStreamDecoder().feed):
        with pytest.raises(es.ChecksumMismatch, match=f"^{text}") as info:
            decode(frame)
        assert info.value.which == which
        assert isinstance(info.value, ValueError)


def test_corrupted_length_fails_on_its_first_twelve_bytes():
    frame = (VECTORS / "encoded" / "negative" / "corrupted_length").read_bytes()
    decoder = es.EventStreamDecoder()
    assert decoder.feed(frame[:11]) == []
    with pytest.raises(es.ChecksumMismatch) as info:
        decoder.feed(frame[11:12])
    assert info.value.which == "prelude"


SMITHY_UUID = uuid.UUID("b79bc914-de21-4e13-b8b2-bc47e85b7f0b")
SMITHY_ALL = {  # the README's table for valid_with_all_headers_and_payload
    "true": (0, True), "false": (1, False), "byte": (2, 50), "short": (3, 20000),
    "int": (4, 500000), "long": (5, 50000000000), "bytes": (6, b"some bytes"),
    "str": (7, "some str"), "time": (8, 5_000_000_000), "uuid": (9, SMITHY_UUID),
}


def test_smithy_frame_with_every_type_decodes_as_documented():
    frame = (SMITHY / "valid_with_all_headers_and_payload").read_bytes()
    message = es.decode_message(frame)
    assert message.header_types == {name: code for name, (code, _) in SMITHY_ALL.items()}
    assert message.headers == {
        "true": True, "false": False, "byte": 50, "short": 20000, "int": 500000,
        "long": 50000000000, "bytes": b"some bytes", "str": "some str",
        "time": dt.datetime(1970, 2, 27, 20, 53, 20, tzinfo=dt.timezone.utc),  # 5,000,000 s
        "uuid": SMITHY_UUID.bytes,
    }
    assert message.payload == b"some payload"


def test_smithy_frame_with_every_type_is_what_we_encode():
    frame = (SMITHY / "valid_with_all_headers_and_payload").read_bytes()
    assert es.encode_message(SMITHY_ALL, b"some payload") == frame
    assert len(frame) == 150


def test_smithy_small_valid_frames():
    empty = es.decode_message((SMITHY / "valid_empty_payload").read_bytes())
    assert (empty.headers, empty.header_types, empty.payload) == ({"some-header": 500}, {"some-header": 3}, b"")
    none = es.decode_message((SMITHY / "valid_no_headers").read_bytes())
    assert (none.headers, none.payload) == ({}, b"another test payload")


@pytest.mark.parametrize("name", SMITHY_INVALID)
def test_smithy_invalid_frame_is_rejected(name):
    frame = (SMITHY / name).read_bytes()
    with pytest.raises(es.EventStreamError):
        es.decode_message(frame)
    decoder = es.EventStreamDecoder()
    with pytest.raises(es.EventStreamError):
        decoder.feed(frame)
        decoder.close()
    if name in ("invalid_prelude_checksum", "invalid_message_checksum"):
        with pytest.raises(es.ChecksumMismatch) as info:
            es.decode_message(frame)
        assert info.value.which == name.split("_")[1]
        assert info.value.expected == 0xDEADBEEF


@pytest.mark.parametrize("name", POSITIVE + ["valid_with_all_headers_and_payload", "valid_empty_payload",
                                             "valid_no_headers"])
def test_botocore_agrees_on_the_valid_vectors(name):
    path = VECTORS / "encoded" / "positive" / name
    frame = (path if path.exists() else SMITHY / name).read_bytes()
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    (theirs,) = list(buffer)
    ours = es.decode_message(frame)
    assert ours.payload == theirs.payload
    converted = {
        k: (v - EPOCH) // dt.timedelta(milliseconds=1) if isinstance(v, dt.datetime) else v
        for k, v in ours.headers.items()
    }
    assert converted == theirs.headers

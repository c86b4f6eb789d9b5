"""Event-stream decoding: sagerun vs botocore's EventStreamBuffer on the same
bytes, fed the same way. Run with scripts/bench.sh (release build)."""

import pytest
from botocore.eventstream import EventStreamBuffer

from sagerun import eventstream as es

# SageMaker's real PayloadPart headers.
PAYLOAD_PART = {
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
    ":message-type": "event",
}


def chunks(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


def token_stream(n=20_000):
    return b"".join(es.encode_message(PAYLOAD_PART, b'{"token": "tok%05d"}' % i) for i in range(n))


def big_stream(n=256, size=64 * 1024):
    return b"".join(es.encode_message(PAYLOAD_PART, bytes([i % 251]) * size) for i in range(n))


def decode_sagerun(parts):
    decoder = es.EventStreamDecoder()
    count = 0
    for part in parts:
        for message in decoder.feed(part):
            count += len(message.payload)
    decoder.close()
    return count


def decode_botocore(parts):
    buffer = EventStreamBuffer()
    count = 0
    for part in parts:
        buffer.add_data(part)
        for message in buffer:
            count += len(message.payload)
    return count


def decode_sagerun_reading_headers(parts):
    decoder = es.EventStreamDecoder()
    count = 0
    for part in parts:
        for message in decoder.feed(part):
            if message.headers[":event-type"] == "PayloadPart":
                count += len(message.payload)
    decoder.close()
    return count


def decode_botocore_reading_headers(parts):
    buffer = EventStreamBuffer()
    count = 0
    for part in parts:
        buffer.add_data(part)
        for message in buffer:
            if message.headers[":event-type"] == "PayloadPart":
                count += len(message.payload)
    return count


TOKENS = chunks(token_stream(), 1024)
TOKENS_64K = chunks(token_stream(), 64 * 1024)  # large chunks of small frames
BIG = chunks(big_stream(), 64 * 1024)
BIG_BYTES = sum(map(len, BIG))

CASES = {
    "tokens-20k-1KiB-chunks": (TOKENS, 20_000, "events"),
    "tokens-20k-1KiB-chunks-read-header": (TOKENS, 20_000, "events"),
    "tokens-20k-64KiB-chunks": (TOKENS_64K, 20_000, "events"),
    "frames-64KiB-x256-64KiB-chunks": (BIG, BIG_BYTES / 1e6, "MB"),
}
IMPLS = {
    "sagerun": {"read-header": decode_sagerun_reading_headers, "plain": decode_sagerun},
    "botocore": {"read-header": decode_botocore_reading_headers, "plain": decode_botocore},
}


@pytest.mark.parametrize("impl", ["sagerun", "botocore"])
@pytest.mark.parametrize("case", list(CASES))
def test_decode(benchmark, case, impl):
    parts, units, unit = CASES[case]
    fn = IMPLS[impl]["read-header" if case.endswith("read-header") else "plain"]
    benchmark.group = case
    benchmark.extra_info.update(units=units, unit=unit)
    expected = decode_botocore(parts)
    assert benchmark(fn, parts) == expected

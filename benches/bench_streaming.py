"""Stream payload helpers: sagerun.streaming vs the plain-Python code a boto3
user writes for the same job (a correct version of it, written here), on the
same boto3-shaped events, in the same run. Run with scripts/bench.sh
(release build); the summary at the end gives the sagerun vs python ratio per group.

Workloads: an LLM stream of 20,000 tokens with one record per PayloadPart
(the common case) and the same stream cut into 16-byte parts."""

import codecs
import json

import pytest

from sagerun import streaming as s

N = 20_000


def events(data: bytes, size=None, records=None):
    pieces = records if records is not None else [data[i:i + size] for i in range(0, len(data), size)]
    return [{"PayloadPart": {"Bytes": p}} for p in pieces]


def tgi_records():
    return [b'data:{"index":%d,"token":{"id":%d,"text":" tok%d","logprob":-0.25,"special":false},'
            b'"generated_text":null,"details":null}\n\n' % (i, i, i) for i in range(N)]


def lmi_records():
    return [b'{"token":{"id":%d,"text":" tok\\u00e9%d","log_prob":-0.5}}\n' % (i, i) for i in range(N)]


TGI = tgi_records()
LMI = lmi_records()
WORKLOADS = {
    "tgi-per-record": events(b"", records=TGI),
    "tgi-16B": events(b"".join(TGI), 16),
    "lmi-per-record": events(b"", records=LMI),
    "lmi-16B": events(b"".join(LMI), 16),
}


# --- plain-Python references (correct, linear for short lines) ---------------

def py_lines(parts):
    buffer = b""
    for event in parts:
        buffer += event["PayloadPart"]["Bytes"]
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if buffer:
        yield buffer


def py_sse_data(parts):
    """SSE data per event (LF line ends only, enough for these streams)."""
    data = []
    for line in py_lines(parts):
        if not line:
            if data:
                yield b"\n".join(data)
                data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)


def py_tokens_tgi(parts):
    for data in py_sse_data(parts):
        token = json.loads(data)["token"]
        if token["text"] and not token.get("special"):
            yield token["text"]


def py_tokens_lmi(parts):
    for line in py_lines(parts):
        if line.strip():
            text = json.loads(line)["token"]["text"]
            if text:
                yield text


def py_text(parts):
    decoder = codecs.getincrementaldecoder("utf-8")()
    for event in parts:
        text = decoder.decode(event["PayloadPart"]["Bytes"])
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def consume(iterator):
    count = 0
    for _ in iterator:
        count += 1
    return count


CASES = {
    "lines": (s.iter_lines, py_lines),
    "text": (s.iter_text, py_text),
    "sse": (s.iter_sse, py_sse_data),
}


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("impl", ["sagerun", "python"])
def test_tokens(benchmark, workload, impl):
    parts = WORKLOADS[workload]
    reference = py_tokens_tgi if workload.startswith("tgi") else py_tokens_lmi
    fn = s.iter_tokens if impl == "sagerun" else reference
    benchmark.group = f"tokens {workload}"
    benchmark.extra_info.update(units=N, unit="tokens")
    assert benchmark(lambda: consume(fn(parts))) == N
    assert list(s.iter_tokens(parts)) == list(reference(parts))


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("workload", ["tgi-per-record", "tgi-16B"])
@pytest.mark.parametrize("impl", ["sagerun", "python"])
def test_payload_helpers(benchmark, case, workload, impl):
    parts = WORKLOADS[workload]
    ours, reference = CASES[case]
    fn = ours if impl == "sagerun" else reference
    benchmark.group = f"{case} {workload}"
    benchmark.extra_info.update(units=len(parts), unit="parts")
    benchmark(lambda: consume(fn(parts)))


def test_one_megabyte_line_in_one_byte_parts(benchmark):
    """Linear: the plain `buffer += part` loop is quadratic here, so it is
    not run; this shows the absolute cost of 1,048,576 one-byte parts."""
    line = b"z" * (1 << 20) + b"\n"
    parts = [line[i:i + 1] for i in range(len(line))]
    benchmark.extra_info.update(units=len(parts), unit="parts")
    assert benchmark.pedantic(lambda: consume(s.iter_lines(parts)), rounds=3) == 1

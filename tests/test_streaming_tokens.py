"""sagerun.streaming.iter_tokens on realistic TGI, LMI and OpenAI-style
streams, built here with Python's json module from the formats the vendors
document (TGI's /generate_stream, LMI's jsonlines and sse output formatters,
vLLM's OpenAI-compatible chat and completions chunks), split at random."""

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagerun import streaming as s

token_texts = st.lists(
    st.text(alphabet=st.sampled_from('ab "\\\n\r\t/éé€😀\u2028<>{}:') | st.characters(codec="utf-8"),
            max_size=6),
    min_size=1, max_size=25)


def dumps(obj, ascii_only):
    return json.dumps(obj, ensure_ascii=ascii_only, separators=None if ascii_only else (",", ":"))


def tgi_stream(tokens, ascii_only, eol="\n"):
    """TGI /generate_stream: SSE `data:` without a space, a final special EOS token."""
    records = [{"index": i + 1, "token": {"id": 100 + i, "text": t, "logprob": -0.25, "special": False},
                "generated_text": None, "details": None, "top_tokens": None} for i, t in enumerate(tokens)]
    records.append({"index": len(tokens) + 1, "token": {"id": 2, "text": "</s>", "logprob": -0.01, "special": True},
                    "generated_text": "".join(tokens),
                    "details": {"finish_reason": "eos_token", "generated_tokens": len(tokens) + 1, "seed": None}})
    return "".join(f"data:{dumps(r, ascii_only)}{eol}{eol}" for r in records).encode()


def lmi_records(tokens):
    records = [{"token": {"id": 300 + i, "text": t, "log_prob": -0.5}} for i, t in enumerate(tokens)]
    records[-1].update(generated_text="".join(tokens),
                       details={"finish_reason": "length", "generated_tokens": len(tokens), "inputs": "Hi"})
    return records


def lmi_jsonlines(tokens, ascii_only, final_newline=True):
    text = "\n".join(dumps(r, ascii_only) for r in lmi_records(tokens))
    return (text + ("\n" if final_newline else "")).encode()


def lmi_sse(tokens, ascii_only, eol="\n"):
    """LMI with option.output_formatter=sse: `data: ` + a JSON line + a blank line."""
    return "".join(f"data: {dumps(r, ascii_only)}{eol}{eol}" for r in lmi_records(tokens)).encode()


def openai_chat(tokens, ascii_only, eol="\n"):
    base = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}
    chunks = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "logprobs": None, "finish_reason": None}])]
    chunks += [dict(base, choices=[{"index": 0, "delta": {"content": t}, "logprobs": None, "finish_reason": None}])
               for t in tokens]
    chunks.append(dict(base, choices=[{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop",
                                       "stop_reason": None}]))
    chunks.append(dict(base, choices=[], usage={"prompt_tokens": 3, "completion_tokens": len(tokens),
                                               "total_tokens": 3 + len(tokens)}))
    body = "".join(f"data: {dumps(c, ascii_only)}{eol}{eol}" for c in chunks)
    return (body + f"data: [DONE]{eol}{eol}").encode()


def openai_completions(tokens, ascii_only, eol="\n"):
    base = {"id": "cmpl-7", "object": "text_completion", "created": 1700000000, "model": "m"}
    chunks = [dict(base, choices=[{"index": 0, "text": t, "logprobs": None, "finish_reason": None}]) for t in tokens]
    chunks.append(dict(base, choices=[{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}]))
    return ("".join(f"data: {dumps(c, ascii_only)}{eol}{eol}" for c in chunks) + f"data: [DONE]{eol}{eol}").encode()


def lmi_chat_jsonlines(tokens, ascii_only):
    """LMI's jsonlines_chat formatter: OpenAI chunks as JSON lines, no [DONE]."""
    lines = []
    for i, t in enumerate(tokens):
        delta = {"content": t, "role": "assistant"} if i == 0 else {"content": t}
        lines.append({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                      "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": "length" if i == len(tokens) - 1 else None}]})
    return "".join(dumps(line, ascii_only) + "\n" for line in lines).encode()


BUILDERS = {
    "tgi": (tgi_stream, "tgi"),
    "lmi-jsonl": (lmi_jsonlines, "lmi"),
    "lmi-sse": (lmi_sse, "tgi"),  # SSE + token schema reads as TGI
    "openai-chat": (openai_chat, "openai"),
    "openai-completions": (openai_completions, "openai"),
    "lmi-chat-jsonl": (lmi_chat_jsonlines, "openai"),
}


def split_at(data: bytes, cuts) -> list:
    points = sorted(min(c, len(data)) for c in cuts)
    bounds = [0] + points + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(BUILDERS)), token_texts, st.booleans(),
       st.lists(st.integers(0, 3000), max_size=40), st.booleans())
def test_streams_split_anywhere_give_the_token_texts(name, tokens, ascii_only, cuts, forced):
    build, detected = BUILDERS[name]
    parts = split_at(build(tokens, ascii_only), cuts)
    decoder = s.TokenDecoder(detected if forced else None)
    got = [t for p in parts for t in decoder.feed({"PayloadPart": {"Bytes": p}})] + decoder.finish()
    assert got == [t for t in tokens if t]
    assert decoder.format == detected
    assert list(s.iter_tokens(parts, "auto")) == got


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_sse_streams_with_other_line_ends(eol):
    tokens = ["Hel", "lo", " wor", "ld"]
    for build in (tgi_stream, openai_chat, lmi_sse):
        data = build(tokens, True, eol)
        assert list(s.iter_tokens([data[i:i + 3] for i in range(0, len(data), 3)])) == tokens


def test_special_tokens_skipped_unless_asked_for():
    data = tgi_stream(["a", "b"], True)
    assert list(s.iter_tokens([data])) == ["a", "b"]
    assert list(s.iter_tokens([data], skip_special=False)) == ["a", "b", "</s>"]
    lmi = b'{"token":{"id":1,"text":"x","log_prob":-1}}\n{"token":{"id":2,"text":"<|eot_id|>","special_token":true}}\n'
    assert list(s.iter_tokens([lmi])) == ["x"]


def test_last_jsonl_record_without_newline():
    assert list(s.iter_tokens([lmi_jsonlines(["a", "b"], True, final_newline=False)])) == ["a", "b"]


def test_done_stops_reading():
    def source():
        yield openai_chat(["x"], True)
        raise AssertionError("read past [DONE]")

    assert list(s.iter_tokens(source())) == ["x"]


def test_several_choices_come_out_in_record_order():
    chunk = {"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]}
    assert list(s.iter_tokens([f"data: {json.dumps(chunk)}\n\n".encode()])) == ["a", "b"]


# --- in-band errors and malformed streams -------------------------------------

LMI_ERROR = {"token": {"id": -1, "text": "", "log_prob": -1, "special_token": True},
             "generated_text": "", "details": {"finish_reason": "error", "generated_tokens": None, "inputs": None}}


@pytest.mark.parametrize("stream, message", [
    # LMI: documented in-band error record (HTTP 200), no message field
    ((json.dumps({"token": {"id": 1, "text": "ok", "log_prob": -1}}) + "\n" + json.dumps(LMI_ERROR) + "\n").encode(),
     'finish_reason "error"'),
    # TGI: an `error` string and an error_type
    (b'data:{"token":{"id":1,"text":"ok","special":false}}\n\n'
     b'data:{"error":"Request failed during generation: CUDA out of memory","error_type":"generation"}\n\n',
     "CUDA out of memory"),
    # OpenAI-compatible: an error object
    (b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n'
     b'data: {"error":{"message":"context length exceeded","type":"invalid_request_error","code":400}}\n\n',
     "context length exceeded"),
    # vLLM's ErrorResponse
    (b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n'
     b'data: {"object":"error","message":"engine dead","type":"InternalServerError","code":500}\n\n',
     "engine dead"),
    # an SSE event of type error
    (b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\nevent: error\ndata: upstream timeout\n\n',
     "upstream timeout"),
])
def test_in_band_errors_raise_with_the_message(stream, message):
    out = []
    with pytest.raises(s.ModelGenerationError) as info:
        for token in s.iter_tokens([stream[i:i + 5] for i in range(0, len(stream), 5)]):
            out.append(token)
    assert out == ["ok"]
    assert message in info.value.message and message in str(info.value)
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("stream, fmt", [
    (b'{"outputs": ["This"]}\n', "auto"),          # neither token nor choices
    (b"data: not json\n\n", "auto"),
    (b"{not json\n", "auto"),
    (b'data: ["a"]\n\n', "auto"),                   # JSON, but not an object
    (b'data:{"token":{"text":"x"}}\n\n', "openai"),  # forced format does not fit
    (b'{"choices":[]}\n', "lmi"),
])
def test_malformed_streams_raise_stream_format_error(stream, fmt):
    with pytest.raises(s.StreamFormatError) as info:
        list(s.iter_tokens([stream], fmt))
    assert isinstance(info.value, ValueError) and info.value.record


def test_bad_arguments_are_refused_at_the_call():
    with pytest.raises(ValueError):
        s.iter_tokens([], "mistral")
    with pytest.raises(ValueError):
        s.iter_tokens([], max_record_bytes=0)
    with pytest.raises(TypeError):
        s.aiter_tokens([b"x"])


def test_max_record_bytes():
    with pytest.raises(s.LineTooLong):
        list(s.iter_tokens([lmi_jsonlines(["x" * 200], True)], max_record_bytes=100))
    with pytest.raises(s.EventTooLong):
        list(s.iter_tokens([tgi_stream(["x" * 200], True)], max_record_bytes=100))


def test_blank_stream_gives_nothing():
    assert list(s.iter_tokens([b"", b"\n \r\n", b""])) == []


def test_async_twin():
    async def agen(data):
        for i in range(0, len(data), 4):
            yield {"PayloadPart": {"Bytes": data[i:i + 4]}}

    async def run(data):
        return [t async for t in s.aiter_tokens(agen(data))]

    assert asyncio.run(run(openai_chat(["a", "é", "😀"], False))) == ["a", "é", "😀"]
    assert asyncio.run(run(lmi_jsonlines(["a", "b"], True))) == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(BUILDERS)), token_texts, st.lists(st.integers(0, 3000), max_size=20))
def test_async_twins_match_sync(name, tokens, cuts):
    parts = split_at(BUILDERS[name][0](tokens, False), cuts)

    async def agen():
        for p in parts:
            yield p

    async def run(helper):
        return [x async for x in helper(agen())]

    assert asyncio.run(run(s.aiter_tokens)) == list(s.iter_tokens(parts))
    assert asyncio.run(run(s.aiter_sse)) == list(s.iter_sse(parts))
    assert asyncio.run(run(s.aiter_lines)) == list(s.iter_lines(parts))


def test_sync_helpers_are_iterators_that_read_lazily():
    pulled = []

    def source():
        for p in [b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'] * 3:
            pulled.append(p)
            yield p

    tokens = s.iter_tokens(source())
    assert iter(tokens) is tokens and pulled == []
    assert next(tokens) == "a" and len(pulled) == 1


def test_tokens_before_an_error_in_the_same_part_come_out_first():
    part = (b'data:{"token":{"text":"a"}}\n\ndata:{"token":{"text":"b"}}\n\n'
            b'data:{"error":"boom","error_type":"generation"}\n\ndata:{"token":{"text":"c"}}\n\n')
    out = []
    with pytest.raises(s.ModelGenerationError):
        for t in s.iter_tokens([part, b"never read"]):
            out.append(t)
    assert out == ["a", "b"]

    async def agen():
        yield part

    async def run():
        got = []
        with pytest.raises(s.ModelGenerationError):
            async for t in s.aiter_tokens(agen()):
                got.append(t)
        return got

    assert asyncio.run(run()) == ["a", "b"]
    with pytest.raises(s.ModelGenerationError) as info:
        s.TokenDecoder().feed(part)
    assert info.value.items == ["a", "b"]

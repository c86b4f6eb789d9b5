"""Endpoint declarations: one parser (Rust) for Python dicts, JSON files and
the command line; mistakes are refused at start-up, naming endpoint and key."""

from __future__ import annotations

import pytest

from sagerun.cli import coerce_value, parse_endpoint_spec
from sagerun.local import LocalRuntime


@pytest.mark.parametrize(
    "endpoints,fragments",
    [
        ({"a": {"model": "tokens", "txt": "x"}}, ["endpoint 'a'", "txt"]),
        ({"a": {"model": "echo", "faults": {"latency": 1}}}, ["endpoint 'a': faults", "latency"]),
        ({"a": {"model": "nope"}}, ["endpoint 'a'", "unknown model `nope`"]),
        ({"a": {"model": "tokens", "format": "xml"}}, ["endpoint 'a'", "xml"]),
        ({"a": {"model": "tokens", "split": "words"}}, ["endpoint 'a'", "words"]),
        ({"a": {"model": "error", "code": "Oops"}}, ["endpoint 'a'", "Oops"]),
        ({"a": {"model": "proxy"}}, ["endpoint 'a'", "url"]),
        ({"a": {"model": "proxy", "url": "https://x:1"}}, ["endpoint 'a'", "http://"]),
        ({"a": {}}, ["endpoint 'a'", "model"]),
        ({"a": {"model": "echo", "faults": {"error_rate": 1.5}}}, ["error_rate"]),
        ({"a": {"model": "tokens", "parts": "many"}}, ["endpoint 'a'", "parts"]),
        ({"bad_name": {"model": "echo"}}, ["bad_name"]),
    ],
)
def test_mistakes_are_refused_with_the_endpoint_and_key(endpoints, fragments):
    with pytest.raises(ValueError) as info:
        LocalRuntime(endpoints)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_non_data_endpoints_are_a_type_error():
    with pytest.raises(TypeError):
        LocalRuntime({"a": {"model": "echo", "x": object()}})
    with pytest.raises(TypeError):
        LocalRuntime([("a", {"model": "echo"})])  # type: ignore[arg-type]


def test_bad_credentials_are_refused():
    with pytest.raises(TypeError):
        LocalRuntime({"a": {"model": "echo"}}, credentials=[("only-one",)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        LocalRuntime({"a": {"model": "echo"}}, credentials=[])


def test_port_in_use_is_an_os_error(local_runtime):
    rt = local_runtime({"a": {"model": "echo"}})
    with pytest.raises(OSError):
        LocalRuntime({"a": {"model": "echo"}}, port=rt.port)


def test_runtime_lifecycle(local_runtime):
    rt = local_runtime({"a": {"model": "echo"}})
    assert rt.running and rt.url == f"http://127.0.0.1:{rt.port}" and rt.port > 0
    assert "running" in repr(rt)
    rt.stop()
    rt.stop()  # idempotent
    assert not rt.running


def test_context_manager_stops_and_cleans_the_temporary_data_dir():
    import os

    with LocalRuntime({"a": {"model": "echo"}}) as rt:
        data_dir = rt.data_dir
        assert os.path.isdir(data_dir)
    assert not rt.running
    assert not os.path.exists(data_dir)


@pytest.mark.parametrize(
    "text,value",
    [("true", True), ("False", False), ("12", 12), ("-3", -3), ("0.5", 0.5), ("1e3", 1000.0), ("sse", "sse"), ("", ""), ('"42"', "42"), ('"true"', "true"), ('"', '"')],
)
def test_cli_values_are_coerced(text, value):
    assert coerce_value(text) == value and type(coerce_value(text)) is type(value)


def test_endpoint_spec_parses_to_the_same_data_as_python():
    name, decl = parse_endpoint_spec("llm=tokens,text=Hello world,parts=4,format=sse,faults.latency_ms=5,faults.error_rate=0.5")
    assert name == "llm"
    assert decl == {
        "model": "tokens", "text": "Hello world", "parts": 4, "format": "sse",
        "faults": {"latency_ms": 5, "error_rate": 0.5},
    }
    assert parse_endpoint_spec("e=echo") == ("e", {"model": "echo"})


@pytest.mark.parametrize("spec", ["noequals", "=echo", "e=", "e=echo,novalue", "e=echo,a=1,a=2", "e=k=v", "e=echo,f=1,f.x=2"])
def test_malformed_endpoint_specs(spec):
    with pytest.raises(ValueError):
        parse_endpoint_spec(spec)

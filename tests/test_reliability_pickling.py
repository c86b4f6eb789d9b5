"""Pickling a client: its configuration travels, its secrets only when they
were passed explicitly, and the copy works in another process (spawn)
against a local runtime that checks every signature."""

from __future__ import annotations

import multiprocessing
import pickle

import boto3
import botocore.session
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sagerun
from sagerun import _config

CHAIN_KEYS = ("AKIDFROMCHAIN", "chain-secret-0123456789", "chain-session-token-xyz")
OTHER_KEYS = ("AKIDOTHERCHAIN", "other-secret-9876543210", "other-session-token-abc")


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No credentials, profiles or region from the machine: each test sets its own."""
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
                 "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def use_chain_keys(monkeypatch, keys):
    access, secret, token = keys
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)


def echo(client, body=b"hello"):
    return client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read()


def test_the_configuration_survives_a_round_trip(local_runtime, isolated_env):
    rt = local_runtime({"echo": {"model": "echo"}})
    config = Config(connect_timeout=3, read_timeout=12, max_pool_connections=7,
                    retries={"mode": "standard", "total_max_attempts": 2}, user_agent_extra="myapp/3")
    client = sagerun.Client(**rt.client_kwargs(), config=config, verify=False)
    copy = pickle.loads(pickle.dumps(client))
    assert type(copy) is sagerun.Client and copy is not client
    # The copy resolves exactly what the original resolved, operation by operation.
    for op in ("InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"):
        assert (_config.settings_for(copy._botocore_client, op)
                == _config.settings_for(client._botocore_client, op))
    settings = _config.settings_for(copy._botocore_client, "InvokeEndpoint")
    assert (settings.connect_timeout, settings.read_timeout, settings.max_pool_connections) == (3, 12, 7)
    assert (settings.retry_mode, settings.max_attempts, settings.verify) == ("standard", 2, False)
    assert "myapp/3" in settings.user_agent
    assert echo(copy) == b"hello" and echo(client) == b"hello"


def test_explicit_keys_are_in_the_pickle_as_documented(local_runtime, isolated_env):
    rt = local_runtime({"echo": {"model": "echo"}})
    client = sagerun.Client(**rt.client_kwargs(), aws_session_token="explicit-token")
    data = pickle.dumps(client)
    assert rt.client_kwargs()["aws_secret_access_key"].encode() in data
    assert b"explicit-token" in data
    assert "in clear" in (sagerun.Client.__doc__ or "")


def test_credentials_from_the_chain_are_never_pickled_and_resolve_again(
        local_runtime, isolated_env, monkeypatch):
    rt = local_runtime({"echo": {"model": "echo"}}, credentials=[OTHER_KEYS[:2]])
    use_chain_keys(monkeypatch, CHAIN_KEYS)
    client = sagerun.Client(endpoint_url=rt.url, region_name="us-east-1")
    data = pickle.dumps(client)
    for secret in CHAIN_KEYS:
        assert secret.encode() not in data
    # Where it is unpickled, the chain gives other keys: the copy uses them
    # (the runtime only accepts those); the original keeps its own.
    use_chain_keys(monkeypatch, OTHER_KEYS)
    copy = pickle.loads(data)
    assert echo(copy) == b"hello"
    with pytest.raises(client.exceptions.ClientError) as e:
        echo(client)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _write_profile(tmp_path, name, region, keys):
    (tmp_path / "config").write_text(f"[profile {name}]\nregion = {region}\n")
    (tmp_path / "credentials").write_text(
        f"[{name}]\naws_access_key_id = {keys[0]}\naws_secret_access_key = {keys[1]}\n")


@pytest.mark.parametrize("make_session", [
    lambda: boto3.Session(profile_name="team"),
    lambda: botocore.session.Session(profile="team"),
], ids=["boto3", "botocore"])
def test_a_session_client_pickles_as_its_profile_and_region(local_runtime, isolated_env, make_session):
    keys = ("AKIDPROFILE", "profile-secret-0123456789")
    _write_profile(isolated_env, "team", "eu-west-3", keys)
    rt = local_runtime({"echo": {"model": "echo"}}, credentials=[keys], region="eu-west-3")
    client = sagerun.Client(session=make_session(), endpoint_url=rt.url)
    data = pickle.dumps(client)
    assert keys[1].encode() not in data
    copy = pickle.loads(data)
    assert copy.meta.region_name == "eu-west-3"
    assert echo(copy) == b"hello"


def test_a_session_holding_explicit_keys_refuses_to_pickle(local_runtime, isolated_env):
    rt = local_runtime({"echo": {"model": "echo"}})
    kw = rt.client_kwargs()
    session = boto3.Session(aws_access_key_id=kw["aws_access_key_id"],
                            aws_secret_access_key=kw["aws_secret_access_key"], region_name="us-east-1")
    client = sagerun.Client(session=session, endpoint_url=rt.url)
    with pytest.raises(pickle.PicklingError, match="aws_access_key_id"):
        pickle.dumps(client)
    assert echo(client) == b"hello"


def _call_in_child(client, queue):
    try:
        body = client.invoke_endpoint(EndpointName="echo", Body=b"from the child")["Body"].read()
        stream = client.invoke_endpoint_with_response_stream(EndpointName="tok", Body=b"{}")
        parts = b"".join(e["PayloadPart"]["Bytes"] for e in stream["Body"])
        queue.put((body, parts, client.meta.region_name))
    except Exception as e:  # noqa: BLE001 - reported to the parent
        queue.put(repr(e))


def test_works_after_unpickling_in_a_spawned_process(local_runtime, isolated_env, monkeypatch):
    """Credentials from the chain, resolved again in the child (spawn pickles
    the Process arguments; explicit keys: tests/test_reliability_fork.py)."""
    rt = local_runtime({"echo": {"model": "echo"}, "tok": {"model": "tokens", "text": "abcdef", "parts": 3}})
    kw = rt.client_kwargs()
    # The spawned child inherits this environment and resolves the keys there.
    use_chain_keys(monkeypatch, (kw["aws_access_key_id"], kw["aws_secret_access_key"], "tok"))
    client = sagerun.Client(endpoint_url=rt.url, region_name="us-east-1")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_call_in_child, args=(client, queue))
    child.start()
    try:
        result = queue.get(timeout=120)
    finally:
        child.join(timeout=30)
    assert result == (b"from the child", b"abcdef", "us-east-1")
    assert child.exitcode == 0


configs = st.builds(
    Config,
    connect_timeout=st.one_of(st.none(), st.integers(1, 120)),
    read_timeout=st.one_of(st.none(), st.floats(0.5, 600)),
    max_pool_connections=st.integers(1, 512),  # None fails in boto3 too
    retries=st.one_of(st.none(), st.fixed_dictionaries({
        "mode": st.sampled_from(["legacy", "standard", "adaptive"]),
        "total_max_attempts": st.integers(1, 10)})),
    user_agent_extra=st.one_of(st.none(), st.from_regex(r"[a-z]{1,8}/[0-9]{1,3}", fullmatch=True)),
    use_fips_endpoint=st.one_of(st.none(), st.booleans()),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=configs, region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"]),
       endpoint=st.sampled_from([None, "http://127.0.0.1:9", "https://example.test:8443/base"]),
       verify=st.sampled_from([None, False, True]))
def test_any_configuration_resolves_the_same_after_a_round_trip(isolated_env, config, region, endpoint, verify):
    client = sagerun.Client(region_name=region, endpoint_url=endpoint, config=config, verify=verify,
                            aws_access_key_id="AKID", aws_secret_access_key="secret")
    copy = pickle.loads(pickle.dumps(client))
    for op in ("InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"):
        assert (_config.settings_for(copy._botocore_client, op)
                == _config.settings_for(client._botocore_client, op))

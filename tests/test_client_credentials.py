"""Credentials come from botocore's chain exactly as boto3 finds them; the
LocalRuntime verifies every signature, so a call that succeeds was signed
with the credentials the chain resolved (and a wrong one is refused)."""

from __future__ import annotations

import datetime

import boto3
import botocore.session
import pytest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError, NoCredentialsError

import sagerun
from sagerun.local import LocalRuntime

ACCESS, SECRET = "AKIDCHAINTEST", "chain-secret-key"


@pytest.fixture(scope="module")
def rt():
    with LocalRuntime({"echo": {"model": "echo"}}, region="eu-west-1",
                      credentials=[(ACCESS, SECRET), ("AKIDOTHER", "other-secret")]) as runtime:
        yield runtime


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Nothing outside loopback may be asked for credentials.
    for name in ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"]:
        monkeypatch.delenv(name, raising=False)


def works(client) -> bool:
    return client.invoke_endpoint(EndpointName="echo", Body=b"ping")["Body"].read() == b"ping"


def test_credentials_from_env_vars(rt, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert works(sagerun.Client(endpoint_url=rt.url))


def test_credentials_and_region_from_a_profile(rt, monkeypatch, tmp_path):
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n"
        f"[team]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\n"
    )
    (tmp_path / "config").write_text("[profile team]\nregion = eu-west-1\n")
    client = sagerun.Client(profile_name="team", endpoint_url=rt.url)
    assert client.meta.region_name == "eu-west-1"
    assert works(client)
    monkeypatch.setenv("AWS_PROFILE", "team")
    assert works(sagerun.Client(endpoint_url=rt.url))
    with pytest.raises(ClientError) as info:
        sagerun.Client(profile_name="default", region_name="eu-west-1", endpoint_url=rt.url).invoke_endpoint(
            EndpointName="echo", Body=b"x")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_credentials_from_a_botocore_session(rt):
    session = botocore.session.Session()
    session.set_credentials("AKIDOTHER", "other-secret")
    assert works(sagerun.Client(session=session, region_name="eu-west-1", endpoint_url=rt.url))


def test_credentials_from_a_boto3_session(rt):
    session = boto3.Session(aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, region_name="eu-west-1")
    client = sagerun.Client(session=session, endpoint_url=rt.url)
    assert works(client)
    # The same session's boto3 client shares the exception classes.
    assert client.exceptions.ModelError is session.client(
        "sagemaker-runtime", endpoint_url=rt.url).exceptions.ModelError


def test_refreshable_credentials_are_frozen_per_request(rt):
    calls = []

    def refresh():
        # Inside botocore's advisory refresh window (15 min): every use refreshes.
        calls.append(1)
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=12)
        return {"access_key": ACCESS, "secret_key": SECRET, "token": None,
                "expiry_time": expiry.isoformat()}

    session = botocore.session.Session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="test")
    calls.clear()
    client = sagerun.Client(session=session, region_name="eu-west-1", endpoint_url=rt.url)
    assert works(client) and works(client)
    assert len(calls) >= 2


def test_no_credentials_raise_before_sending(rt):
    client = sagerun.Client(region_name="eu-west-1", endpoint_url=rt.url)
    with pytest.raises(NoCredentialsError):
        client.invoke_endpoint(EndpointName="echo", Body=b"x")


def test_explicit_keys_with_session_token(rt):
    with LocalRuntime({"echo": {"model": "echo"}}, credentials=(ACCESS, SECRET)) as runtime:
        client = sagerun.Client(endpoint_url=runtime.url, region_name="us-east-1",
                                aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                                aws_session_token="a-session-token")
        assert works(client)

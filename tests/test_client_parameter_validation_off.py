"""``Config(parameter_validation=False)``: as with boto3, the service judges
lengths, patterns and sizes (the same answers from the same runtime through
both clients); what cannot be sent as asked is still refused before sending."""

from __future__ import annotations

import boto3
import botocore.exceptions as bex
import pytest
from botocore.config import Config

import sagerun
from sagerun.local import LocalRuntime

OFF = Config(parameter_validation=False, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def runtime():
    with LocalRuntime({"echo": {"model": "echo"}}) as rt:
        yield rt


def _outcome(client, params):
    try:
        r = client.invoke_endpoint(**params)
    except bex.ClientError as e:
        return type(e).__name__, e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return "ok", r["Body"].read()


@pytest.mark.parametrize("params", [
    {"EndpointName": "e" * 64, "Body": b"{}"},               # over the model's max length
    {"EndpointName": "-echo", "Body": b"{}"},                # outside the model's pattern
    {"EndpointName": "echo", "Body": b"{}", "CustomAttributes": "x" * 1025},
    {"EndpointName": "echo", "Body": b"x" * (6 * 1024 * 1024 + 1)},  # the runtime answers 413 unread
    {"EndpointName": "echo", "Body": b"{}", "ContentType": "application/json"},
], ids=["name-length", "name-pattern", "custom-attributes-length", "body-size", "valid"])
def test_the_service_judges_what_the_model_would_refuse(runtime, params):
    ours = sagerun.Client(config=OFF, **runtime.client_kwargs())
    theirs = boto3.client("sagemaker-runtime", config=OFF, **runtime.client_kwargs())
    assert _outcome(ours, params) == _outcome(theirs, params)
    # With validation on, sagerun refuses the invalid ones before sending.
    if params.get("ContentType") is None:
        with pytest.raises(bex.ParamValidationError):
            sagerun.Client(**runtime.client_kwargs()).invoke_endpoint(**params)


@pytest.mark.parametrize("params", [
    {"Body": b"{}"},
    {"EndpointName": "echo", "Body": b"{}", "Unknown": 1},
    {"EndpointName": "echo", "Body": 123},
    {"EndpointName": "echo", "Body": b"{}", "ContentType": "a\r\nX-Injected: 1"},
], ids=["missing", "unknown", "wrong-type", "header-injection"])
def test_what_cannot_be_sent_is_still_refused_first(params):
    client = sagerun.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                            aws_access_key_id="a", aws_secret_access_key="b", config=OFF)
    with pytest.raises(bex.ParamValidationError):
        client.invoke_endpoint(**params)


def test_the_profile_setting_turns_it_off_too(runtime, monkeypatch, tmp_path):
    """botocore also reads ``parameter_validation = false`` from the profile."""
    config_file = tmp_path / "config"
    config_file.write_text("[default]\nparameter_validation = false\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    params = {"EndpointName": "e" * 64, "Body": b"{}"}
    retries = Config(retries={"total_max_attempts": 1})
    ours = sagerun.Client(config=retries, **runtime.client_kwargs())
    theirs = boto3.client("sagemaker-runtime", config=retries, **runtime.client_kwargs())
    assert _outcome(ours, params) == _outcome(theirs, params)
    assert _outcome(ours, params)[1] == "ValidationError"

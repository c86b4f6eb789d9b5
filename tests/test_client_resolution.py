"""Construction resolves like boto3: the protocol table agrees with botocore's
model, endpoint URLs equal the ones botocore itself sends to, and settings
(retries, timeouts, pool, verify, proxies, user agent) come from botocore's
resolution. No server is needed: botocore's requests are captured with a
``before-send`` hook that answers them locally."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
import botocore.session

import sagerun
from sagerun import _config, _protocol

KEYS = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret-test-key"}
OPERATIONS = ["InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"]
MINIMAL = {
    "InvokeEndpoint": {"EndpointName": "ep", "Body": b"{}"},
    "InvokeEndpointAsync": {"EndpointName": "ep", "InputLocation": "s3://b/k"},
    "InvokeEndpointWithResponseStream": {"EndpointName": "ep", "Body": b"{}"},
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in [
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE",
        "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "HTTPS_PROXY", "HTTP_PROXY",
        "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "REQUESTS_CA_BUNDLE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def botocore_sends_to(operation: str, **client_kwargs) -> str:
    """The URL botocore's own client sends `operation` to."""
    client = botocore.session.Session().create_client("sagemaker-runtime", **KEYS, **client_kwargs)
    seen = []

    def capture(request, **_):
        seen.append(request.url)
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ValidationError"}, None)

    client.meta.events.register("before-send", capture)
    method = getattr(client, client.meta.method_to_api_mapping and
                     {v: k for k, v in client.meta.method_to_api_mapping.items()}[operation])
    with pytest.raises(Exception):
        method(**MINIMAL[operation])
    return seen[0]


def sagerun_sends_to(operation: str, **client_kwargs) -> str:
    client = sagerun.Client(**KEYS, **client_kwargs)
    url = _config.endpoint_for(client._botocore_client, operation)[0]
    suffix = _protocol.OPERATIONS[operation].path_suffix
    return f"{url.rstrip('/')}/endpoints/ep/{suffix}"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "case",
    [
        {"region_name": "us-east-1"},
        {"region_name": "eu-west-3"},
        {"region_name": "cn-north-1"},
        {"region_name": "us-gov-west-1", "config": Config(use_fips_endpoint=True)},
        {"region_name": "us-east-1", "config": Config(use_fips_endpoint=True)},
        {"region_name": "us-east-1", "config": Config(use_dualstack_endpoint=True)},
        {"region_name": "us-east-2", "config": Config(use_fips_endpoint=True, use_dualstack_endpoint=True)},
        {"region_name": "us-east-1", "endpoint_url": "https://example.com/base"},
        {"config": Config(region_name="ap-south-1")},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items() if k != "config")
    + (f",config={c['config']._user_provided_options}" if "config" in c else ""),
)
def test_endpoint_url_equals_what_botocore_sends_to(operation, case):
    assert sagerun_sends_to(operation, **case) == botocore_sends_to(operation, **case)


def test_endpoint_url_from_service_specific_env_var(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9/custom")
    for op in OPERATIONS:
        url = botocore_sends_to(op, region_name="us-west-2")
        assert url.startswith("http://127.0.0.1:9/custom/")
        assert sagerun_sends_to(op, region_name="us-west-2") == url


def test_fips_and_dualstack_from_env(monkeypatch):
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    url = botocore_sends_to("InvokeEndpoint", region_name="us-east-1")
    assert sagerun_sends_to("InvokeEndpoint", region_name="us-east-1") == url


def test_missing_region_raises_botocores_error():
    from botocore.exceptions import NoRegionError

    with pytest.raises(NoRegionError):
        sagerun.Client(**KEYS)


def test_protocol_table_agrees_with_botocores_model():
    """Every header binding in sagerun_core::protocol is the model's, and every
    header member the installed botocore knows is in the table (or refused
    by name when used, for a botocore newer than sagerun)."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    for name, table in _protocol.OPERATIONS.items():
        op = model.operation_model(name)
        request = {b.member: b for b in table.request_headers}
        model_headers = {
            m: s for m, s in op.input_shape.members.items() if s.serialization.get("location") == "header"
        }
        assert set(request) == set(model_headers), name
        for member, shape in model_headers.items():
            assert request[member].header == shape.serialization["name"]
            assert request[member].is_integer == (shape.type_name == "integer")
        response = {b.member: b for b in table.response_headers}
        model_out = {
            m: s for m, s in op.output_shape.members.items() if s.serialization.get("location") == "header"
        }
        assert set(response) == set(model_out), name
        for member, shape in model_out.items():
            assert response[member].header == shape.serialization["name"]
        assert f"/{table.path_suffix}" == op.http["requestUri"].rsplit("}", 1)[1]
        # Every modeled error shape of the operation is a modeled code in the table.
        modeled = {code for code, _status, is_modeled in _protocol.ERROR_CODES if is_modeled}
        for error_shape in op.error_shapes:
            assert error_shape.name in modeled
            assert error_shape.name in table.errors
    statuses = {code: status for code, status, _ in _protocol.ERROR_CODES}
    for shape in model.error_shapes:
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status is not None:
            assert statuses[shape.name] == status


def test_settings_follow_botocore_config():
    client = sagerun.Client(
        region_name="us-east-1",
        **KEYS,
        config=Config(
            connect_timeout=3, read_timeout=9, max_pool_connections=7,
            retries={"mode": "legacy", "max_attempts": 4}, user_agent_extra="app/1.0",
        ),
    )
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert (s.connect_timeout, s.read_timeout, s.max_pool_connections) == (3, 9, 7)
    assert (s.retry_mode, s.max_attempts) == ("legacy", 5)  # max_attempts counts retries
    assert "app/1.0" in s.user_agent
    assert s.user_agent.endswith(f"sagerun/{sagerun.__version__}")
    assert s.user_agent.startswith("Botocore/")


def test_defaults_are_sized_for_fan_out():
    client = sagerun.Client(region_name="us-east-1", **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert s.connect_timeout == 60 and s.read_timeout == 70
    assert s.max_pool_connections >= 64
    assert s.verify is True and s.ca_bundle is None and s.proxy_url is None


def test_retry_settings_from_env(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "6")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    client = sagerun.Client(region_name="us-east-1", **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert (s.retry_mode, s.max_attempts) == ("standard", 6)


def test_ca_bundle_and_verify_resolution(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not used before a request")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    client = sagerun.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:9", **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert (s.verify, s.ca_bundle) == (True, str(bundle))
    client = sagerun.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:9", verify=False, **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert s.verify is False


def test_ca_bundle_in_config_file(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    config = tmp_path / "config"
    config.write_text(f"[default]\nca_bundle = {bundle}\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    client = sagerun.Client(endpoint_url="http://127.0.0.1:9", **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert s.ca_bundle == str(bundle) and s.region == "eu-central-1"


def test_an_unreadable_ca_bundle_fails_at_construction(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("no certificates here")
    with pytest.raises(ValueError, match="CA bundle"):
        sagerun.Client(region_name="us-east-1", endpoint_url="https://127.0.0.1:9", verify=str(bundle), **KEYS)


def test_proxies_from_env_and_config(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pa%20ss@127.0.0.1:3128")
    client = sagerun.Client(region_name="us-east-1", **KEYS)
    s = _config.settings_for(client._botocore_client, "InvokeEndpoint")
    assert s.proxy_url == "http://127.0.0.1:3128"
    assert s.proxy_authorization and s.proxy_authorization.startswith("Basic ")
    monkeypatch.setenv("NO_PROXY", "amazonaws.com")
    client = sagerun.Client(region_name="us-east-1", **KEYS)
    assert _config.settings_for(client._botocore_client, "InvokeEndpoint").proxy_url is None
    client = sagerun.Client(
        region_name="us-east-1", endpoint_url="http://127.0.0.1:9", **KEYS,
        config=Config(proxies={"http": "127.0.0.1:8888"}),
    )
    assert _config.settings_for(client._botocore_client, "InvokeEndpoint").proxy_url == "http://127.0.0.1:8888"


def test_session_and_profile_name_are_exclusive():
    with pytest.raises(ValueError):
        sagerun.Client(session=botocore.session.Session(), profile_name="x", region_name="us-east-1")


def test_positional_arguments_are_refused_like_boto3():
    client = sagerun.Client(region_name="us-east-1", **KEYS)
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        client.invoke_endpoint("ep", b"{}")


def test_no_secret_in_repr():
    client = sagerun.Client(region_name="us-east-1", **KEYS, aws_session_token="token-secret")
    text = repr(client) + repr(vars(client))
    assert "secret-test-key" not in repr(client)
    assert "token-secret" not in repr(client)
    assert "us-east-1" in repr(client)
    del text

"""Parameter validation: everything botocore's own validator rejects is
rejected with the same report (checked on hypothesis-generated inputs), and
the extra checks (maximum lengths, model patterns, control characters in
header members, body limits) fail before anything is sent."""

from __future__ import annotations

import socket

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sagerun
from sagerun._validation import OperationValidator

MODEL = botocore.session.get_session().get_service_model("sagemaker-runtime")
OPERATIONS = list(MODEL.operation_names)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a request that is sent fails to
    connect, so ParamValidationError proves nothing was sent."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def client():
    return sagerun.Client(
        region_name="us-east-1", endpoint_url=closed_port_url(),
        aws_access_key_id="AK", aws_secret_access_key="SK",
    )


def botocore_report(operation: str, params: dict) -> str:
    report = ParamValidator().validate(params, MODEL.operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else ""


values = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 30000), st.floats(allow_nan=False),
    st.text(max_size=80), st.binary(max_size=40), st.lists(st.integers(), max_size=2),
)


@st.composite
def params_for(draw, operation: str):
    members = list(MODEL.operation_model(operation).input_shape.members)
    names = draw(st.lists(st.sampled_from(members + ["Bogus", "endpointname"]), unique=True, max_size=6))
    return {name: draw(values) for name in names}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rejects_whatever_botocore_rejects_with_the_same_report(data):
    operation = data.draw(st.sampled_from(OPERATIONS))
    params = data.draw(params_for(operation))
    expected = botocore_report(operation, params)
    validate = OperationValidator(MODEL.operation_model(operation))
    try:
        validate(dict(params))
    except ParamValidationError as e:
        ours = str(e)
        if expected:
            # botocore's lines come first, verbatim.
            assert ours.startswith(f"Parameter validation failed:\n{expected}")
        else:
            # Only the checks botocore leaves to the service may add errors.
            assert any(word in ours for word in ("max length", "max value", "pattern",
                                                 "control characters", "Invalid type for parameter",
                                                 "not supported"))
    else:
        assert expected == "", f"botocore rejects {params!r}: {expected}"


# One validator per operation for the whole run: values that passed are
# remembered, and that memory must never change an outcome.
SHARED_VALIDATORS = {op: OperationValidator(MODEL.operation_model(op)) for op in OPERATIONS}


def outcome(validate, params):
    try:
        v = validate(dict(params))
    except ParamValidationError as e:
        return ("error", str(e))
    return ("ok",) + tuple(v)


good_text = st.sampled_from(["ep", "my-endpoint-1", "application/json", "text/csv", "a1"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_and_its_memory_decide_like_the_full_validator(data):
    operation = data.draw(st.sampled_from(OPERATIONS))
    members = list(MODEL.operation_model(operation).input_shape.members)
    names = data.draw(st.lists(st.sampled_from(members + ["Bogus"]), unique=True, max_size=6))
    params = {n: data.draw(st.one_of(good_text, values)) for n in names}
    # The full validator (checked against botocore above) is the reference.
    fresh = outcome(OperationValidator(MODEL.operation_model(operation))._full, params)
    shared = SHARED_VALIDATORS[operation]
    assert outcome(shared, params) == fresh
    assert outcome(shared, params) == fresh  # again, now from memory


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"EndpointName": "ep"}, 'Missing required parameter in input: "Body"'),
        ({"EndpointName": "ep", "Body": b"", "Nope": 1}, 'Unknown parameter in input: "Nope"'),
        ({"EndpointName": "ep", "Body": 5}, "Invalid type for parameter Body"),
        ({"EndpointName": "ep", "Body": b"", "TargetModel": ""}, "valid min length: 1"),
        ({"EndpointName": "ep", "Body": b"", "CustomAttributes": "a\r\nX-Evil: 1"}, "control characters"),
        ({"EndpointName": "ep", "Body": b"", "ContentType": "text/plain\n"}, "control characters"),
        ({"EndpointName": "ep", "Body": b"", "Accept": "\x00"}, "control characters"),
        ({"EndpointName": "e" * 64, "Body": b""}, "valid max length: 63"),
        ({"EndpointName": "-ep", "Body": b""}, "pattern"),
        ({"EndpointName": "ep", "Body": b"x" * (6 * 1024 * 1024 + 1)}, "valid max length: 6291456"),
        ({"EndpointName": "ep", "Body": b"", "SessionId": "bad id!"}, None),
        ({"EndpointName": "ep", "Body": b"", "CustomAttributes": "caf\u00e9"}, "not a valid header value"),
    ],
)
def test_bad_parameters_raise_before_sending(client, kwargs, fragment):
    with pytest.raises(ParamValidationError) as info:
        client.invoke_endpoint(**kwargs)
    if fragment:
        assert fragment in str(info.value)


def test_async_integer_ranges_and_patterns(client):
    base = {"EndpointName": "ep", "InputLocation": "s3://bucket/key"}
    for extra, fragment in [
        ({"RequestTTLSeconds": 59}, "valid min value: 60"),
        ({"RequestTTLSeconds": 21601}, "valid max value: 21600"),
        ({"InvocationTimeoutSeconds": "5"}, "Invalid type"),
        ({"InputLocation": "ftp://x/y"}, "pattern"),
        ({"Filename": "a.b.c"}, "pattern"),
    ]:
        with pytest.raises(ParamValidationError, match=fragment):
            client.invoke_endpoint_async(**{**base, **extra})


def test_stream_session_id_refuses_new_session(client):
    # The stream operation's pattern has no NEW_SESSION alternative.
    with pytest.raises(ParamValidationError, match="pattern"):
        client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"", SessionId="NEW_SESSION!")


def test_valid_parameters_reach_the_network(client):
    from botocore.exceptions import EndpointConnectionError

    with pytest.raises(EndpointConnectionError):
        client.invoke_endpoint(
            EndpointName="ep", Body="text", ContentType="text/plain", Accept="*/*",
            CustomAttributes="c", TargetModel="m.tar.gz", TargetVariant="v1",
            TargetContainerHostname="h", InferenceId="i", EnableExplanations="`true`",
            InferenceComponentName="ic", SessionId="NEW_SESSION",
        )

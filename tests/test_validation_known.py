"""The validator's native fast path (`_native.validate_known`, values
already known good) against its full Python path (`_full`, which checks and
reports everything): the same answer or the same error, the first time a
value is seen (not yet known) and again once it is known."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from sagerun import _native
from sagerun._validation import OperationValidator

MODEL = boto3.Session().client("sagemaker-runtime", region_name="us-east-1").meta.service_model


class Text(str):
    pass


CASES = [
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "ContentType": "application/json",
                        "Accept": "a/b", "CustomAttributes": "c=1"}),
    ("InvokeEndpoint", {"Body": b"{}", "EndpointName": "ep"}),
    ("InvokeEndpoint", {"EndpointName": "ep"}),  # missing Body
    ("InvokeEndpoint", {"Body": b"{}"}),  # missing EndpointName
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "Nope": "x"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": "text ✓"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": bytearray(b"{}")}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"x" * (6 * 1024 * 1024 + 1)}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "ContentType": Text("a/b")}),
    ("InvokeEndpoint", {"EndpointName": Text("ep"), "Body": b"{}"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "ContentType": 5}),
    ("InvokeEndpoint", {"EndpointName": "bad name!", "Body": b"{}"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "CustomAttributes": "a\r\nb"}),
    ("InvokeEndpoint", {"EndpointName": "ep", "Body": b"{}", "ContentType": "x" * 2000}),
    ("InvokeEndpointAsync", {"EndpointName": "ep", "InputLocation": "s3://b/k"}),
    ("InvokeEndpointAsync", {"EndpointName": "ep", "InputLocation": "s3://b/k",
                             "RequestTTLSeconds": 600, "InvocationTimeoutSeconds": 60}),
    ("InvokeEndpointAsync", {"EndpointName": "ep", "InputLocation": "s3://b/k",
                             "RequestTTLSeconds": "600"}),
    ("InvokeEndpointAsync", {"EndpointName": "ep", "InputLocation": "s3://b/k", "Body": b"{}"}),
    ("InvokeEndpointWithResponseStream", {"EndpointName": "ep", "Body": b"{}", "Accept": "x/y"}),
]


def answer(call, params):
    try:
        return ("ok", call(params))
    except ParamValidationError as e:
        return ("error", str(e))


@pytest.mark.parametrize("operation,params", CASES)
def test_known_values_validate_as_the_full_path_does(operation, params):
    validator = OperationValidator(MODEL.operation_model(operation))
    expected = answer(validator._full, params)
    assert answer(validator, params) == expected, "first time: values not yet known"
    assert answer(validator, params) == expected, "again: values known"


def test_the_native_path_answers_once_values_are_known():
    """It is taken at all (else the test above would test only Python)."""
    validator = OperationValidator(MODEL.operation_model("InvokeEndpoint"))
    params = {"EndpointName": "ep", "Body": b"{}", "ContentType": "application/json"}
    args = (validator._known_table, validator._required, validator._body_limit)
    assert _native.validate_known(params, *args) is None  # nothing known yet
    validator(params)
    assert _native.validate_known(params, *args) == ("ep", [("ContentType", "application/json")], b"{}")

"""The boto3 client methods that never call the service (pagination,
waiters, presigned URLs) give boto3's answers on sagerun's clients."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

import sagerun

KWARGS = {"region_name": "us-west-2", "aws_access_key_id": "AKIDEXAMPLE",
          "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
OPERATIONS = ["invoke_endpoint", "invoke_endpoint_async", "invoke_endpoint_with_response_stream"]


@pytest.fixture(params=["Client", "AsyncClient"])
def pair(request):
    return getattr(sagerun, request.param)(**KWARGS), boto3.client("sagemaker-runtime", **KWARGS)


def _raised(fn, *args):
    with pytest.raises(Exception) as raised:
        fn(*args)
    return type(raised.value), str(raised.value)


def test_pagination_and_waiters_answer_as_boto3(pair):
    ours, theirs = pair
    assert [ours.can_paginate(op) for op in OPERATIONS] == [theirs.can_paginate(op) for op in OPERATIONS]
    assert _raised(ours.can_paginate, "list_objects") == _raised(theirs.can_paginate, "list_objects")
    assert ours.waiter_names == theirs.waiter_names
    assert _raised(ours.get_paginator, "invoke_endpoint") == _raised(theirs.get_paginator, "invoke_endpoint")
    assert _raised(ours.get_waiter, "endpoint_in_service") == _raised(theirs.get_waiter, "endpoint_in_service")


def _presigned(client, **kwargs):
    url = client.generate_presigned_url(**kwargs)
    if asyncio.iscoroutine(url):
        url = asyncio.run(url)
    return url


@pytest.mark.parametrize("config", [None, Config(signature_version="v4")])
def test_presigned_urls_are_boto3s(pair, config):
    ours, theirs = pair
    kwargs = {"ClientMethod": "invoke_endpoint", "ExpiresIn": 600,
              "Params": {"EndpointName": "my-endpoint", "Body": b"{}", "ContentType": "application/json"}}
    for _ in range(5):  # both in the same second (the URL carries it), normally at once
        a, b = _presigned(ours, **kwargs), _presigned(theirs, **kwargs)
        if parse_qs(urlsplit(a).query)["X-Amz-Date"] == parse_qs(urlsplit(b).query)["X-Amz-Date"]:
            break
    assert a == b
    assert urlsplit(a).path == "/endpoints/my-endpoint/invocations"
    assert parse_qs(urlsplit(a).query)["X-Amz-Expires"] == ["600"]

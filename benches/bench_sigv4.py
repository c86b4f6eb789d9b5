"""SigV4 signing: sagerun beside botocore's SigV4Auth.add_auth on the same
request in the same run, plus hashlib's SHA-256 (OpenSSL) as the floor for
large bodies; the bound signer also on requests whose headers change every
call (nothing of the last request's head to reuse). Run with
scripts/bench.sh (release build):

    bash scripts/bench.sh benches/bench_sigv4.py
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sagerun import sigv4

URL = "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/my-endpoint/invocations"
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "X-Amzn-SageMaker-Custom-Attributes": "c000b4f9-df62-4c85-a0bf-7c525f9104a4",
    "User-Agent": "bench/1.0",
}
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDExampleSessionToken+with/some=chars"
SIZES = {"1KiB": 1024, "1MiB": 1024 * 1024}


def body_of(size: int) -> bytes:
    return bytes(i * 31 % 251 for i in range(256)) * (size // 256)


def sign_with_sagerun(body: bytes) -> dict:
    return sigv4.sign("POST", URL, HEADERS, body, region="us-west-2", service="sagemaker",
                      access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=TOKEN)


SIGNER = sigv4.Signer(region="us-west-2", service="sagemaker", access_key=ACCESS_KEY,
                      secret_key=SECRET_KEY, session_token=TOKEN)


def botocore_signer(body: bytes):
    request = AWSRequest(method="POST", url=URL, data=body, headers=dict(HEADERS))
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "sagemaker", "us-west-2")
    return lambda: auth.add_auth(request), request


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_sign_sagerun(benchmark, size):
    benchmark.group = f"sigv4 sign {size}"
    body = body_of(SIZES[size])
    headers = benchmark(sign_with_sagerun, body)
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_sign_botocore(benchmark, size):
    benchmark.group = f"sigv4 sign {size}"
    body = body_of(SIZES[size])
    add_auth, request = botocore_signer(body)
    benchmark(add_auth)
    # Same input, same answer (the clock may tick between the two signings).
    ours = sign_with_sagerun(body)
    if ours["X-Amz-Date"] == request.headers["X-Amz-Date"]:
        assert ours["Authorization"] == request.headers["Authorization"]


def test_sha256_hashlib_1mib(benchmark):
    """The floor: OpenSSL's SHA-256 of the same 1 MiB body, nothing else."""
    benchmark.group = "sigv4 sign 1MiB"
    body = body_of(SIZES["1MiB"])
    benchmark(lambda: hashlib.sha256(body).digest())


def test_bound_signer_sagerun(benchmark):
    """Like for like with SigV4Auth: credentials and scope bound once."""
    benchmark.group = "sigv4 bound signer 1KiB"
    body = body_of(SIZES["1KiB"])
    headers = benchmark(SIGNER.sign, "POST", URL, HEADERS, body)
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


def test_bound_signer_botocore(benchmark):
    benchmark.group = "sigv4 bound signer 1KiB"
    body = body_of(SIZES["1KiB"])
    add_auth, request = botocore_signer(body)
    benchmark(add_auth)
    ours = SIGNER.sign("POST", URL, HEADERS, body)
    if ours["X-Amz-Date"] == request.headers["X-Amz-Date"]:
        assert ours["Authorization"] == request.headers["Authorization"]


# Requests whose headers differ from the last one's (a per-call id): the
# signer cannot reuse the last request's head (sigv4/memo.rs) and does all
# of its work each call. Both sides cycle through the same prepared requests.
FRESH = 64


def fresh_headers(i: int) -> dict:
    return {**HEADERS, "X-Amzn-SageMaker-Inference-Id": f"call-{i:08d}"}


def test_bound_signer_new_head_sagerun(benchmark):
    benchmark.group = "sigv4 bound signer 1KiB, new headers each call"
    body = body_of(SIZES["1KiB"])
    requests = itertools.cycle([fresh_headers(i) for i in range(FRESH)])
    sign = SIGNER.sign
    headers = benchmark(lambda: sign("POST", URL, next(requests), body))
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


def test_bound_signer_new_head_botocore(benchmark):
    benchmark.group = "sigv4 bound signer 1KiB, new headers each call"
    body = body_of(SIZES["1KiB"])
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "sagemaker", "us-west-2")
    prepared = [AWSRequest(method="POST", url=URL, data=body, headers=fresh_headers(i))
                for i in range(FRESH)]
    requests = itertools.cycle(prepared)
    add_auth = auth.add_auth
    benchmark(lambda: add_auth(next(requests)))
    request = prepared[0]
    ours = SIGNER.sign("POST", URL, fresh_headers(0), body)
    if ours["X-Amz-Date"] == request.headers["X-Amz-Date"]:
        assert ours["Authorization"] == request.headers["Authorization"]

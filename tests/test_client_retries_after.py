"""``x-amz-retry-after``: with botocore's new retries (the default since
botocore 1.44; ``AWS_NEW_RETRIES_2026`` before), standard and adaptive modes
wait at least the header's milliseconds before the next attempt (at most
5 s more than the computed backoff). A scripted server records when each
attempt arrives; boto3 runs beside sagerun on the same script. Only lower
bounds on the gaps are asserted: a slow machine can only make them longer."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.configprovider import NEW_RETRIES_ENABLED  # type: ignore[attr-defined]

import sagerun

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "s3cr3t-key"}

pytestmark = pytest.mark.skipif(not NEW_RETRIES_ENABLED, reason="botocore's new retries are off")


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ["HTTP_PROXY", "http_proxy", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]:
        monkeypatch.delenv(name, raising=False)


class Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        with server.lock:
            server.arrivals.append(time.monotonic())
            retry_after = server.retry_after if len(server.arrivals) % 2 else None
        if retry_after is None:
            status, body, extra = 200, b'{"ok": true}', {}
        else:
            status, body = 503, b'{"message": "busy"}'
            extra = {"x-amzn-ErrorType": "ServiceUnavailable", "x-amz-retry-after": retry_after}
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted():
    made = []

    def start(retry_after: str) -> ThreadingHTTPServer:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        srv.daemon_threads = True
        srv.arrivals, srv.retry_after, srv.lock = [], retry_after, threading.Lock()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
        made.append(srv)
        return srv

    yield start
    for srv in made:
        srv.shutdown()


def gap_before_the_retry(client, srv) -> float:
    before = len(srv.arrivals)
    r = client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    assert r["ResponseMetadata"]["RetryAttempts"] == 1
    first, second = srv.arrivals[before:before + 2]
    return second - first


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_the_retry_waits_for_x_amz_retry_after_like_boto3(scripted, mode):
    srv = scripted("1200")
    config = Config(retries={"mode": mode, "total_max_attempts": 2})
    ours = sagerun.Client(endpoint_url=srv.url, config=config, **KEYS)
    theirs = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=config, **KEYS)
    # A 503's own backoff is at most 50 ms; the header asks for 1.2 s.
    assert gap_before_the_retry(theirs, srv) >= 1.2
    assert gap_before_the_retry(ours, srv) >= 1.2


@pytest.mark.parametrize("value", ["soon", "-1000", "1.5"])
def test_a_bad_x_amz_retry_after_is_ignored_and_the_call_still_retries(scripted, value):
    srv = scripted(value)
    config = Config(retries={"mode": "standard", "total_max_attempts": 2})
    for client in (sagerun.Client(endpoint_url=srv.url, config=config, **KEYS),
                   boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=config, **KEYS)):
        assert client.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read() == b'{"ok": true}'

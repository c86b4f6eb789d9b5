"""Smoke test of the benchmark entry point and its sweep machinery: a
`sagerun serve` child process, two concurrency points with a few requests,
RESULTS.md (and the plot when matplotlib is installed) in a temporary
directory. No speed is asserted: only that the figures are real counts."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.error import URLError
from urllib.request import urlopen

import boto3
import pytest

from sagerun._cli import sweep
from sagerun._cli.bench_clients import ClientSpec
from sagerun.local import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {"aws_access_key_id": DEFAULT_ACCESS_KEY, "aws_secret_access_key": DEFAULT_SECRET_KEY}


def test_served_runs_sagerun_serve_in_a_child_process_and_stops_it():
    with sweep.served({"echo": "echo"}, verify_signatures=True) as url:
        client = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", **KEYS)
        assert client.invoke_endpoint(EndpointName="echo", Body=b"hi")["Body"].read() == b"hi"
    with pytest.raises((URLError, ConnectionError, OSError)):
        urlopen(url + "/ping", timeout=5)


def test_measure_counts_requests_that_really_arrived(local_runtime, fake_container):
    container = fake_container(lambda req: (200, {}, b"ok"))
    rt = local_runtime({"model": {"model": "proxy", "url": container.url}})
    spec = ClientSpec(region_name=rt.region, endpoint_url=rt.url, max_attempts=1, **KEYS)
    request = {"EndpointName": "model", "Body": b"{}"}
    series = sweep.Series("sagerun threads", "sagerun", "threads")
    point = sweep.measure(series, 3, spec, request, seconds=0.1)
    assert point.skipped is None
    assert point.ok == point.requests > 0 and point.failed == 0
    warm_up = max(2 * 3, 20)
    assert len(container.requests) == warm_up + point.requests
    assert point.ok_per_s is not None and point.ok_per_s > 0


def test_a_series_that_cannot_run_is_skipped_with_its_reason():
    point = sweep.measure(sweep.Series("nothing", "boto3", "async"), 1, ClientSpec(), {}, seconds=0.1)
    assert point.skipped == "the async driver runs sagerun and aiobotocore, not boto3"
    assert point.ok_per_s is None


def test_entry_point_quick_run_writes_results(tmp_path):
    try:
        import matplotlib  # noqa: F401
        plotting = True
    except ImportError:
        plotting = False
    command = [sys.executable, os.path.join(ROOT, "benches", "run.py"), "--quick", "--no-micro",
               "--out", str(tmp_path)] + ([] if plotting else ["--no-plot"])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = (tmp_path / "RESULTS.md").read_text()
    assert results.startswith("# sagerun benchmark results")
    table = [line for line in results.splitlines() if line.startswith("| ") and line[2:3].isdigit()]
    assert [line.split("|")[1].strip() for line in table] == ["1", "4"]
    header = next(line for line in results.splitlines() if line.startswith("| concurrency"))
    columns = [c.strip() for c in header.split("|")[2:-1]]
    for line in table:
        cells = dict(zip(columns, (c.strip() for c in line.split("|")[2:-1])))
        for label in ("sagerun, threads sharing one Client", "boto3, threads sharing one client"):
            assert float(cells[label].replace(",", "")) > 0  # successful requests/s, no failures
    if plotting:
        assert (tmp_path / "concurrency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

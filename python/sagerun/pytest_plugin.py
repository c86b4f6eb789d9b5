"""A pytest plugin (loaded automatically once sagerun is installed): a local
SageMaker Runtime per test.

    import boto3, pytest

    def test_default(sagerun_runtime):                  # one endpoint, "echo"
        client = boto3.client("sagemaker-runtime", **sagerun_runtime.client_kwargs())
        assert client.invoke_endpoint(EndpointName="echo", Body=b"hi")["Body"].read() == b"hi"

    @pytest.mark.sagerun_endpoints({"broken": {"model": "error", "code": "ModelError"}})
    def test_marker(sagerun_client):                    # a sagerun.Client bound to the runtime
        with pytest.raises(sagerun_client.exceptions.ModelError):
            sagerun_client.invoke_endpoint(EndpointName="broken", Body=b"{}")

    @pytest.mark.parametrize("sagerun_runtime", [{"a": {"model": "echo"}},
                                                 {"a": {"model": "tokens", "text": "x y"}}],
                             indirect=True)
    def test_each(sagerun_runtime): ...

The marker's keyword arguments go to ``LocalRuntime`` (e.g.
``verify_signatures=False``). A parametrised declaration takes precedence
over a marker. The runtime is stopped when the test ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping

import pytest

if TYPE_CHECKING:
    from sagerun.client import Client
    from sagerun.local import LocalRuntime

__all__ = ["DEFAULT_ENDPOINTS", "sagerun_runtime", "sagerun_client"]

MARKER = "sagerun_endpoints"
#: What ``sagerun_runtime`` serves when a test declares nothing.
DEFAULT_ENDPOINTS: Dict[str, Dict[str, Any]] = {"echo": {"model": "echo"}}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(endpoints, **runtime_options): the endpoints (name -> declaration) the "
        "sagerun_runtime fixture serves; keyword arguments go to sagerun.local.LocalRuntime",
    )


def _declaration(request: pytest.FixtureRequest) -> "tuple[Mapping[str, Any], Dict[str, Any]]":
    """(endpoints, LocalRuntime options) for the requesting test."""
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            raise TypeError("an indirect parameter of sagerun_runtime must be a mapping of "
                            f"endpoint name -> declaration, not {type(param).__name__}")
        return param, {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return DEFAULT_ENDPOINTS, {}
    if len(marker.args) != 1 or not isinstance(marker.args[0], Mapping):
        raise TypeError(f"@pytest.mark.{MARKER} takes one mapping of endpoint name -> "
                        "declaration (and LocalRuntime keyword arguments)")
    return marker.args[0], dict(marker.kwargs)


@pytest.fixture
def sagerun_runtime(request: pytest.FixtureRequest) -> Iterator["LocalRuntime"]:
    """A :class:`sagerun.local.LocalRuntime` serving the test's endpoints
    (marker ``sagerun_endpoints``, indirect parametrisation, or one echo
    endpoint named ``echo``); stopped after the test."""
    from sagerun.local import LocalRuntime

    endpoints, options = _declaration(request)
    runtime = LocalRuntime(endpoints, **options)
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def sagerun_client(sagerun_runtime: "LocalRuntime") -> Iterator["Client"]:
    """A :class:`sagerun.Client` bound to ``sagerun_runtime``."""
    from sagerun.client import Client

    client = Client(**sagerun_runtime.client_kwargs())
    try:
        yield client
    finally:
        client.close()

"""A local SageMaker Runtime: the same wire protocol as AWS, on 127.0.0.1.

    from sagerun.local import LocalRuntime

    with LocalRuntime({"my-echo": {"model": "echo"}}) as rt:
        client = boto3.client("sagemaker-runtime", **rt.client_kwargs())
        client.invoke_endpoint(EndpointName="my-echo", Body=b"hi")

The server runs in Rust on background threads (no GIL while serving). The
endpoint declarations are plain data, parsed by one parser in Rust; the same
dict works in Python, in a JSON file (``sagerun serve --config FILE``) and on
the command line (``sagerun serve --endpoint NAME=MODEL,key=value,...``).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from sagerun._native import _LocalServer

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_CREDENTIALS",
    "LocalRuntime",
]

#: The test credentials a runtime accepts when none are given. They are
#: public and only ever meaningful to a local runtime.
DEFAULT_ACCESS_KEY = "AKIDSAGERUNLOCAL"
DEFAULT_SECRET_KEY = "sagerun-local-secret-key"
DEFAULT_CREDENTIALS: Tuple[str, str] = (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)

Credentials = Union[Tuple[str, str], Sequence[Tuple[str, str]]]
PathLike = Union[str, "os.PathLike[str]"]


def _credential_pairs(credentials: Optional[Credentials]) -> List[Tuple[str, str]]:
    if credentials is None:
        return [DEFAULT_CREDENTIALS]
    candidates: Sequence[Any] = credentials
    if len(credentials) == 2 and all(isinstance(x, str) for x in credentials):
        candidates = [credentials]  # a single (access_key, secret_key) pair
    pairs: List[Tuple[str, str]] = []
    for pair in candidates:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise TypeError(
                "credentials must be an (access_key, secret_key) pair or a list of such pairs"
            )
        pairs.append((pair[0], pair[1]))
    if not pairs:
        raise ValueError("credentials must name at least one (access_key, secret_key) pair")
    return pairs


class LocalRuntime:
    """Serves the SageMaker Runtime protocol for the declared endpoints.

    The server starts when the object is created and stops on ``stop()`` or
    when the ``with`` block ends.

    Args:
        endpoints: ``{"name": {"model": "echo" | "tokens" | "error" | "proxy",
            ..., "faults": {...}}}``; see the README's "Local runtime" section.
        region: the region requests must be signed for.
        credentials: accepted ``(access_key, secret_key)`` pair(s);
            None accepts :data:`DEFAULT_CREDENTIALS`.
        verify_signatures: check SigV4 signatures (403 as AWS answers).
        port: 0 picks a free port.
        host: the address to listen on (loopback by default).
        tls_cert, tls_key: PEM files; serve HTTPS when given.
        data_dir: the directory standing in for S3 in InvokeEndpointAsync
            (``s3://bucket/key`` is ``data_dir/bucket/key``); a temporary
            directory, removed on stop, when None.
        session_ttl_seconds: lifetime of stateful sessions.
    """

    def __init__(
        self,
        endpoints: Mapping[str, Mapping[str, Any]],
        region: str = "us-east-1",
        credentials: Optional[Credentials] = None,
        verify_signatures: bool = True,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        tls_cert: Optional[PathLike] = None,
        tls_key: Optional[PathLike] = None,
        data_dir: Optional[PathLike] = None,
        session_ttl_seconds: float = 1200.0,
        worker_threads: int = 2,
    ) -> None:
        if not isinstance(endpoints, Mapping):
            raise TypeError("endpoints must be a mapping of endpoint name -> declaration")
        try:
            endpoints_json = json.dumps(endpoints)
        except (TypeError, ValueError) as e:
            raise TypeError(f"endpoints must be plain JSON-like data: {e}") from None
        self._credentials = _credential_pairs(credentials)
        self._region = region
        self._tmp: Optional[tempfile.TemporaryDirectory[str]] = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sagerun-local-")
            data_dir = self._tmp.name
        self._data_dir = os.fspath(data_dir)
        try:
            self._server = _LocalServer(
                endpoints_json,
                host=host,
                port=port,
                region=region,
                credentials=self._credentials,
                verify_signatures=verify_signatures,
                tls_cert=os.fspath(tls_cert) if tls_cert is not None else None,
                tls_key=os.fspath(tls_key) if tls_key is not None else None,
                data_dir=self._data_dir,
                session_ttl_seconds=session_ttl_seconds,
                worker_threads=worker_threads,
            )
        except BaseException:
            self._cleanup_tmp()
            raise

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS)."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def region(self) -> str:
        return self._region

    @property
    def data_dir(self) -> str:
        """The directory standing in for S3 (buckets are sub-directories)."""
        return self._data_dir

    @property
    def credentials(self) -> List[Tuple[str, str]]:
        return list(self._credentials)

    @property
    def running(self) -> bool:
        return self._server.running

    def client_kwargs(self) -> Dict[str, str]:
        """Keyword arguments for ``boto3.client("sagemaker-runtime", ...)``
        or ``sagerun.Client(...)`` that reach this runtime."""
        access_key, secret_key = self._credentials[0]
        return {
            "endpoint_url": self.url,
            "region_name": self._region,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
        }

    def stop(self) -> None:
        """Stops serving and removes the temporary data directory (idempotent)."""
        self._server.stop()
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "LocalRuntime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalRuntime {self.url} {state}>"


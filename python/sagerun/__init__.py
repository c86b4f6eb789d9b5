"""sagerun: a fast Amazon SageMaker Runtime client with its hot paths in Rust."""

from sagerun._native import __version__
from sagerun._native import InternalError  # a Rust panic (a bug), see _native.pyi
from sagerun.client import Client
from sagerun._async_client import AsyncClient

__all__ = ["__version__", "Client", "AsyncClient", "InternalError"]

"""sagerun: a fast Amazon SageMaker Runtime client with its hot paths in Rust."""

from sagerun._native import __version__

__all__ = ["__version__"]

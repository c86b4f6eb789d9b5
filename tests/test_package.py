"""The wheel's shape: the extension module loads and the package is typed."""

import importlib.metadata
import pathlib

import sagerun
from sagerun import _native


def test_native_version_matches_distribution_version():
    assert _native.__version__ == importlib.metadata.version("sagerun")
    assert sagerun.__version__ == _native.__version__


def test_package_is_typed():
    package_dir = pathlib.Path(sagerun.__file__).parent
    assert (package_dir / "py.typed").exists()
    assert (package_dir / "_native.pyi").exists()

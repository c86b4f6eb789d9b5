"""The package's annotations and the extension's stubs agree with each other:
mypy checks every module of sagerun against `_native.pyi` (third-party
packages without stubs, such as botocore, are taken as untyped)."""

import pathlib

import pytest

mypy_api = pytest.importorskip("mypy.api")

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "python" / "sagerun"


def test_mypy_finds_no_errors_in_the_package():
    stdout, stderr, status = mypy_api.run(
        ["--ignore-missing-imports", "--no-error-summary", "--cache-dir=/dev/null", str(PACKAGE)]
    )
    assert status == 0, stdout + stderr

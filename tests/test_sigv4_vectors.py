"""The AWS SigV4 test suite (34 cases, botocore's copy in shared/vectors)
through the public Python API: each .req signed gives exactly the suite's
canonical request, string to sign and Authorization; verify() accepts the
suite's signatures and refuses tampered requests."""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass

import pytest

from sagerun import sigv4

VECTORS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "sigv4"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0)
# The token the suite expects the signer to add (see vectors/README.md).
SUITE_TOKENS = {
    "get-vanilla-with-session-token": "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
}


@dataclass
class RawRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def url(self) -> str:
        # The suite's requests all carry Host; the scheme only matters to split the URL.
        return "https://example.amazonaws.com" + self.target


def parse_req(text: str) -> RawRequest:
    """Request line, Name:value lines (a line starting with whitespace
    continues the previous value: obs-fold, replaced by one space as RFC 9112
    says), an empty line, the body."""
    head, _, body = text.partition("\n\n")
    lines = head.rstrip("\n").split("\n")
    method, _, rest = lines[0].partition(" ")
    target, _, version = rest.rpartition(" ")
    assert version == "HTTP/1.1"
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.lstrip(" \t"))
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return RawRequest(method, target, headers, body.encode())


def case_dirs() -> list[pathlib.Path]:
    return sorted(p.parent for p in VECTORS.rglob("*.req"))


def read(case: pathlib.Path, ext: str) -> str:
    return (case / f"{case.name}.{ext}").read_text(encoding="utf-8")


def test_suite_has_34_cases():
    assert len(case_dirs()) == 34


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_vector(case: pathlib.Path):
    raw = parse_req(read(case, "req"))
    details = sigv4.sign_details(
        raw.method, raw.url, raw.headers, raw.body,
        region="us-east-1", service="service",
        access_key=ACCESS_KEY, secret_key=SECRET_KEY,
        session_token=SUITE_TOKENS.get(case.name),
        timestamp=SUITE_TIME,
    )
    assert details.canonical_request == read(case, "creq")
    assert details.string_to_sign == read(case, "sts")
    assert details.authorization == read(case, "authz")
    assert details.authorization.endswith("Signature=" + details.signature)
    expected_added = {"Authorization": details.authorization}
    if case.name in SUITE_TOKENS:
        expected_added = {"X-Amz-Security-Token": SUITE_TOKENS[case.name], **expected_added}
    # The .req already carries X-Amz-Date: it is not returned again.
    assert details.headers == expected_added
    # sign() returns the same headers; its time defaults to the X-Amz-Date header.
    assert sigv4.sign(
        raw.method, raw.url, raw.headers, raw.body,
        region="us-east-1", service="service",
        access_key=ACCESS_KEY, secret_key=SECRET_KEY,
        session_token=SUITE_TOKENS.get(case.name),
    ) == expected_added


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_verify_accepts_suite_signature_and_rejects_tampering(case: pathlib.Path):
    raw = parse_req(read(case, "req"))
    headers = raw.headers + [("Authorization", read(case, "authz"))]
    if case.name in SUITE_TOKENS:
        headers.append(("X-Amz-Security-Token", SUITE_TOKENS[case.name]))
    assert sigv4.verify(raw.method, raw.url, headers, raw.body, secret_key=SECRET_KEY) == ACCESS_KEY
    with pytest.raises(sigv4.SigningError, match="does not match"):
        sigv4.verify(raw.method, raw.url, headers, raw.body, secret_key=SECRET_KEY + "x")
    with pytest.raises(sigv4.SigningError, match="does not match"):
        sigv4.verify(raw.method, raw.url, headers, raw.body + b"!", secret_key=SECRET_KEY)
    with pytest.raises(sigv4.SigningError):
        sigv4.verify(raw.method, raw.url + "x", headers, raw.body, secret_key=SECRET_KEY)


def test_sts_token_added_after_signing_matches_post_vanilla():
    # post-sts-header-after: signed without the token, which is added later;
    # its signature is post-vanilla's.
    case = VECTORS / "post-sts-token" / "post-sts-header-after"
    raw = parse_req(read(case, "req"))
    headers = sigv4.sign(
        raw.method, raw.url, raw.headers, raw.body, region="us-east-1", service="service",
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, timestamp=SUITE_TIME,
    )
    assert headers == {"Authorization": read(VECTORS / "post-vanilla", "authz")}
    assert headers["Authorization"] == read(case, "authz")

"""AWS Signature Version 4 header signing, computed in Rust.

``sign`` returns the headers to add to a request; ``Signer`` does the same
for one set of credentials and one region/service bound once (botocore's
``SigV4Auth`` counterpart, and the faster way to sign many requests);
``sign_details`` also
returns the intermediate strings (for debugging and for tests against the
AWS test suite); ``verify`` checks a received request's signature (the local
runtime's check, usable on its own).

The rules are botocore's SigV4Auth for non-S3 services: paths normalised and
encoded twice, the query decoded and re-encoded, header values trimmed,
``User-Agent``/``Expect``/hop-by-hop headers left unsigned, the payload's
SHA-256 always signed.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from typing import Optional, Union

from sagerun import _native

__all__ = ["sign", "sign_details", "verify", "Signer", "SignatureDetails", "SigningError"]

SigningError = _native.SigningError
SignatureDetails = _native.SignatureDetails

#: ``Signer(*, region, service, access_key, secret_key, session_token=None)``
#: checks the credentials and scope once and keeps the derived signing key
#: of the current date (a new one is derived when the UTC date changes).
#: ``.sign(method, url, headers, body, *, timestamp=None)`` and
#: ``.sign_details(...)`` take and return what :func:`sign` and
#: :func:`sign_details` do. Its ``repr()`` shows the region, service and
#: access key id, never the secret key or the session token. Thread-safe.
Signer = _native.SigV4Signer

Headers = Union[Mapping[str, str], Iterable[tuple[str, str]]]
Body = Union[bytes, bytearray, memoryview, str, None]
Timestamp = Union[_dt.datetime, int, float, None]


def _unix_seconds(timestamp: Timestamp) -> Optional[int]:
    """Whole unix seconds (SigV4 signs to the second); naive datetimes are UTC."""
    if timestamp is None:
        return None
    if isinstance(timestamp, bool):
        raise TypeError("timestamp must be a datetime, int or float, not bool")
    if isinstance(timestamp, int):
        return timestamp
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp must be finite, not {timestamp!r}")
        return math.floor(timestamp)
    if isinstance(timestamp, _dt.datetime):
        # utctimetuple() converts aware datetimes and takes naive ones as UTC.
        return calendar.timegm(timestamp.utctimetuple())
    raise TypeError(f"timestamp must be a datetime, int, float or None, not {type(timestamp).__name__}")


def sign(
    method: str,
    url: str,
    headers: Headers,
    body: Body,
    *,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    session_token: Optional[str] = None,
    timestamp: Timestamp = None,
) -> dict[str, str]:
    """Signs a request; returns the headers to add, in order: ``X-Amz-Date``,
    ``X-Amz-Security-Token`` (with a session token) and ``Authorization``.

    ``url`` is the full URL (``https://host/path?query``); ``Host`` comes from
    it unless ``headers`` has one. ``headers`` is a mapping or a list of
    (name, value) pairs (names may repeat). A header the request already
    carries (``X-Amz-Date``, the token) is not returned again; it must agree
    with ``timestamp``/``session_token``. ``timestamp`` defaults to the
    request's ``X-Amz-Date`` header, else now.

    Raises ``TypeError`` for wrong argument types and ``SigningError`` (a
    ``ValueError``) for values that cannot be signed or sent, such as CR/LF
    in a header.
    """
    if timestamp is not None and type(timestamp) is not int:  # the common cases skip a call
        timestamp = _unix_seconds(timestamp)
    return _native.sigv4_sign(
        method, url, headers, body, region, service, access_key, secret_key, session_token, timestamp,
    )


def sign_details(
    method: str,
    url: str,
    headers: Headers,
    body: Body,
    *,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    session_token: Optional[str] = None,
    timestamp: Timestamp = None,
) -> SignatureDetails:
    """Like :func:`sign`, returning ``canonical_request``, ``string_to_sign``,
    ``signature``, ``authorization`` and ``headers`` (what ``sign`` returns)."""
    return _native.sigv4_sign_details(
        method, url, headers, body, region, service, access_key, secret_key,
        session_token, _unix_seconds(timestamp),
    )


def verify(method: str, url: str, headers: Headers, body: Body, *, secret_key: str) -> str:
    """Checks the ``Authorization`` header of a received request (with its
    ``X-Amz-Date``) against ``secret_key``; returns the access key it names.
    Raises ``SigningError`` when it is missing, malformed or does not match.
    Clock skew is not checked here."""
    return _native.sigv4_verify(method, url, headers, body, secret_key)

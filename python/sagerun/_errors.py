"""Turns error responses and transport failures into botocore's exceptions,
parsed by botocore's own rest-json and event-stream parsers so that
``e.response`` is exactly what boto3 would give."""

from __future__ import annotations

from typing import Any, Dict

import botocore.exceptions as bex
from botocore.awsrequest import HeadersDict
from botocore.eventstream import ChecksumMismatch, ParserError
from botocore.parsers import EventStreamJSONParser, create_parser


class EventStreamCorruptError(ParserError):
    """The response stream held a frame that failed its checks (checksum,
    framing, size limits). botocore raises ParserError subclasses for these."""


class EventStreamChecksumError(EventStreamCorruptError, ChecksumMismatch):
    """A frame's prelude or message CRC did not match (botocore raises
    ChecksumMismatch for these)."""

    def __init__(self, message: str) -> None:
        # ChecksumMismatch's own __init__ wants (expected, calculated).
        Exception.__init__(self, message)


class EventStreamTruncatedError(bex.ResponseStreamingError):
    """The response stream ended in the middle of a frame (botocore stops
    silently there; sagerun raises)."""


#: What botocore's retry handlers add to ResponseMetadata, in their order.
_RETRY_FIELDS = ("MaxAttemptsReached", "RetryQuotaReached", "RetryAttempts")


class InvalidProxiesConfigError(bex.InvalidProxiesConfigError):
    """``proxies_config`` names a file that cannot be used. botocore raises
    its InvalidProxiesConfigError for this (wrapped in HTTPClientError) at
    the first request through the proxy; sagerun raises it when the client
    is built, before anything is sent, and says which file and why."""

    fmt = "Invalid configuration value(s) provided for proxies_config: {error}"


class ErrorTranslator:
    def __init__(self, botocore_client: Any):
        self._service_model = botocore_client.meta.service_model
        self._exceptions = botocore_client.exceptions
        self._parser = create_parser(self._service_model.protocol)
        self._event_parser = EventStreamJSONParser()

    def service_error(
        self, operation_model: Any, metadata: Dict[str, Any], body: bytes
    ) -> Exception:
        """What botocore's client raises for an HTTP error response.
        ``metadata``: the answer's ResponseMetadata as the native call shaped
        it (status, headers, and the retry fields botocore's retry handlers
        add, which are taken from it)."""
        response = {
            "status_code": metadata["HTTPStatusCode"],
            "headers": HeadersDict(metadata["HTTPHeaders"]),
            "body": body,
            "context": {"operation_name": operation_model.name},
        }
        parsed = self._parser.parse(response, operation_model.output_shape)
        code = parsed.get("Error", {}).get("Code")
        # botocore's Endpoint adds the modeled error shape's fields on top.
        error_shape = self._service_model.shape_for_error_code(code) if code else None
        if error_shape is not None:
            parsed.update(self._parser.parse(response, error_shape))
        parsed_metadata = parsed.setdefault("ResponseMetadata", {})
        for key in _RETRY_FIELDS:
            if key in metadata:
                parsed_metadata[key] = metadata[key]
        error_class = self._exceptions.from_code(code)
        return error_class(parsed, operation_model.name)

    def stream_event_error(self, operation_model: Any, event: tuple) -> Exception:
        """What botocore's EventStream raises for an in-stream exception or
        error message."""
        kind, first, second = event
        if kind == "exception":
            headers = {":message-type": "exception", ":exception-type": first}
            body = second
        else:
            headers = {":message-type": "error", ":error-code": first, ":error-message": second}
            body = b""
        response = {"status_code": 400, "headers": headers, "body": body}
        stream_shape = operation_model.output_shape.members[
            operation_model.output_shape.serialization["payload"]
        ]
        parsed = self._event_parser.parse(response, stream_shape)
        return bex.EventStreamError(parsed, operation_model.name)


def transport_error(error: BaseException) -> Exception:
    """Maps ``_native.TransportError(kind, message, url)`` onto botocore's
    exception for the same failure."""
    kind, message, url = error.args
    if kind == "connect":
        return bex.EndpointConnectionError(endpoint_url=url, error=message)
    if kind == "tls":
        return bex.SSLError(endpoint_url=url, error=message)
    if kind == "connect_timeout":
        return bex.ConnectTimeoutError(endpoint_url=url, error=message)
    if kind == "read_timeout":
        return bex.ReadTimeoutError(endpoint_url=url, error=message)
    if kind == "connection_closed":
        return bex.ConnectionClosedError(endpoint_url=url, error=message)
    if kind in ("body_cut", "response_too_large"):
        return bex.ResponseStreamingError(error=message)
    if kind == "stream_checksum":
        return EventStreamChecksumError(message)
    if kind == "stream_corrupt":
        return EventStreamCorruptError(message)
    if kind == "stream_truncated":
        return EventStreamTruncatedError(error=message)
    if kind == "proxy_config":
        return InvalidProxiesConfigError(error=message)
    if kind == "invalid_request":
        return bex.ParamValidationError(report=message)
    return ValueError(message)

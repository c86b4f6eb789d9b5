"""``sagerun.Client``: a drop-in for boto3's ``sagemaker-runtime`` client whose
requests are built, signed, sent and read in Rust.

    import sagerun
    client = sagerun.Client(region_name="us-east-1")       # boto3's arguments
    r = client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    r["Body"].read()
    for event in client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")["Body"]:
        event["PayloadPart"]["Bytes"]

Region, credentials, endpoint URL, retries, timeouts, proxies and CA bundle
resolve through botocore exactly as for boto3 (one botocore client is built
for that and never sends). Responses and exceptions are boto3's. Where it
differs on purpose: default read timeout 70 s and a pool of 128 idle
connections per thread (botocore: 60 s, 10); a truncated or corrupt event
stream raises (botocore stops silently); patterns, maximum lengths and control
characters in header members are checked before sending. Not supported:
https:// proxies, proxies_config, client-side rate limiting of the
``adaptive`` retry mode (it retries like ``standard``), ``x-amz-retry-after``,
botocore event hooks on this client (``meta.events`` are not emitted).
"""

from __future__ import annotations

import io
import json
import logging
from functools import partial
from typing import Any, Dict, Optional, Tuple

from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError
from botocore.response import StreamingBody

from sagerun import _config, _native, _pickling, _protocol
from sagerun._errors import ErrorTranslator, transport_error
from sagerun._stream import EventStream
from sagerun._validation import OperationValidator

logger = logging.getLogger("sagerun")
_DEBUG = logging.DEBUG


class _Operation:
    """One operation's compiled validator, response shape and transport."""

    __slots__ = ("name", "model", "validate", "native", "response_headers", "endpoint_url")

    def __init__(self, name: str, model: Any, native: Any, endpoint_url: str):
        self.name = name
        self.model = model
        self.validate = OperationValidator(model)
        self.native = native
        self.endpoint_url = endpoint_url
        self.response_headers: Tuple[Tuple[str, str, bool], ...] = tuple(
            (b.member, b.header.lower(), b.is_integer)
            for b in _protocol.OPERATIONS[name].response_headers
        )


class Client:
    """Same construction, methods, response dicts and exceptions as
    ``boto3.client("sagemaker-runtime", ...)``. Safe to share across threads.

    Picklable: the copy is rebuilt from the constructor arguments (see
    ``sagerun._pickling``); keys passed as ``aws_access_key_id=``/... are in
    the pickle in clear, credentials from the credential chain never are
    (the copy resolves them again), a ``session=`` pickles as its profile."""

    def __init__(
        self,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        profile_name: Optional[str] = None,
        session: Any = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        config: Any = None,
        verify: Any = None,
    ) -> None:
        self._constructor_args = _pickling.record(
            region_name=region_name, endpoint_url=endpoint_url, profile_name=profile_name,
            session=session, aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key, aws_session_token=aws_session_token,
            config=config, verify=verify,
        )
        botocore_client = _config.make_botocore_client(
            region_name=region_name,
            endpoint_url=endpoint_url,
            profile_name=profile_name,
            session=session,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            config=config,
            verify=verify,
        )
        self._botocore_client = botocore_client
        #: botocore's ClientMeta: region_name, config, service_model, ...
        self.meta = botocore_client.meta
        #: botocore's exception classes for this service (``ModelError``, ...).
        self.exceptions = botocore_client.exceptions
        self._credentials = botocore_client._request_signer._credentials
        self._errors = ErrorTranslator(botocore_client)
        service_model = botocore_client.meta.service_model
        natives: Dict[_config.Settings, Any] = {}
        operations: Dict[str, _Operation] = {}
        for name in _protocol.OPERATIONS:
            settings = _config.settings_for(botocore_client, name)
            native = natives.get(settings)
            if native is None:
                native = natives[settings] = self._native_client(settings)
            operations[name] = _Operation(
                name, service_model.operation_model(name), native, settings.endpoint_url
            )
        self._invoke_endpoint_op = operations["InvokeEndpoint"]
        self._invoke_async_op = operations["InvokeEndpointAsync"]
        self._invoke_stream_op = operations["InvokeEndpointWithResponseStream"]
        if logger.isEnabledFor(_DEBUG):
            s = next(iter(natives))
            logger.debug(
                "sagerun client: region=%s endpoint=%s retries=%s/%d pool=%d proxy=%s",
                s.region, s.endpoint_url, s.retry_mode, s.max_attempts,
                s.max_pool_connections, bool(s.proxy_url),
            )

    @staticmethod
    def _native_client(s: _config.Settings) -> Any:
        try:
            return _native.NativeClient(
                endpoint_url=s.endpoint_url,
                region=s.signing_region,
                user_agent=s.user_agent,
                connect_timeout=s.connect_timeout,
                read_timeout=s.read_timeout,
                max_pool_connections=s.max_pool_connections,
                verify=s.verify,
                ca_bundle=s.ca_bundle,
                proxy_url=s.proxy_url,
                proxy_authorization=s.proxy_authorization,
                retry_mode=s.retry_mode,
                max_attempts=s.max_attempts,
                new_retries=s.new_retries,
            )
        except _native.TransportError as e:
            raise transport_error(e) from None

    # -- the three operations -------------------------------------------------

    def invoke_endpoint(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        if args:
            raise TypeError("invoke_endpoint() only accepts keyword arguments.")
        op = self._invoke_endpoint_op
        status, headers, body, retries = self._send(op, kwargs, op.native.invoke)
        response = self._shape(op, status, headers, retries)
        response["Body"] = StreamingBody(io.BytesIO(body), len(body))
        return response

    def invoke_endpoint_async(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        if args:
            raise TypeError("invoke_endpoint_async() only accepts keyword arguments.")
        op = self._invoke_async_op
        status, headers, body, retries = self._send(op, kwargs, op.native.invoke)
        response = self._shape(op, status, headers, retries)
        if body:
            try:
                document = json.loads(body)
            except ValueError:
                document = {}
            if isinstance(document, dict) and "InferenceId" in document:
                response["InferenceId"] = document["InferenceId"]
        return response

    def invoke_endpoint_with_response_stream(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        if args:
            raise TypeError(
                "invoke_endpoint_with_response_stream() only accepts keyword arguments."
            )
        op = self._invoke_stream_op
        status, headers, reader, retries = self._send(op, kwargs, op.native.invoke_stream)
        response = self._shape(op, status, headers, retries)
        response["Body"] = EventStream(reader, partial(self._errors.stream_event_error, op.model))
        return response

    # -- internals --------------------------------------------------------------

    def _send(
        self, op: _Operation, kwargs: Dict[str, Any], send: Any
    ) -> Tuple[int, Dict[str, str], Any, Tuple[int, bool, bool]]:
        endpoint_name, members, payload = op.validate(kwargs)
        credentials = self._credentials
        if type(credentials) is Credentials:
            # Static credentials: what get_frozen_credentials() would copy.
            frozen: Any = credentials
        elif credentials is None:
            raise NoCredentialsError()
        else:
            frozen = credentials.get_frozen_credentials()
        try:
            status, headers, body, retries = send(
                op.name, endpoint_name, members, payload,
                frozen.access_key, frozen.secret_key, frozen.token,
            )
        except _native.TransportError as e:
            if logger.isEnabledFor(_DEBUG):
                logger.debug("%s %s failed: %s", op.name, endpoint_name, e.args[1])
            raise transport_error(e) from None
        if logger.isEnabledFor(_DEBUG):
            logger.debug(
                "%s %s -> HTTP %d after %d attempt(s), request id %s",
                op.name, endpoint_name, status, retries[0], headers.get("x-amzn-requestid"),
            )
        if status >= 300:
            raise self._errors.service_error(op.model, status, headers, body, retries)
        return status, headers, body, retries

    @staticmethod
    def _shape(
        op: _Operation, status: int, headers: Dict[str, str], retries: Tuple[int, bool, bool]
    ) -> Dict[str, Any]:
        """The response dict without its payload: ResponseMetadata as botocore
        builds it (its retry handlers add MaxAttemptsReached and
        RetryQuotaReached), then the members bound to response headers."""
        metadata: Dict[str, Any] = {}
        request_id = headers.get("x-amzn-requestid")
        if request_id is not None:
            metadata["RequestId"] = request_id
        metadata["HTTPStatusCode"] = status
        metadata["HTTPHeaders"] = headers
        attempts, max_attempts_reached, retry_quota_reached = retries
        if max_attempts_reached:
            metadata["MaxAttemptsReached"] = True
        if retry_quota_reached:
            metadata["RetryQuotaReached"] = True
        metadata["RetryAttempts"] = attempts - 1
        response: Dict[str, Any] = {"ResponseMetadata": metadata}
        for member, header, is_integer in op.response_headers:
            value = headers.get(header)
            if value is not None:
                response[member] = int(value) if is_integer else value
        return response

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        """Closes the botocore client used for resolution. Pooled connections
        close when the client is garbage-collected."""
        self._botocore_client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        return _pickling.reduce_client(self)

    def __repr__(self) -> str:
        return (
            f"<sagerun.Client region={self.meta.region_name!r} "
            f"endpoint={self._invoke_endpoint_op.endpoint_url!r}>"
        )

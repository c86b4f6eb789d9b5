"""What ``sagerun.Client`` and ``sagerun.AsyncClient`` share: construction
(resolution through botocore), the per-operation validators and native
clients, credential freezing, and turning a native answer into boto3's
response dict or exception. The two clients differ only in how they wait
for the native call (a blocking call, or an asyncio future)."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Tuple

from botocore import xform_name
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError
from botocore.validate import ParamValidationDecorator

from sagerun import _config, _native, _pickling, _protocol
from sagerun._botocore_methods import BotocoreMethods
from sagerun._errors import ErrorTranslator, transport_error
from sagerun._validation import OperationValidator

logger = logging.getLogger("sagerun")
_UNSIGNED_STAND_IN = Credentials("", "")
_DEBUG = logging.DEBUG

#: What a native call returns: (status, response dict without its payload,
#: payload). The dict is boto3's (ResponseMetadata, then the members bound
#: to response headers); for an error answer, ResponseMetadata only. The
#: payload is bytes, or an EventStreamReader for a stream that started.
NativeAnswer = Tuple[int, Dict[str, Any], Any]
#: The arguments of a native call after the operation name:
#: (endpoint_name, header members, body, access_key, secret_key, token).
CallArgs = Tuple[str, Any, Any, str, str, Optional[str]]


class _Operation:
    """One operation's compiled validator and transport."""

    __slots__ = ("name", "method", "model", "validate", "native", "endpoint_url")

    def __init__(self, name: str, model: Any, native: Any, endpoint_url: str, limits: bool):
        self.name = name
        self.method = xform_name(name)  # the client method's name
        self.model = model
        # The bound method: calling it skips the instance-call slot (a
        # measurable share of the Python part of a small call).
        self.validate = OperationValidator(model, limits).__call__
        self.native = native
        self.endpoint_url = endpoint_url


def _validates_parameters(botocore_client: Any) -> bool:
    """botocore's decision (Config(parameter_validation=...), else the
    profile's parameter_validation setting): its serializer validates."""
    return isinstance(botocore_client._serializer, ParamValidationDecorator)


class ClientBase(BotocoreMethods):
    """Same construction as ``boto3.client("sagemaker-runtime", ...)``."""

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
        limits = _validates_parameters(botocore_client)
        for name in _protocol.OPERATIONS:
            settings = _config.settings_for(botocore_client, name)
            native = natives.get(settings)
            if native is None:
                native = natives[settings] = self._native_client(settings)
            operations[name] = _Operation(
                name, service_model.operation_model(name), native, settings.endpoint_url,
                limits=limits,
            )
        if any(s.unsigned for s in natives):
            # signature_version=UNSIGNED: botocore resolves no credentials;
            # the native client sends none, so blank ones stand in.
            self._credentials = _UNSIGNED_STAND_IN
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
                client_cert=s.client_cert,
                proxy_ca_bundle=s.proxy_ca_bundle,
                proxy_client_cert=s.proxy_client_cert,
                proxy_use_forwarding_for_https=s.proxy_use_forwarding_for_https,
                unsigned=s.unsigned,
            )
        except _native.TransportError as e:
            raise transport_error(e) from None

    # -- before sending ---------------------------------------------------------

    def _prepare(self, op: _Operation, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> CallArgs:
        """Validates the parameters (ParamValidationError before anything is
        sent) and freezes the credentials for this call."""
        if args:
            raise TypeError(f"{op.method}() only accepts keyword arguments.")
        endpoint_name, members, payload = op.validate(kwargs)
        frozen = self._credentials
        if type(frozen) is not Credentials:  # static ones are used as they are
            frozen = self._frozen_credentials()
        return endpoint_name, members, payload, frozen.access_key, frozen.secret_key, frozen.token

    def _frozen_credentials(self) -> Any:
        """The credentials for one call (refreshable ones frozen now)."""
        credentials = self._credentials
        if type(credentials) is Credentials:
            # Static credentials: what get_frozen_credentials() would copy.
            return credentials
        if credentials is None:
            raise NoCredentialsError()
        return credentials.get_frozen_credentials()

    # -- after the answer -------------------------------------------------------

    @staticmethod
    def _failed(op: _Operation, endpoint_name: str, error: BaseException) -> Exception:
        """botocore's exception for a native TransportError."""
        if logger.isEnabledFor(_DEBUG):
            logger.debug("%s %s failed: %s", op.name, endpoint_name, error.args[1])
        return transport_error(error)

    def _answer(
        self, op: _Operation, endpoint_name: str, answer: NativeAnswer
    ) -> Tuple[Dict[str, Any], Any]:
        """The response dict without its payload (shaped in Rust:
        ``response_dict`` of rust/python/src/client.rs), and the payload; a
        service error raises boto3's exception for it."""
        status, response, payload = answer
        if logger.isEnabledFor(_DEBUG):
            metadata = response["ResponseMetadata"]
            logger.debug(
                "%s %s -> HTTP %d after %d attempt(s), request id %s",
                op.name, endpoint_name, status, metadata["RetryAttempts"] + 1,
                metadata.get("RequestId"),
            )
        if status >= 300:
            raise self._errors.service_error(op.model, response["ResponseMetadata"], payload)
        return response, payload

    @staticmethod
    def _add_inference_id(response: Dict[str, Any], body: bytes) -> Dict[str, Any]:
        """InvokeEndpointAsync's InferenceId comes in the JSON body."""
        if body:
            try:
                document = json.loads(body)
            except ValueError:
                document = {}
            if isinstance(document, dict) and "InferenceId" in document:
                response["InferenceId"] = document["InferenceId"]
        return response

    def _stream_errors(self, op: _Operation) -> Any:
        """Turns an in-stream exception event into botocore's EventStreamError."""
        errors, model = self._errors, op.model
        return lambda event: errors.stream_event_error(model, event)

    def __reduce__(self) -> Any:
        return _pickling.reduce_client(self)

    def __repr__(self) -> str:
        return (
            f"<sagerun.{type(self).__name__} region={self.meta.region_name!r} "
            f"endpoint={self._invoke_endpoint_op.endpoint_url!r}>"
        )

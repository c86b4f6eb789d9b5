"""Resolves everything a client needs exactly as boto3 does: one real
botocore client for ``sagemaker-runtime`` is built (and never used to send)
and the resolved region, endpoint URL, credentials, timeouts, retries,
proxies (with ``proxies_config``), CA bundle and client certificate are read
from it."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

from sagerun import _native

SERVICE_NAME = "sagemaker-runtime"
# AWS advises a socket timeout above the 60 s a model container may take.
DEFAULT_READ_TIMEOUT = 70.0
# botocore's 10 connections are a well-known bottleneck under threads.
DEFAULT_MAX_POOL_CONNECTIONS = 128
_LEGACY_DEFAULT_ATTEMPTS = 5  # botocore/data/_retry.json
_STANDARD_DEFAULT_ATTEMPTS = 3  # botocore/retries/standard.py


class Settings(NamedTuple):
    region: str
    signing_region: str
    endpoint_url: str
    user_agent: str
    connect_timeout: Optional[float]
    read_timeout: Optional[float]
    max_pool_connections: int
    verify: bool
    ca_bundle: Optional[str]
    proxy_url: Optional[str]
    proxy_authorization: Optional[str]
    retry_mode: str
    max_attempts: int
    new_retries: bool
    #: (certificate file, key file or None when the key is in the first).
    client_cert: Optional[Tuple[str, Optional[str]]] = None
    proxy_ca_bundle: Optional[str] = None
    proxy_client_cert: Optional[Tuple[str, Optional[str]]] = None
    proxy_use_forwarding_for_https: bool = False
    #: ``Config(signature_version=botocore.UNSIGNED)``: no SigV4 headers.
    unsigned: bool = False


def make_botocore_client(
    *,
    region_name: Optional[str],
    endpoint_url: Optional[str],
    profile_name: Optional[str],
    session: Any,
    aws_access_key_id: Optional[str],
    aws_secret_access_key: Optional[str],
    aws_session_token: Optional[str],
    config: Optional[Config],
    verify: Any,
) -> Any:
    if session is not None and profile_name is not None:
        raise ValueError("pass either session or profile_name, not both")
    if session is None:
        session = botocore.session.Session(profile=profile_name)
    # boto3.Session wraps a botocore Session; both make clients the same way.
    botocore_session = getattr(session, "_session", session)
    if not isinstance(botocore_session, botocore.session.Session):
        raise TypeError(f"session must be a boto3.Session or botocore Session, not {type(session)}")
    return botocore_session.create_client(
        SERVICE_NAME,
        region_name=region_name,
        endpoint_url=endpoint_url,
        verify=verify,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        config=config,
    )


def endpoint_for(client: Any, operation_name: str) -> "tuple[str, str]":
    """(URL, signing region) botocore's endpoint rule set picks for a call;
    the EndpointName does not take part in it."""
    operation_model = client.meta.service_model.operation_model(operation_name)
    request_context: Dict[str, Any] = {}
    url, _headers, _properties = client._resolve_endpoint_ruleset(
        operation_model, {}, request_context
    )
    signing_region = request_context.get("signing", {}).get("region") or client.meta.region_name
    return url, signing_region


def _user_provided(config: Config, name: str) -> bool:
    return name in getattr(config, "_user_provided_options", {})


def _proxy(client: Any, endpoint_url: str) -> "tuple[Optional[str], Optional[str]]":
    """The proxy botocore would use for this endpoint (Config proxies, else
    HTTP(S)_PROXY minus NO_PROXY), without credentials, and the
    Proxy-Authorization it would send."""
    proxy_config = client._endpoint.http_session._proxy_config
    proxy_url = proxy_config.proxy_url_for(endpoint_url)
    if not proxy_url:
        return None, None
    authorization = proxy_config.proxy_headers_for(proxy_url).get("Proxy-Authorization")
    parts = urlsplit(proxy_url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http:// and https:// proxies are supported, not {parts.scheme}://")
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, "", "", "")), authorization


def _cert_pair(value: Any, name: str) -> Optional[Tuple[str, Optional[str]]]:
    """botocore's certificate argument: a path (certificate and key in one
    PEM file) or a (certificate, key) tuple of paths."""
    if value is None:
        return None
    if isinstance(value, str):
        return value, None
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(p, str) for p in value):
        return value[0], value[1]
    raise ValueError(f"{name} must be a path or a (certificate, key) tuple of paths, not {value!r}")


def _client_certs(
    client: Any,
) -> "tuple[Optional[Tuple[str, Optional[str]]], Optional[str], Optional[Tuple[str, Optional[str]]], bool]":
    """Config(client_cert=...) as botocore's HTTP session took it, and the
    proxies_config settings: (client_cert, proxy_ca_bundle,
    proxy_client_cert, proxy_use_forwarding_for_https)."""
    session = client._endpoint.http_session
    cert = None if session._cert_file is None else (session._cert_file, session._key_file)
    proxies = session._proxy_config.settings or {}
    proxy_ca_bundle = proxies.get("proxy_ca_bundle")
    return (
        cert,
        None if proxy_ca_bundle is None else str(proxy_ca_bundle),
        _cert_pair(proxies.get("proxy_client_cert"), "proxies_config['proxy_client_cert']"),
        bool(proxies.get("proxy_use_forwarding_for_https")),
    )


def _verify(client: Any) -> "tuple[bool, Optional[str]]":
    verify = client._endpoint.http_session._verify
    if verify is False:
        return False, None
    if isinstance(verify, str):
        return True, verify
    return True, None


def _retries(config: Config) -> "tuple[str, int, bool]":
    from botocore.configprovider import NEW_RETRIES_ENABLED  # type: ignore[attr-defined]

    retries = config.retries or {}
    mode = retries.get("mode") or "legacy"
    default = _LEGACY_DEFAULT_ATTEMPTS if mode == "legacy" else _STANDARD_DEFAULT_ATTEMPTS
    return mode, int(retries.get("total_max_attempts") or default), bool(NEW_RETRIES_ENABLED)


def settings_for(client: Any, operation_name: str) -> Settings:
    config: Config = client.meta.config
    endpoint_url, signing_region = endpoint_for(client, operation_name)
    verify, ca_bundle = _verify(client)
    proxy_url, proxy_authorization = _proxy(client, endpoint_url)
    mode, attempts, new_retries = _retries(config)
    client_cert, proxy_ca_bundle, proxy_client_cert, forward_https = _client_certs(client)
    read_timeout = config.read_timeout if _user_provided(config, "read_timeout") else DEFAULT_READ_TIMEOUT
    pool = (
        config.max_pool_connections
        if _user_provided(config, "max_pool_connections")
        else DEFAULT_MAX_POOL_CONNECTIONS
    )
    user_agent = f"{client._user_agent_creator.to_string()} sagerun/{_native.__version__}"
    return Settings(
        region=client.meta.region_name,
        signing_region=signing_region,
        endpoint_url=endpoint_url,
        user_agent=user_agent,
        connect_timeout=_seconds(config.connect_timeout),
        read_timeout=_seconds(read_timeout),
        max_pool_connections=int(pool),
        verify=verify,
        ca_bundle=ca_bundle,
        proxy_url=proxy_url,
        proxy_authorization=proxy_authorization,
        retry_mode=mode,
        max_attempts=attempts,
        new_retries=new_retries,
        client_cert=client_cert,
        proxy_ca_bundle=proxy_ca_bundle,
        proxy_client_cert=proxy_client_cert,
        proxy_use_forwarding_for_https=forward_https,
        unsigned=config.signature_version is UNSIGNED,
    )


def _seconds(value: Any) -> Optional[float]:
    # botocore: None (or 0 for "no timeout" in urllib3's terms) waits forever.
    return float(value) if value else None

"""Pickling for sagerun clients: a client pickles as the arguments it was
built from, and unpickling builds a new client from them (a fresh pool, a
fresh botocore resolution). Shared by every client class: the class records
its constructor arguments with :func:`record` (as ``_constructor_args``)
and returns :func:`reduce_client` from ``__reduce__``; it must also have
``_credentials`` (botocore's) and ``meta.region_name``, and take the same
keyword arguments as ``sagerun.Client``.

What goes into the pickle:

- ``region_name``: the region the client resolved (so that the copy talks to
  the same region wherever it is unpickled); ``endpoint_url``, ``config``
  (timeouts, retries, pool size, user agent, ...), ``verify`` and
  ``profile_name`` as they were given;
- ``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token`` only
  when they were passed explicitly to the constructor: then they are in the
  pickle **in clear**. A client whose credentials come from the credential
  chain (environment, profile, container/instance metadata, ...) pickles no
  credentials; the copy resolves them again where it is unpickled;
- ``session=``: a botocore/boto3 Session cannot be pickled, so the client
  pickles as the session's profile name (and the resolved region); the copy
  builds its own session for that profile. Other state set on the session
  object is not carried. A session holding credentials set explicitly on it
  (``boto3.Session(aws_access_key_id=...)``, ``set_credentials``) refuses to
  pickle (``pickle.PicklingError``) rather than either leak those keys or
  silently switch to other credentials: pass the keys to the client itself.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable, Dict, Tuple, Type, TypeVar

T = TypeVar("T")

_CREDENTIAL_ARGUMENTS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def record(**arguments: Any) -> Dict[str, Any]:
    """The constructor arguments as given, kept for :func:`reduce_client`."""
    return arguments


def _session_profile(session: Any) -> Any:
    botocore_session = getattr(session, "_session", session)
    return getattr(botocore_session, "profile", None)


def _has_explicit_credentials(arguments: Dict[str, Any]) -> bool:
    return any(arguments.get(name) is not None for name in _CREDENTIAL_ARGUMENTS)


def pickled_arguments(client: Any) -> Dict[str, Any]:
    """The keyword arguments a pickled ``client`` is rebuilt from."""
    arguments = dict(client._constructor_args)
    session = arguments.pop("session", None)
    if session is not None:
        credentials = client._credentials
        method = getattr(credentials, "method", None)
        if method == "explicit" and not _has_explicit_credentials(arguments):
            raise pickle.PicklingError(
                f"this {type(client).__name__} uses credentials set explicitly on its session, "
                "which are not pickled: pass them as aws_access_key_id=/aws_secret_access_key= "
                "to the client (they are then pickled in clear) or use a profile"
            )
        arguments["profile_name"] = _session_profile(session)
    arguments["region_name"] = client.meta.region_name
    return arguments


def restore_client(cls: Type[T], arguments: Dict[str, Any]) -> T:
    """Unpickling: a new client of class ``cls`` from the pickled arguments."""
    return cls(**arguments)


def reduce_client(client: Any) -> Tuple[Callable[..., Any], Tuple[Any, ...]]:
    """``__reduce__`` for a client class."""
    return restore_client, (type(client), pickled_arguments(client))

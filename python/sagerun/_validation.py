"""Parameter validation compiled once from botocore's service model.

It raises botocore's ``ParamValidationError`` for everything botocore's own
validator reports (missing required members, unknown members, wrong types,
minimum lengths and ranges), with the same report lines, and in addition
checks what botocore leaves to the service: maximum lengths and ranges, the
model's patterns, the 6 MiB body limit, and control characters in any member
sent as an HTTP header (header injection). Nothing is sent before it passes.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from botocore.exceptions import ParamValidationError
from botocore.validate import ValidationErrors

from sagerun import _native, _protocol

_validate_known = _native.validate_known

# Smithy patterns are Java regular expressions, searched (not anchored).
_JAVA_TO_PYTHON = (
    (r"\p{ASCII}", r"\x00-\x7f"),
    (r"\p{Print}", r"\x20-\x7e"),
    (r"\z", r"\Z"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _python_pattern(java: str) -> "re.Pattern[str]":
    out = java
    for src, dst in _JAVA_TO_PYTHON:
        if src.startswith(r"\p"):
            # \p{X} may stand alone or inside a class: [\p{Print}] / \p{ASCII}*
            out = out.replace("[" + src + "]", "[" + dst + "]").replace(src, "[" + dst + "]")
        else:
            out = out.replace(src, dst)
    return re.compile(out, re.DOTALL)


# Values that passed a member's checks are remembered (per member, up to this
# many) so that a repeated EndpointName or ContentType skips the regexes.
_KNOWN_GOOD_LIMIT = 1024


class _Member:
    __slots__ = ("name", "kind", "min", "max", "pattern", "header", "is_uri", "known_good")

    def __init__(self, name: str, shape: Any, header: Optional[str], limits: bool = True):
        self.name = name
        self.kind: str = shape.type_name
        meta = shape.metadata if limits else {}
        self.min: Optional[int] = meta.get("min")
        self.max: Optional[int] = meta.get("max")
        pattern = meta.get("pattern")
        self.pattern = _python_pattern(pattern) if pattern else None
        self.header = header
        self.is_uri = shape.serialization.get("location") == "uri"
        self.known_good: "set[str]" = set()

    def accepts(self, value: str) -> bool:
        """Whether a string value passes every check of the full validator
        (remembered when it does)."""
        if value in self.known_good:
            return True
        if self.kind != "string":
            return False
        n = len(value)
        ok = (
            (self.min is None or n >= self.min)
            and (self.max is None or n <= self.max)
            and not (self.header is not None and _CONTROL.search(value))
            and (self.pattern is None or self.pattern.search(value) is not None)
        )
        if ok:
            if len(self.known_good) >= _KNOWN_GOOD_LIMIT:
                self.known_good.clear()
            self.known_good.add(value)
        return ok


#: A call's parameters, ready for the wire: (endpoint name, header members
#: as (member, value) pairs, body). A plain tuple: made on every call.
Validated = Tuple[str, List[Tuple[str, str]], bytes]


def _body_bytes(value: Any) -> Optional[bytes]:
    """botocore accepts bytes, bytearray, str and file-like objects for blobs."""
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    read: Optional[Callable[[], Any]] = getattr(value, "read", None)
    if read is not None:
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return None


class OperationValidator:
    """Validates and converts one operation's keyword arguments.

    ``limits=False`` is botocore's ``Config(parameter_validation=False)``:
    the service judges lengths, ranges, patterns and the body size (so a
    model older than the service does not stand in the way); what cannot be
    sent as asked (a missing or unknown member, a value of the wrong type,
    control characters in a header) is still refused before sending."""

    def __init__(self, operation_model: Any, limits: bool = True):
        self.name: str = operation_model.name
        shape = operation_model.input_shape
        table = _protocol.OPERATIONS[self.name]
        headers = {b.member: b.header for b in table.request_headers}
        self._members: Dict[str, _Member] = {
            name: _Member(name, member_shape, headers.get(name), limits)
            for name, member_shape in shape.members.items()
        }
        self._required: Tuple[str, ...] = tuple(shape.required_members)
        self._required_set = frozenset(self._required)
        self._body_limit = (
            _protocol.MAX_ASYNC_INLINE_BODY_BYTES
            if self.name == "InvokeEndpointAsync"
            else _protocol.MAX_BODY_BYTES
        ) if limits else sys.maxsize
        # Members a newer botocore knows but sagerun's protocol table does
        # not: refused when used, never silently dropped.
        self._unsupported = frozenset(
            m.name for m in self._members.values()
            if m.header is None and not m.is_uri and m.kind != "blob"
        )
        #: The members the fast path takes (any other name goes to `_full`).
        self._supported: Dict[str, _Member] = {
            name: m for name, m in self._members.items() if name not in self._unsupported
        }
        #: The same for the native fast path: name -> (is_uri, is_blob, known_good).
        self._known_table: Dict[str, Tuple[bool, bool, "set[str]"]] = {
            name: (m.is_uri, m.kind == "blob", m.known_good)
            for name, m in self._supported.items()
        }

    def __call__(self, params: Dict[str, Any]) -> Validated:
        """The common call (known string members that pass their checks, a
        bytes body within the limit) is validated here without building an
        error report; anything else goes to `_full`, which reports exactly
        what is wrong. (One frame, as few steps per member as can be: this
        runs on every call.) Values already known good are checked in one
        native call first."""
        known = _validate_known(params, self._known_table, self._required, self._body_limit)
        if known is not None:
            return known
        if not params.keys() >= self._required_set:
            return self._full(params)
        members: List[Tuple[str, str]] = []
        endpoint_name = ""
        body = b""
        member_of = self._supported.get
        for name, value in params.items():
            member = member_of(name)
            if member is None:
                return self._full(params)
            if type(value) is str:
                # Only string members ever hold known-good values, and
                # `accepts` refuses the others.
                if value not in member.known_good and not member.accepts(value):
                    return self._full(params)
                if member.is_uri:
                    endpoint_name = value
                else:
                    members.append((name, value))
            elif type(value) is bytes and member.kind == "blob" and len(value) <= self._body_limit:
                body = value
            else:
                return self._full(params)
        return endpoint_name, members, body

    def _full(self, params: Dict[str, Any]) -> Validated:
        errors = ValidationErrors()
        extra: List[str] = []
        # botocore's order: required members, unknown members, then values.
        for name in self._required:
            if name not in params:
                errors.report("", "missing required field", required_name=name, user_params=params)
        for name in params:
            if name not in self._members:
                errors.report("", "unknown field", unknown_param=name, valid_names=list(self._members))
        members: List[Tuple[str, str]] = []
        endpoint_name = ""
        body = b""
        for name, value in params.items():
            member = self._members.get(name)
            if member is None:
                continue
            if name in self._unsupported:
                extra.append(f"Parameter {name} is not supported by this version of sagerun")
                continue
            kind = member.kind
            if kind == "blob":
                data = _body_bytes(value)
                if data is None:
                    errors.report(name, "invalid type", param=value,
                                  valid_types=[str(bytes), str(bytearray), "file-like object"])
                    continue
                if len(data) > self._body_limit:
                    extra.append(f"Invalid length for parameter {name}: {len(data)} bytes, "
                                 f"valid max length: {self._body_limit}")
                body = data
                continue
            if kind == "integer":
                if not isinstance(value, int):
                    errors.report(name, "invalid type", param=value, valid_types=[str(int)])
                    continue
                if member.min is not None and value < member.min:
                    errors.report(name, "invalid range", param=value, min_allowed=member.min)
                    continue
                if isinstance(value, bool):
                    # botocore lets a bool through and sends "True".
                    extra.append(f"Invalid type for parameter {name}, value: {value}, "
                                 f"type: {type(value)}, valid types: {int}")
                elif member.max is not None and value > member.max:
                    extra.append(f"Invalid value for parameter {name}, value: {value}, "
                                 f"valid max value: {member.max}")
                text = str(value)
            else:
                if not isinstance(value, str):
                    errors.report(name, "invalid type", param=value, valid_types=[str(str)])
                    continue
                if member.min is not None and len(value) < member.min:
                    errors.report(name, "invalid length", param=len(value), min_allowed=member.min)
                    continue
                if member.max is not None and len(value) > member.max:
                    extra.append(f"Invalid length for parameter {name}, length: {len(value)}, "
                                 f"valid max length: {member.max}")
                if member.header is not None and _CONTROL.search(value):
                    extra.append(f"Invalid value for parameter {name}: control characters "
                                 "(CR, LF, ...) are not allowed in an HTTP header")
                elif member.pattern is not None and not member.pattern.search(value):
                    extra.append(f"Invalid value for parameter {name}: does not match the "
                                 f"pattern {member.pattern.pattern!r}")
                text = value
            if member.is_uri:
                endpoint_name = text
            else:
                members.append((name, text))
        if errors.has_errors() or extra:
            report = errors.generate_report() if errors.has_errors() else ""
            report = "\n".join(filter(None, [report] + extra))
            raise ParamValidationError(report=report)
        return endpoint_name, members, body

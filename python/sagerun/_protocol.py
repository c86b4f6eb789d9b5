"""The protocol tables of ``sagerun_core::protocol`` (the one source of truth
for header names, limits and error codes), loaded once from the extension."""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple

from sagerun import _native


class HeaderBinding(NamedTuple):
    member: str
    header: str
    is_integer: bool


class OperationTable(NamedTuple):
    name: str
    path_suffix: str
    success_status: int
    request_headers: Tuple[HeaderBinding, ...]
    response_headers: Tuple[HeaderBinding, ...]
    errors: Tuple[str, ...]


def _load() -> Tuple[Dict[str, OperationTable], List[Tuple[str, int, bool]], int, int]:
    tables = _native.protocol_tables()
    operations = {}
    for name, entry in tables["operations"].items():
        operations[name] = OperationTable(
            name=name,
            path_suffix=entry["path_suffix"],
            success_status=entry["success_status"],
            request_headers=tuple(HeaderBinding(*m) for m in entry["request_headers"]),
            response_headers=tuple(HeaderBinding(*m) for m in entry["response_headers"]),
            errors=tuple(entry["errors"]),
        )
    return (
        operations,
        list(tables["error_codes"]),
        tables["max_body_bytes"],
        tables["max_async_inline_body_bytes"],
    )


OPERATIONS, ERROR_CODES, MAX_BODY_BYTES, MAX_ASYNC_INLINE_BODY_BYTES = _load()

"""The summary of a load (counts, requests/s, latency percentiles, CPU per
request, failures by code) and its tables: plain text, or rich."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from sagerun._cli.bench_load import Recorder
from sagerun._cli.console import ratio_style

__all__ = ["summarize", "ratios", "table_rows", "render_table", "rich_table", "ratio_note"]

PERCENTILES = (50, 90, 99)


def _percentiles(seconds: Sequence[float]) -> Optional[Dict[str, float]]:
    """Nearest-rank percentiles and the maximum, in milliseconds."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    n = len(ordered)
    result = {f"p{q}": ordered[max(0, -(-q * n // 100) - 1)] for q in PERCENTILES}
    result["max"] = ordered[-1]
    return {k: round(v * 1000.0, 3) for k, v in result.items()}


def summarize(recorder: Recorder) -> Dict[str, Any]:
    ok, failed = recorder.ok, sum(recorder.errors.values())
    total = ok + failed
    summary: Dict[str, Any] = {
        "requests": total,
        "ok": ok,
        "failed": failed,
        "errors": dict(sorted(recorder.errors.items())),
        "seconds": round(recorder.seconds, 4),
        "requests_per_s": round(total / recorder.seconds, 1) if recorder.seconds > 0 else None,
        "cpu_ms_per_request": round(recorder.cpu_seconds / total * 1000.0, 4) if total else None,
        "latency_ms": _percentiles(recorder.latencies),
    }
    if recorder.first_events:
        summary["first_event_ms"] = _percentiles(recorder.first_events)
    return summary


def _ratio(ours: Optional[float], theirs: Optional[float], higher_is_better: bool) -> Optional[float]:
    """How many times better sagerun did (above 1: better)."""
    if not ours or not theirs:
        return None
    return round(ours / theirs if higher_is_better else theirs / ours, 2)


# (label, key path, higher is better)
_ROWS: List["tuple[str, tuple[str, ...], bool]"] = [("requests/s", ("requests_per_s",), True)]
_ROWS += [(f"latency {p} ms", ("latency_ms", p), False) for p in ("p50", "p90", "p99", "max")]
_ROWS += [(f"first event {p} ms", ("first_event_ms", p), False) for p in ("p50", "p99")]
_ROWS += [("CPU ms/request", ("cpu_ms_per_request",), False)]


def _lookup(summary: Mapping[str, Any], path: Sequence[str]) -> Optional[float]:
    value: Any = summary
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, (int, float)) else None


def ratios(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> Dict[str, Optional[float]]:
    return {label: _ratio(_lookup(ours, path), _lookup(theirs, path), better)
            for label, path, better in _ROWS if _lookup(ours, path) is not None}


Row = Tuple[str, List[Any], Optional[float]]


def table_rows(results: Mapping[str, Mapping[str, Any]]) -> List[Row]:
    """(label, one value per client, ratio or None) for every row to show;
    the ratio is of the first client against the second."""
    names = list(results)
    ratio_of = ratios(results[names[0]], results[names[1]]) if len(names) == 2 else {}
    rows: List[Row] = []
    for label, path, _ in _ROWS:
        values = [_lookup(results[n], path) for n in names]
        if any(v is not None for v in values):
            rows.append((label, values, ratio_of.get(label)))
    for label in ("ok", "failed"):
        rows.append((label, [results[n][label] for n in names], None))
    for code in sorted({code for n in names for code in results[n]["errors"]}):
        rows.append(("  " + code, [results[n]["errors"].get(code, 0) for n in names], None))
    return rows


def ratio_note(names: Sequence[str]) -> str:
    return f"ratio: how many times better {names[0]} did than {names[1]} (above 1: better)"


def render_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain text: one column per client, a ratio column when there are two."""
    names = list(results)
    compared = len(names) == 2
    rows = table_rows(results)
    width = max(len(label) for label, _, _ in rows) + 2
    lines = [" " * width + "".join(f"{n:>12}" for n in names) + (f"{'ratio':>10}" if compared else "")]
    for label, values, ratio in rows:
        line = f"{label:<{width}}" + "".join(_cell(v) for v in values)
        lines.append(line + (f"{ratio:>9.2f}x" if ratio is not None else ""))
    return "\n".join(lines)


def rich_table(results: Mapping[str, Mapping[str, Any]]) -> Any:
    """The same rows as a rich Table: ratios green when sagerun did better,
    failures in red."""
    from rich.table import Table

    names = list(results)
    compared = len(names) == 2
    table = Table()
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right", style="cyan" if name == "sagerun" else None)
    if compared:
        table.add_column("ratio", justify="right")
    for label, values, ratio in rows_styled(table_rows(results)):
        cells = [_cell(v).strip() for v in values]
        if compared:
            cells.append("" if ratio is None else f"[{ratio_style(ratio)}]{ratio:.2f}x[/]")
        table.add_row(label, *cells)
    return table


def rows_styled(rows: List[Row]) -> Iterator[Row]:
    """Failure rows in red when there were failures."""
    for label, values, ratio in rows:
        failing = (label == "failed" or label.startswith("  ")) and any(values)
        yield (f"[red]{label}[/]" if failing else label), values, ratio


def _cell(value: Any) -> str:
    if value is None:
        return f"{'-':>12}"
    if isinstance(value, float):
        return f"{value:>12,.6g}"
    return f"{value:>12}"

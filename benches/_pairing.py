"""Pairs each benchmark group's sagerun case with its reference case
(botocore, boto3, or a plain-Python version), for the summary printed by
conftest.py and for RESULTS.md written by run.py.

Convention: a group holds one case whose name contains "sagerun" and one
whose name contains a reference's name. A case may put the units one round
holds in ``extra_info["units"]`` and their name in ``extra_info["unit"]``:
the ratio is then of the median time per unit, so the two cases may do
different amounts of work per round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

# A plain-Python implementation of the same helper counts as a reference too;
# aiobotocore is the async clients' reference (named before "botocore", which it contains).
REFERENCES = ("aiobotocore", "botocore", "boto3", "python")


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    median: float  # seconds per round
    extra_info: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    group: str
    reference: str
    ours: Case
    theirs: Case
    ours_time: float  # seconds per unit (or per round)
    ref_time: float
    unit: Optional[str]  # None when the cases do not count units

    @property
    def ratio(self) -> float:
        """How many times faster sagerun was."""
        return self.ref_time / self.ours_time


def _kind(name: str) -> Optional[str]:
    if "sagerun" in name:
        return "sagerun"
    return next((r for r in REFERENCES if r in name), None)


def pair(cases: Iterable[Case]) -> List[Pair]:
    groups: Dict[str, Dict[str, Case]] = {}
    for case in cases:
        kind = _kind(case.name)
        if kind:
            groups.setdefault(case.group or case.name, {})[kind] = case
    pairs = []
    for group, found in sorted(groups.items()):
        ours = found.get("sagerun")
        ref_name = next((r for r in REFERENCES if r in found), None)
        if ours is None or ref_name is None:
            continue
        theirs = found[ref_name]
        units = ours.extra_info.get("units")
        ref_units = theirs.extra_info.get("units", units)
        pairs.append(Pair(group, ref_name, ours, theirs, ours.median / (units or 1),
                          theirs.median / (ref_units or 1),
                          ours.extra_info.get("unit", "units") if units else None))
    return pairs

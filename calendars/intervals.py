"""Half-open time intervals and the arithmetic the availability solver needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    """[start, end) in aware datetimes (UTC by convention). ``tentative`` marks soft busy."""

    start: datetime
    end: datetime
    tentative: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError("interval ends before it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and coalesce overlapping or touching intervals (tentative only if all parts are)."""
    ordered = sorted(intervals, key=lambda i: (i.start, i.end))
    merged: list[Interval] = []
    for item in ordered:
        if item.start == item.end:
            continue
        if merged and item.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(
                last.start, max(last.end, item.end), last.tentative and item.tentative
            )
        else:
            merged.append(item)
    return merged

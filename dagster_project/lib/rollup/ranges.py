"""Half-open ranges of whole UTC hours, [start, end): what a rollup run rebuilds.

Every range is hour-aligned and timezone-aware (UTC). A run that rebuilds some hours passes them
to dbt as the `rollup_ranges` var (`as_dbt_var`); the daily models widen each range to whole
UTC days. Late events touch scattered hours: `collapse` merges them into the fewest contiguous
ranges, so one Dagster run (10-17 s of fixed cost here) rebuilds a range, never one hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dagster_project.lib.errors import PlatformError

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class RangeError(PlatformError, ValueError):
    """A range that is not whole UTC hours, or ends before it starts."""


@dataclass(frozen=True, order=True)
class HourRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is None:
                raise RangeError(f"{name} {value.isoformat()} has no time zone; give UTC")
            if value != floor_hour(value):
                raise RangeError(f"{name} {value.isoformat()} is not a whole UTC hour")
        if self.end <= self.start:
            raise RangeError(
                f"empty range: end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def each_hour(self) -> Iterable[datetime]:
        hour = self.start
        while hour < self.end:
            yield hour
            hour += HOUR

    def days(self) -> HourRange:
        """The smallest range of whole UTC days that holds this one."""
        start = datetime.combine(self.start.astimezone(UTC).date(), datetime.min.time(), UTC)
        end_day = (self.end - HOUR).astimezone(UTC).date() + DAY
        return HourRange(start, datetime.combine(end_day, datetime.min.time(), UTC))

    def day_list(self) -> list[date]:
        widened = self.days()
        return [
            (widened.start + i * DAY).date()
            for i in range(int((widened.end - widened.start) / DAY))
        ]

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


def floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_moment(text: str) -> datetime:
    """'2026-12-01', '2026-12-01T05:00', '2026-12-01T05:00:00Z' or with an offset -> UTC.
    A value without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-12-01T05:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def collapse(hours: Iterable[datetime]) -> list[HourRange]:
    """Hour starts (any order, duplicates allowed) -> the fewest contiguous ranges."""
    ranges: list[HourRange] = []
    start = end = None
    for hour in sorted({floor_hour(h) for h in hours}):
        if end is not None and hour == end:
            end = hour + HOUR
            continue
        if start is not None:
            ranges.append(HourRange(start, end))
        start, end = hour, hour + HOUR
    if start is not None:
        ranges.append(HourRange(start, end))
    return ranges


def merge(ranges: Iterable[HourRange]) -> list[HourRange]:
    """Overlapping or touching ranges merged; sorted."""
    merged: list[HourRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = HourRange(merged[-1].start, r.end)
            continue
        merged.append(r)
    return merged


def as_dbt_var(ranges: Iterable[HourRange]) -> list[list[str]]:
    """The `rollup_ranges` dbt var: [[start, end], ...] in ISO 8601 UTC."""
    return [[iso(r.start), iso(r.end)] for r in merge(ranges)]


def dbt_vars(ranges: Iterable[HourRange], build_id: str) -> dict[str, object]:
    """The dbt vars of one rollup run: the ranges it rebuilds and the id its rows carry."""
    return {"rollup_ranges": as_dbt_var(ranges), "build_id": build_id}

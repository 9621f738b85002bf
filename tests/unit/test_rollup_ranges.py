"""Hour ranges: what a rollup run rebuilds, and how late hours collapse into runs."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.lib.rollup.ranges import (
    HOUR,
    HourRange,
    RangeError,
    as_dbt_var,
    collapse,
    merge,
    parse_moment,
)

BASE = datetime(2026, 11, 30, tzinfo=UTC)
hour_offsets = st.lists(st.integers(min_value=0, max_value=24 * 20), max_size=60)


@given(hour_offsets)
def test_collapse_covers_exactly_the_hours_in_the_fewest_ranges(offsets):
    hours = [BASE + i * HOUR for i in offsets]
    ranges = collapse(hours)
    covered = [h for r in ranges for h in r.each_hour()]
    assert covered == sorted(set(hours))
    # fewest: no two ranges touch (else they would have been one)
    assert all(a.end < b.start for a, b in zip(ranges, ranges[1:], strict=False))


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 48)), max_size=20))
def test_merge_keeps_every_hour_and_nothing_more(pairs):
    ranges = [HourRange(BASE + a * HOUR, BASE + (a + n) * HOUR) for a, n in pairs]
    merged = merge(ranges)
    assert {h for r in merged for h in r.each_hour()} == {h for r in ranges for h in r.each_hour()}
    assert all(a.end < b.start for a, b in zip(merged, merged[1:], strict=False))


@given(st.integers(0, 24 * 40), st.integers(1, 24 * 5))
def test_days_widen_to_whole_utc_days_holding_the_range(start, length):
    r = HourRange(BASE + start * HOUR, BASE + (start + length) * HOUR)
    days = r.days()
    assert days.start <= r.start and days.end >= r.end
    assert days.start.hour == 0 and days.end.hour == 0
    assert days.end - days.start < (r.end - r.start) + timedelta(days=2)
    assert len(r.day_list()) == (days.end - days.start).days


def test_ranges_must_be_whole_utc_hours_with_a_time_zone():
    with pytest.raises(RangeError, match="not a whole UTC hour"):
        HourRange(BASE + timedelta(minutes=30), BASE + HOUR)
    with pytest.raises(RangeError, match="no time zone"):
        HourRange(datetime(2026, 1, 1), datetime(2026, 1, 1, 1))
    with pytest.raises(RangeError, match="empty range"):
        HourRange(BASE + HOUR, BASE + HOUR)


def test_an_offset_is_converted_and_a_bare_time_is_utc():
    assert parse_moment("2026-12-01T05:30+05:30") == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert parse_moment("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(RangeError, match="not an ISO 8601"):
        parse_moment("yesterday")


def test_dbt_var_is_iso_utc_pairs_of_merged_ranges():
    ranges = [HourRange(BASE, BASE + HOUR), HourRange(BASE + HOUR, BASE + 3 * HOUR)]
    assert as_dbt_var(ranges) == [["2026-11-30T00:00:00+00:00", "2026-11-30T03:00:00+00:00"]]

"""A period's local time as UTC spans: where the campaign zone's offset holds, and the
SQL that joins posts to those spans.

A local day is ``(created_at_us + offset) / DAY_US``, with the zone's UTC offset taken
from a few segments computed here with zoneinfo and split exactly at summer-time
changes, so stats, rankings and reports agree on every post's local day and hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from monitor.errors import UsageError
from monitor.settings import Settings
from monitor.times import from_epoch_us, local_midnight, local_midnight_us


def window_over(settings: Settings, now: dt.datetime) -> bool:
    """Return True once the campaign window has ended at ``now``: local midnight after
    ``campaign.end``, in the campaign time zone."""
    c = settings.campaign
    return now >= local_midnight(c.end + dt.timedelta(days=1), c.tz)


def local_today(settings: Settings, now: dt.datetime) -> dt.date:
    """Return the local date of ``now`` in the campaign time zone."""
    return now.astimezone(settings.campaign.tz).date()


def default_report_day(settings: Settings, now: dt.datetime) -> dt.date:
    """Return the day a daily report covers when none is given: today during the window,
    its last day after it. Before the window raises UsageError saying when it starts."""
    c = settings.campaign
    today = local_today(settings, now)
    if today < c.start:
        raise UsageError(
            f"the campaign starts on {c.start.isoformat()} ({c.timezone} time): there is no "
            "campaign day to report yet; give --date to report a day anyway"
        )
    return min(today, c.end)


class Segment(NamedTuple):
    """A span ``[lo, hi)`` of UTC epoch µs over which the zone's offset is ``offset`` µs."""

    lo: int
    hi: int
    offset: int


def _offset_us(us: int, tz: dt.tzinfo) -> int:
    moment = from_epoch_us(us).astimezone(tz)
    return (moment.utcoffset() or dt.timedelta(0)) // dt.timedelta(microseconds=1)


def offset_segments(first: dt.date, last: dt.date, tz: dt.tzinfo) -> list[Segment]:
    """Return spans of constant UTC offset covering local dates ``first..last``.

    Split at the exact microsecond of each offset change, so ``(utc + offset) / DAY_US``
    is the local date and ``(utc + offset) / HOUR_US % 24`` the local hour.
    """
    end = local_midnight_us(last + dt.timedelta(days=1), tz)
    seg_lo = local_midnight_us(first, tz)
    seg_off = _offset_us(seg_lo, tz)
    segments: list[Segment] = []
    day = first
    while day <= last:
        day_lo = local_midnight_us(day, tz)
        day_hi = local_midnight_us(day + dt.timedelta(days=1), tz)
        if day_lo > seg_lo and _offset_us(day_lo, tz) != seg_off:
            # the change fell exactly on this local midnight (or skipped the date)
            segments.append(Segment(seg_lo, day_lo, seg_off))
            seg_lo, seg_off = day_lo, _offset_us(day_lo, tz)
        if day_hi - 1 > seg_lo and _offset_us(day_hi - 1, tz) != seg_off:
            a, b = day_lo, day_hi - 1  # offset(a) == seg_off != offset(b): bisect
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_us(mid, tz) == seg_off:
                    a = mid
                else:
                    b = mid
            segments.append(Segment(seg_lo, b, seg_off))
            seg_lo, seg_off = b, _offset_us(b, tz)
        day += dt.timedelta(days=1)
    segments.append(Segment(seg_lo, end, seg_off))
    return segments


def segments_cte(segments: Sequence[Segment]) -> tuple[str, dict[str, int]]:
    """Return SQL for a derived table ``s(lo, hi, off)`` and its bound parameters."""
    parts, params = [], {}
    for i, seg in enumerate(segments):
        parts.append(
            f"SELECT CAST(:lo{i} AS BIGINT) AS lo, CAST(:hi{i} AS BIGINT) AS hi, "
            f"CAST(:off{i} AS BIGINT) AS off"
        )
        params.update({f"lo{i}": seg.lo, f"hi{i}": seg.hi, f"off{i}": seg.offset})
    return " UNION ALL ".join(parts), params


def window_sql(settings: Settings, first: dt.date, last: dt.date) -> tuple[str, str, dict]:
    """Return (CTE body for ``s``, FROM clause joining posts ``p`` to it, parameters).

    Other report queries build on this, so every figure sees the same posts in a period.
    """
    cte, params = segments_cte(offset_segments(first, last, settings.campaign.tz))
    join = "FROM s JOIN posts p ON p.created_at_us >= s.lo AND p.created_at_us < s.hi"
    return cte, join, params


def unit_ranges(segments: Sequence[Segment], unit: int) -> list[tuple[int, int, int]]:
    """Return ``(key, lo, hi)``: the UTC spans ``[lo, hi)`` in which ``(utc + offset) / unit``
    is ``key``, for every instant of ``segments``, in order.

    With ``unit`` = DAY_US the key is the local day number; with HOUR_US, the local hour
    since the epoch. A local date whose midnight repeats (a fall-back at midnight) gets
    two spans with the same key.
    """
    out = []
    for seg in segments:
        key = (seg.lo + seg.offset) // unit
        while True:
            lo = max(seg.lo, key * unit - seg.offset)
            hi = min(seg.hi, (key + 1) * unit - seg.offset)
            if lo >= seg.hi:
                break
            if lo < hi:
                out.append((key, lo, hi))
            key += 1
    return out

"""The figures of METRICS.md, computed by SQL aggregates; only small results reach Python.

A local day is ``(created_at_us + offset) / DAY_US``, with the zone's UTC offset taken
from a few segments computed here with zoneinfo and split exactly at summer-time
changes. The same integer SQL runs on SQLite and PostgreSQL; posts are never loaded whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from monitor.config import Settings
from monitor.normalize import epoch_us, from_epoch_us
from monitor.store import stored_counts

PERIOD_KEYS = (
    "posts",
    "originals",
    "retweets",
    "quotes",
    "replies",
    "hashtag_posts",
    "mention_posts",
    "contributors",
    "potential_impressions",
    "potential_reach",
    "like_count",
    "retweet_count",
    "reply_count",
    "quote_count",
    "engagements",
    "engagement_rate",
    "impressions",
    "impressions_coverage",
    "posts_without_followers",
)
ENGAGEMENT_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
_EPOCH_DAY = dt.date(1970, 1, 1)


class Segment(NamedTuple):
    """A span ``[lo, hi)`` of UTC epoch µs over which the zone's offset is ``offset`` µs."""

    lo: int
    hi: int
    offset: int


def day_number(day: dt.date) -> int:
    """Return a local date as days since 1970-01-01: the key SQL groups days by."""
    return (day - _EPOCH_DAY).days


def local_midnight_us(day: dt.date, tz: dt.tzinfo) -> int:
    return epoch_us(dt.datetime.combine(day, dt.time(0), tzinfo=tz))


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


def like_terms(column: str, terms: Sequence[str], prefix: str) -> tuple[str, dict[str, str]]:
    """Return an SQL condition true when ``column`` (" a b ") holds any of ``terms``."""
    if not terms:
        return "1 = 0", {}
    conds, params = [], {}
    for i, term in enumerate(terms):
        escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params[f"{prefix}{i}"] = f"% {escaped} %"
        conds.append(f"{column} LIKE :{prefix}{i} ESCAPE '!'")
    return "(" + " OR ".join(conds) + ")", params


def match_conditions(settings: Settings, alias: str = "p") -> tuple[str, str, dict[str, str]]:
    """Return (hashtag condition, mention condition, parameters) for the campaign's terms."""
    tag_cond, tag_params = like_terms(f"{alias}.hashtags", settings.campaign.hashtag_terms, "t")
    men_cond, men_params = like_terms(f"{alias}.mentions", settings.campaign.account_terms, "m")
    return tag_cond, men_cond, tag_params | men_params


def window_sql(settings: Settings, first: dt.date, last: dt.date) -> tuple[str, str, dict]:
    """Return (CTE body for ``s``, FROM clause joining posts ``p`` to it, parameters).

    Other report queries build on this, so every figure sees the same posts in a period.
    """
    cte, params = segments_cte(offset_segments(first, last, settings.campaign.tz))
    join = "FROM s JOIN posts p ON p.created_at_us >= s.lo AND p.created_at_us < s.hi"
    return cte, join, params


def _aggregate(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date, by_day: bool
) -> dict[Any, dict]:
    """Return raw sums keyed by day number (``by_day``) or under the key ``"total"``."""
    cte, join, params = window_sql(settings, first, last)
    tag_cond, men_cond, term_params = match_conditions(settings)
    params = params | term_params
    key = f"(p.created_at_us + s.off) / {DAY_US}" if by_day else "'total'"
    # a retweet's counts belong to its original, so engagement sums skip retweets
    sums = ", ".join(
        f"SUM(CASE WHEN p.kind <> 'retweet' THEN COALESCE(p.{c}, 0) ELSE 0 END) AS {c}"
        for c in ENGAGEMENT_COUNTS
    )
    sql = f"""
        WITH s AS ({cte})
        SELECT {key} AS k,
               COUNT(*) AS posts,
               SUM(CASE WHEN p.kind = 'original' THEN 1 ELSE 0 END) AS originals,
               SUM(CASE WHEN p.kind = 'retweet' THEN 1 ELSE 0 END) AS retweets,
               SUM(CASE WHEN p.kind = 'quote' THEN 1 ELSE 0 END) AS quotes,
               SUM(CASE WHEN p.kind = 'reply' THEN 1 ELSE 0 END) AS replies,
               SUM(CASE WHEN {tag_cond} THEN 1 ELSE 0 END) AS hashtag_posts,
               SUM(CASE WHEN {men_cond} THEN 1 ELSE 0 END) AS mention_posts,
               COUNT(DISTINCT p.author_id) AS contributors,
               SUM(COALESCE(p.author_followers, 0)) AS potential_impressions,
               {sums},
               SUM(p.impression_count) AS impressions,
               COUNT(p.impression_count) AS impressions_reported,
               SUM(CASE WHEN p.author_followers IS NULL THEN 1 ELSE 0 END)
                   AS posts_without_followers
        {join}
        GROUP BY 1
    """
    out: dict[Any, dict] = {}
    for row in conn.execute(text(sql), params).mappings():
        out[row["k"]] = dict(row)
    # each author's audience once, from their latest post in the period
    reach_sql = f"""
        WITH s AS ({cte}),
        keyed AS (
            SELECT {key} AS k, p.author_id, p.created_at_us, p.id,
                   COALESCE(p.author_followers, 0) AS followers
            {join}
            WHERE p.author_id IS NOT NULL
        ),
        ranked AS (
            SELECT k, followers, ROW_NUMBER() OVER (
                       PARTITION BY k, author_id
                       ORDER BY created_at_us DESC, LENGTH(id) DESC, id DESC
                   ) AS rn
            FROM keyed
        )
        SELECT k, SUM(followers) AS potential_reach FROM ranked WHERE rn = 1 GROUP BY k
    """
    for k, reach in conn.execute(text(reach_sql), params):
        out[k]["potential_reach"] = reach
    return out


def _finish(row: dict | None) -> dict[str, Any]:
    row = row or {}
    fig: dict[str, Any] = {}
    for key in PERIOD_KEYS:
        if key not in ("engagement_rate", "impressions", "impressions_coverage", "engagements"):
            fig[key] = int(row.get(key) or 0)
    fig["engagements"] = sum(fig[c] for c in ENGAGEMENT_COUNTS)
    pi = fig["potential_impressions"]
    fig["engagement_rate"] = fig["engagements"] / pi if pi else None
    reported = int(row.get("impressions_reported") or 0)
    fig["impressions"] = int(row["impressions"]) if reported else None
    fig["impressions_coverage"] = reported / fig["posts"] if fig["posts"] else 0.0
    return {key: fig[key] for key in PERIOD_KEYS}


def period_figures(
    conn: Connection, settings: Settings, days: Sequence[dt.date]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (one figures dict per day, in order, zero days included; the totals).

    ``days`` are consecutive local dates; totals treat them as one period, so
    ``contributors`` and ``potential_reach`` count each author once over the span.
    """
    if not days:
        return [], _finish(None)
    rows = _aggregate(conn, settings, days[0], days[-1], by_day=True)
    total = _aggregate(conn, settings, days[0], days[-1], by_day=False)
    per_day = [{"date": d.isoformat(), **_finish(rows.get(day_number(d)))} for d in days]
    return per_day, _finish(total.get("total"))


def baseline_progress(settings: Settings, totals: dict[str, Any]) -> float | None:
    """Return the period's baseline metric divided by the baseline value, or None."""
    if settings.baseline is None:
        return None
    return totals[settings.baseline.metric] / settings.baseline.value


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def date_span(
    settings: Settings, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> list[dt.date]:
    """Return the local dates covered: the campaign window, either end moved by an override.

    Raises ValueError when the start falls after the end.
    """
    start = date_from or settings.campaign.start
    end = date_to or settings.campaign.end
    if end < start:
        raise ValueError(f"the period starts on {start}, after it ends on {end}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def stats_object(
    conn: Connection,
    settings: Settings,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """Return the ``hashmon stats --json`` object of METRICS.md for the dates covered."""
    days = date_span(settings, date_from, date_to)
    per_day, totals = period_figures(conn, settings, days)
    c = settings.campaign
    b = settings.baseline
    return {
        "campaign": {
            "name": c.name,
            "start": c.start.isoformat(),
            "end": c.end.isoformat(),
            "timezone": c.timezone,
        },
        "baseline": None
        if b is None
        else {"label": b.label, "metric": b.metric, "value": _number(b.value)},
        "stored": stored_counts(conn),
        "days": per_day,
        "totals": {**totals, "baseline_progress": baseline_progress(settings, totals)},
    }

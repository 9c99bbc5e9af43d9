"""The figures of METRICS.md for a period: per day, totals, and ``hashmon stats --json``.

The additive figures come from ``reports.sums``, contributors and potential reach from
``reports.reach``; local days and hours from ``reports.periods``' offset segments. The
same integer SQL runs on SQLite and PostgreSQL; posts are never loaded whole.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from monitor.errors import UsageError
from monitor.settings import Settings, check_window
from monitor.store.writes import stored_counts
from monitor.times import DAY_US, HOUR_US, day_number
from reports.figure_keys import ENGAGEMENT_COUNTS, PERIOD_KEYS, SUM_KEYS
from reports.moderation import moderation_rules
from reports.periods import offset_segments
from reports.reach import author_figures
from reports.sums import excluded_days, moderated_posts, period_sums


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


class _Period(NamedTuple):
    per_day: list[dict[str, Any]]
    totals: dict[str, Any]
    hours: dict[int, dict[str, int]] | None
    running: list[tuple[int, int]]


def _period(
    conn: Connection, settings: Settings, days: Sequence[dt.date], by_hour: bool = False
) -> _Period:
    """Return per-day figures, totals, the additive figures of each hour (or None: see
    ``reports.sums.period_sums``) and the running author figures (see
    ``reports.reach.author_figures``).

    The additive figures come from one statement over index ranges (hours, or days for
    a long period), the author figures from one ordered read of the period's posts.
    """
    segments = offset_segments(days[0], days[-1], settings.campaign.tz)
    numbers = [day_number(d) for d in days]
    rules = moderation_rules(conn, settings)
    moderated = moderated_posts(conn, settings, rules, segments[0].lo, segments[-1].hi)
    sums, hours = period_sums(conn, settings, moderated, segments, by_hour)
    authors = author_figures(conn, rules, segments, numbers)
    excluded = excluded_days(moderated, segments)
    per_day = []
    total: dict[str, Any] = dict.fromkeys(SUM_KEYS, 0)
    for d, number in zip(days, numbers, strict=True):
        row: dict[str, Any] = dict(sums.get(number) or {})
        row["contributors"], row["potential_reach"] = authors["days"][number]
        row["excluded_posts"] = excluded.get(number, 0)
        per_day.append({"date": d.isoformat(), **_finish(row)})
        for key in SUM_KEYS:
            total[key] += row.get(key) or 0
    total["contributors"] = authors["contributors"]
    total["potential_reach"] = authors["reach"]
    total["excluded_posts"] = sum(excluded.get(n, 0) for n in numbers)
    return _Period(per_day, _finish(total), hours, authors["running"])


def period_figures(
    conn: Connection, settings: Settings, days: Sequence[dt.date]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (one figures dict per day, in order, zero days included; the totals).

    ``days`` are consecutive local dates; totals treat them as one period, so
    ``contributors`` and ``potential_reach`` count each author once over the span.
    """
    if not days:
        return [], _finish(None)
    period = _period(conn, settings, days)
    return period.per_day, period.totals


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
    try:
        check_window(start, end, "the period")
    except ValueError as exc:
        raise UsageError(f"{exc}: give --from and --to within it") from None
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


class PeriodStats(NamedTuple):
    """What a report reads from one pass over its period's posts."""

    figures: dict[str, Any]  # stats_object
    # the additive figures of each local hour (keyed by local hours since the epoch;
    # hours without posts left out): the report's hour table is summed from these
    hours: dict[int, dict[str, int]]
    # contributors and potential reach of the first k+1 days as one period, for each k
    running: list[dict[str, int]]


def _stats_object(
    conn: Connection,
    settings: Settings,
    days: list[dt.date],
    per_day: list[dict[str, Any]],
    totals: dict[str, Any],
) -> dict[str, Any]:
    from reports.stakeholders import stats_groups  # it builds on this module

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
        "groups": stats_groups(conn, settings, days, totals),
    }


def stats_object(
    conn: Connection,
    settings: Settings,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """Return the ``hashmon stats --json`` object of METRICS.md for the dates covered."""
    days = date_span(settings, date_from, date_to)
    period = _period(conn, settings, days)
    return finite(_stats_object(conn, settings, days, period.per_day, period.totals))


def finite(value: Any) -> Any:
    """Return ``value`` with every non-finite float (inf, NaN) as None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def period_stats(
    conn: Connection,
    settings: Settings,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> PeriodStats:
    """Return stats_object with the hours and running author figures it was made from."""
    days = date_span(settings, date_from, date_to)
    period = _period(conn, settings, days, by_hour=True)
    assert period.hours is not None  # summed by the hour whatever the period's length
    running = [{"contributors": c, "potential_reach": r} for c, r in period.running]
    return PeriodStats(
        _stats_object(conn, settings, days, period.per_day, period.totals), period.hours, running
    )


def day_stats(
    conn: Connection, settings: Settings, period: PeriodStats, day: dt.date
) -> PeriodStats:
    """Return the PeriodStats of ``day``, one of ``period``'s days, taken from its figures.

    A one-day period's totals are that day's row (its authors are the day's), so a daily
    report reads the day and the campaign to date in one pass; only the day's groups
    (owned, supporters, others) are read anew.
    """
    from reports.stakeholders import stats_groups  # it builds on this module

    obj = period.figures
    k = [d["date"] for d in obj["days"]].index(day.isoformat())
    row = obj["days"][k]
    totals = {key: value for key, value in row.items() if key != "date"}
    number = day_number(day)
    hours = {h: sums for h, sums in period.hours.items() if h * HOUR_US // DAY_US == number}
    figures = {
        **obj,
        "days": [row],
        "totals": {**totals, "baseline_progress": baseline_progress(settings, totals)},
        "groups": stats_groups(conn, settings, [day], totals),
    }
    running = [{"contributors": row["contributors"], "potential_reach": row["potential_reach"]}]
    return PeriodStats(figures, hours, running)

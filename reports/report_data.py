"""The data of a report: stats_object plus what the pages show beside it, assembled once.

The figures come from ``reports.stats``, the rankings from ``reports.rankings`` (run in
a second thread on a second connection of the same snapshot), the pace from
``reports.pace`` and the coverage from ``reports.coverage``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from monitor.settings import Settings
from reports.coverage import collection_coverage
from reports.pace import baseline_pace
from reports.rankings import (
    campaign_vs_others,
    hours_of_day,
    kind_shares,
    top_contributors,
    top_hashtags,
    top_posts,
)
from reports.stakeholders import report_stakeholders
from reports.stats import (
    day_stats,
    period_stats,
)


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, computed once and rendered into every format."""

    kind: str  # "daily" | "summary"
    settings: Settings
    day: dt.date | None  # the daily report's day; None for the summary
    days: list[dt.date]  # the local dates ``figures`` covers
    figures: dict[str, Any]  # stats_object for ``days`` (METRICS.md)
    to_date: dict[str, Any] | None  # stats_object, campaign start .. the day (daily only)
    pace: dict[str, Any]
    hours: list[dict[str, Any]]
    top_posts: list[dict[str, Any]]
    top_contributors: list[dict[str, Any]]
    top_hashtags: list[dict[str, Any]]
    kinds: list[dict[str, Any]]
    campaign_vs_others: list[dict[str, Any]]
    coverage: dict[str, Any]
    generated_at: dt.datetime
    simulated: bool
    # `hashmon stakeholders --json` for ``days``; None without any list (METRICS.md)
    stakeholders: dict[str, Any] | None = None
    shareable: bool = False  # the version without private individuals (reports.shareable)

    @property
    def totals(self) -> dict[str, Any]:
        """Return the totals of the period the report covers."""
        return self.figures["totals"]

    @property
    def window_days(self) -> list[dict[str, Any]]:
        """Return the per-day figures of the campaign days reported so far."""
        if self.kind == "summary":
            return self.figures["days"]
        return self.to_date["days"] if self.to_date is not None else []


def _read_snapshot(conn: Connection) -> Connection:
    # one report, one snapshot: on PostgreSQL every query must see the same committed data
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _ranked(conn: Connection, settings: Settings, first: dt.date, last: dt.date) -> dict[str, Any]:
    """The report's rankings: the half of its queries that needs no figures first."""
    n = settings.reports.top_n
    return {
        "top_posts": top_posts(conn, settings, first, last, n),
        "top_contributors": top_contributors(conn, settings, first, last, n),
        "top_hashtags": top_hashtags(conn, settings, first, last, n),
    }


@contextmanager
def _meanwhile(
    side: Connection | None, settings: Settings, first: dt.date, last: dt.date
) -> Iterator[Callable[[Connection], dict[str, Any]]]:
    """Run ``_ranked`` on ``side`` in a thread while the block computes the figures, and
    yield a function returning its result; with no ``side`` that function runs it then.

    ``side`` must read the same snapshot as the block's connection (``snapshot_pair``):
    the two halves run on two cores, since SQLite works without the GIL.
    """
    if side is None:
        yield lambda conn: _ranked(conn, settings, first, last)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="hashmon-report") as pool:
        future = pool.submit(_ranked, side, settings, first, last)
        try:
            yield lambda _conn: future.result()
        finally:
            future.cancel()
            wait([future])  # its connection must not outlive this block


def _parts(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    figures: dict[str, Any],
    hours: dict[int, dict[str, int]],
    now: dt.datetime,
    ranked: dict[str, Any],
) -> dict[str, Any]:
    totals = figures["totals"]
    coverage = collection_coverage(conn, settings, first, last, totals, now)
    coverage["stored_posts"] = figures["stored"]["posts"]
    return {
        "hours": hours_of_day(hours),
        **ranked,
        "kinds": kind_shares(totals),
        "campaign_vs_others": campaign_vs_others(conn, settings, first, last, totals),
        "coverage": coverage,
        "stakeholders": report_stakeholders(conn, settings, first, last),
    }


def daily_data(
    conn: Connection,
    settings: Settings,
    day: dt.date,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    side: Connection | None = None,
) -> ReportData:
    """Return the data of the daily report for local date ``day``.

    ``figures`` is stats_object for that one day; ``to_date`` is stats_object from the
    campaign's first day through ``day`` (the whole window once the week is over; None
    before it starts), from which the pace against the baseline is drawn. ``side``, a
    second connection in the same snapshot, runs the rankings at the same time.
    """
    now = now or dt.datetime.now(dt.UTC)
    conn = _read_snapshot(conn)
    with _meanwhile(side, settings, day, day) as ranked:
        c = settings.campaign
        to_date = None
        if c.start <= day <= c.end:
            # the day is one of the days to date: one read gives both
            window = period_stats(conn, settings, c.start, day)
            one_day = day_stats(conn, settings, window, day)
        else:
            one_day = period_stats(conn, settings, day, day)
            window = period_stats(conn, settings, c.start, c.end) if day > c.end else None
        figures, hours = one_day.figures, one_day.hours
        if window is not None:
            to_date = window.figures
        pace = baseline_pace(
            settings,
            to_date["days"] if to_date else [],
            window.running if window is not None else [],
            now,
        )
        parts = _parts(conn, settings, day, day, figures, hours, now, ranked(conn))
    return ReportData(
        kind="daily",
        settings=settings,
        day=day,
        days=[day],
        figures=figures,
        to_date=to_date,
        pace=pace,
        generated_at=now,
        simulated=simulated,
        **parts,
    )


def summary_data(
    conn: Connection,
    settings: Settings,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    side: Connection | None = None,
) -> ReportData:
    """Return the data of the end-of-week summary: the campaign window against the baseline.

    ``side``, a second connection in the same snapshot, runs the rankings at the same time.
    """
    now = now or dt.datetime.now(dt.UTC)
    conn = _read_snapshot(conn)
    days = settings.campaign.days()
    with _meanwhile(side, settings, days[0], days[-1]) as ranked:
        window = period_stats(conn, settings)
        figures, hours = window.figures, window.hours
        pace = baseline_pace(settings, figures["days"], window.running, now)
        parts = _parts(conn, settings, days[0], days[-1], figures, hours, now, ranked(conn))
    return ReportData(
        kind="summary",
        settings=settings,
        day=None,
        days=days,
        figures=figures,
        to_date=None,
        pace=pace,
        generated_at=now,
        simulated=simulated,
        **parts,
    )

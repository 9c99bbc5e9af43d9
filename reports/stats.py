"""The figures of METRICS.md, computed by SQL aggregates; only small results reach Python.

Local days and hours come from ``reports.periods``' offset segments. The same integer
SQL runs on SQLite and PostgreSQL; posts are never loaded whole.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from monitor.errors import UsageError
from monitor.settings import Settings, check_window
from monitor.store.engine import stream_rows
from monitor.store.writes import stored_counts
from monitor.times import DAY_US, HOUR_US, day_number
from reports.moderation import Rules, excluded_sql, hidden_sql, kept_sql, moderation_rules
from reports.periods import Segment, offset_segments, unit_ranges

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
    "hidden_posts",
    "excluded_posts",
)
ENGAGEMENT_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")
METRIC_NAMES = {
    "posts": "posts",
    "contributors": "contributors",
    "potential_impressions": "potential impressions",
    "potential_reach": "potential reach",
    "engagements": "engagements",
}
MAX_BRANCHES = 400  # SELECTs a UNION ALL statement; SQLite's limit is 500


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


def _sums_sql(
    settings: Settings,
    ranges: Sequence[tuple[int, int, int]],
    where: str = "1 = 1",
    where_params: dict[str, Any] | None = None,
) -> tuple[str, dict]:
    """Return one statement giving the additive figures of each span, and its parameters.

    A span is a range of the ``created_at_us`` index, so each branch reads only its own
    posts and nothing is sorted: cheaper than one GROUP BY over the period. ``where``
    narrows the posts (the moderation lists: see ``_unit_sums``).
    """
    tag_cond, men_cond, params = match_conditions(settings)
    params |= where_params or {}
    # a retweet's counts belong to its original, so engagement sums skip retweets
    sums = ", ".join(
        f"SUM(CASE WHEN p.kind <> 'retweet' THEN COALESCE(p.{c}, 0) ELSE 0 END) AS {c}"
        for c in ENGAGEMENT_COUNTS
    )
    branches = []
    for i, (key, lo, hi) in enumerate(ranges):
        params |= {f"k{i}": key, f"lo{i}": lo, f"hi{i}": hi}
        branches.append(
            f"""SELECT CAST(:k{i} AS BIGINT) AS k,
               COUNT(*) AS posts,
               SUM(CASE WHEN p.kind = 'original' THEN 1 ELSE 0 END) AS originals,
               SUM(CASE WHEN p.kind = 'retweet' THEN 1 ELSE 0 END) AS retweets,
               SUM(CASE WHEN p.kind = 'quote' THEN 1 ELSE 0 END) AS quotes,
               SUM(CASE WHEN p.kind = 'reply' THEN 1 ELSE 0 END) AS replies,
               SUM(CASE WHEN {tag_cond} THEN 1 ELSE 0 END) AS hashtag_posts,
               SUM(CASE WHEN {men_cond} THEN 1 ELSE 0 END) AS mention_posts,
               SUM(COALESCE(p.author_followers, 0)) AS potential_impressions,
               {sums},
               SUM(p.impression_count) AS impressions,
               COUNT(p.impression_count) AS impressions_reported,
               SUM(CASE WHEN p.author_followers IS NULL THEN 1 ELSE 0 END)
                   AS posts_without_followers,
               0 AS hidden_posts
            FROM posts p WHERE p.created_at_us >= :lo{i} AND p.created_at_us < :hi{i}
                AND {where}"""
        )
    return " UNION ALL ".join(branches), params


# the period figures that are sums of the posts' own columns; the rest count distinct
# authors or are computed from these sums
_NOT_SUMS = {
    "contributors",
    "potential_reach",
    "engagements",
    "engagement_rate",
    "impressions_coverage",
    "excluded_posts",
}
_SUM_KEYS = (*(k for k in PERIOD_KEYS if k not in _NOT_SUMS), "impressions_reported")


def _branch_sums(
    conn: Connection,
    settings: Settings,
    ranges: Sequence[tuple[int, int, int]],
    where: str = "1 = 1",
    where_params: dict[str, Any] | None = None,
) -> dict[int, dict[str, int]]:
    """Return the additive figures of each key of ``ranges`` that has posts (``where``)."""
    out: dict[int, dict[str, int]] = {}
    # SQLite allows 500 terms in a compound SELECT: a long period takes a few statements
    for start in range(0, len(ranges), MAX_BRANCHES):
        chunk = ranges[start : start + MAX_BRANCHES]
        sql, params = _sums_sql(settings, chunk, where, where_params)
        for row in conn.execute(text(sql), params).mappings():
            if not row["posts"]:
                continue
            acc = out.setdefault(int(row["k"]), dict.fromkeys(_SUM_KEYS, 0))
            for key in _SUM_KEYS:
                acc[key] += int(row[key] or 0)
    return out


def _moderated_posts(
    conn: Connection, settings: Settings, rules: Rules, lo: int, hi: int
) -> list[tuple[int, bool, dict[str, int]]]:
    """Return (created_at_us, excluded, figures of the one post) for every excluded or
    hidden post in ``[lo, hi)``: few posts, read in one statement over the index range."""
    if not (rules.excludes or rules.hides):
        return []
    tag_cond, men_cond, params = match_conditions(settings)
    excluded, excluded_params = excluded_sql(rules)
    hidden, hidden_params = hidden_sql(rules)
    params |= excluded_params | hidden_params | {"mlo": lo, "mhi": hi}
    counts = ", ".join(
        f"CASE WHEN p.kind <> 'retweet' THEN COALESCE(p.{c}, 0) ELSE 0 END AS {c}"
        for c in ENGAGEMENT_COUNTS
    )
    sql = f"""SELECT p.created_at_us, CASE WHEN {excluded} THEN 1 ELSE 0 END AS excluded,
           1 AS posts,
           CASE WHEN p.kind = 'original' THEN 1 ELSE 0 END AS originals,
           CASE WHEN p.kind = 'retweet' THEN 1 ELSE 0 END AS retweets,
           CASE WHEN p.kind = 'quote' THEN 1 ELSE 0 END AS quotes,
           CASE WHEN p.kind = 'reply' THEN 1 ELSE 0 END AS replies,
           CASE WHEN {tag_cond} THEN 1 ELSE 0 END AS hashtag_posts,
           CASE WHEN {men_cond} THEN 1 ELSE 0 END AS mention_posts,
           COALESCE(p.author_followers, 0) AS potential_impressions,
           {counts},
           COALESCE(p.impression_count, 0) AS impressions,
           CASE WHEN p.impression_count IS NULL THEN 0 ELSE 1 END AS impressions_reported,
           CASE WHEN p.author_followers IS NULL THEN 1 ELSE 0 END AS posts_without_followers
        FROM posts p WHERE p.created_at_us >= :mlo AND p.created_at_us < :mhi
            AND ({excluded} OR {hidden})"""
    out = []
    for row in conn.execute(text(sql), params).mappings():
        figures = {key: int(row[key]) for key in _SUM_KEYS if key != "hidden_posts"}
        out.append((int(row["created_at_us"]), bool(row["excluded"]), figures))
    return out


_Moderated = list[tuple[int, bool, dict[str, int]]]


def _unit_sums(
    conn: Connection,
    settings: Settings,
    moderated: _Moderated,
    ranges: Sequence[tuple[int, int, int]],
) -> dict[int, dict[str, int]]:
    """Return the additive figures of each key of ``ranges`` that has posts, excluded
    posts left out and hidden ones counted apart.

    Every post is summed as without moderation, then the figures of the few excluded
    posts are taken off and the hidden ones counted (``moderated``, from one more
    statement): a condition in every branch of the main statement cost several times the
    statement itself.
    """
    out = _branch_sums(conn, settings, ranges)
    if not ranges:
        return out
    starts = [lo for _, lo, _ in ranges]
    for us, excluded, figures in moderated:
        i = bisect_right(starts, us) - 1
        if i < 0 or us >= ranges[i][2]:
            continue
        acc = out[ranges[i][0]]
        if excluded:
            for name, value in figures.items():
                acc[name] -= value
            if not acc["posts"]:
                del out[ranges[i][0]]
        else:
            acc["hidden_posts"] += 1
    return out


def _sums(
    conn: Connection,
    settings: Settings,
    moderated: _Moderated,
    segments: Sequence[Segment],
    by_hour: bool,
) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]] | None]:
    """Return the additive figures of each local day with posts, and of each local hour
    (keyed by local hours since the epoch) when ``by_hour`` or the period has at most
    MAX_BRANCHES hours (None otherwise).

    An hour's posts are an index range like a day's, so a week costs the same read either
    way, and a report's hourly chart then needs no second pass over the posts.
    """
    hour_ranges = unit_ranges(segments, HOUR_US)
    if not by_hour and len(hour_ranges) > MAX_BRANCHES:
        return _unit_sums(conn, settings, moderated, unit_ranges(segments, DAY_US)), None
    hours = _unit_sums(conn, settings, moderated, hour_ranges)
    days: dict[int, dict[str, int]] = {}
    for hour, sums in hours.items():
        # local hours and days come from the same local time, so an hour lies in one day
        acc = days.setdefault(hour * HOUR_US // DAY_US, dict.fromkeys(_SUM_KEYS, 0))
        for key in _SUM_KEYS:
            acc[key] += sums[key]
    return days, hours


# Rows of the period's posts fetched at a time by the author pass: a few MB of tuples.
_AUTHOR_BATCH = 20_000

# The author pass: one span's posts with an author, in "latest post last" order (time,
# then the id as a number: its length, then its digits, since ids have no leading
# zeros). ``ix_posts_created_at_author`` holds exactly this order and these columns.
_LATEST_FOLLOWERS = (
    "SELECT p.author_id, COALESCE(p.author_followers, 0) FROM posts p "
    "WHERE p.created_at_us >= :lo AND p.created_at_us < :hi AND p.author_id IS NOT NULL "
    "AND {kept} "
    "ORDER BY p.created_at_us, p.platform, p.author_id, LENGTH(p.id), p.id"
)


def _excluded_days(moderated: _Moderated, segments: Sequence[Segment]) -> dict[int, int]:
    """Return the excluded posts of each local day that has any (METRICS.md
    ``excluded_posts``), put in their day by the same spans as every other figure."""
    spans = unit_ranges(segments, DAY_US)
    starts = [lo for _, lo, _ in spans]
    out: dict[int, int] = {}
    for us, excluded, _ in moderated:
        i = bisect_right(starts, us) - 1
        if excluded and i >= 0 and us < spans[i][2]:
            out[spans[i][0]] = out.get(spans[i][0], 0) + 1
    return out


def _author_figures(
    conn: Connection, rules: Rules, segments: Sequence[Segment], day_numbers: Sequence[int]
) -> dict[str, Any]:
    """Return contributors and potential reach per day and over the period.

    Both need each author's latest post, per day and over the period. In SQL that is a
    GROUP BY (author, day) and another by author: two sorts of every post, 1.4 s at a
    million posts (docs/PERFORMANCE.md). Instead the period's posts are read in time
    order, span by span, and a dict per day keeps the last follower count it saw for
    each author: the latest post's, by construction. Only two narrow columns cross into
    Python, a batch at a time, and memory grows with the number of authors, not posts.
    Since days are read in order, the period so far after each day gives the figures of
    that prefix of days at no extra cost (the pace of non-additive metrics needs them).
    Result: ``days`` {day number: (contributors, reach)}, ``contributors``, ``reach``,
    ``running`` [(contributors, reach) of days[0..k] for each k].
    """
    days: dict[int, tuple[int, int]] = dict.fromkeys(day_numbers, (0, 0))
    period: dict[str, int] = {}
    reach = 0
    so_far: dict[int, tuple[int, int]] = {}
    latest: dict[str, int] = {}
    spans = unit_ranges(segments, DAY_US)
    kept, kept_params = kept_sql(rules)
    sql = _LATEST_FOLLOWERS.format(kept=kept)
    for i, (key, lo, hi) in enumerate(spans):
        params = {"lo": lo, "hi": hi} | kept_params
        for batch in stream_rows(conn, sql, params, _AUTHOR_BATCH):
            latest.update(batch)
        if i + 1 == len(spans) or spans[i + 1][0] != key:  # a day can have two spans
            if key in days:
                days[key] = (len(latest), sum(latest.values()))
            # days come in time order: a later day's latest wins
            for author, followers in latest.items():
                reach += followers - period.get(author, 0)
                period[author] = followers
            so_far[key] = (len(period), reach)
            latest = {}
    running = []
    last = (0, 0)
    for number in day_numbers:
        last = so_far.get(number, last)
        running.append(last)
    return {"days": days, "contributors": len(period), "reach": reach, "running": running}


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
    ``_sums``) and the running author figures (see ``_author_figures``).

    The additive figures come from one statement over index ranges (hours, or days for
    a long period), the author figures from one ordered read of the period's posts.
    """
    segments = offset_segments(days[0], days[-1], settings.campaign.tz)
    numbers = [day_number(d) for d in days]
    rules = moderation_rules(conn, settings)
    moderated = _moderated_posts(conn, settings, rules, segments[0].lo, segments[-1].hi)
    sums, hours = _sums(conn, settings, moderated, segments, by_hour)
    authors = _author_figures(conn, rules, segments, numbers)
    excluded = _excluded_days(moderated, segments)
    per_day = []
    total: dict[str, Any] = dict.fromkeys(_SUM_KEYS, 0)
    for d, number in zip(days, numbers, strict=True):
        row: dict[str, Any] = dict(sums.get(number) or {})
        row["contributors"], row["potential_reach"] = authors["days"][number]
        row["excluded_posts"] = excluded.get(number, 0)
        per_day.append({"date": d.isoformat(), **_finish(row)})
        for key in _SUM_KEYS:
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

"""The additive figures of each local day and hour, by SQL over index ranges.

A span of local time is a range of the ``created_at_us`` index; one statement sums every
span's posts (a UNION ALL on SQLite, the spans as arrays joined to the index on
PostgreSQL). Excluded posts are then taken off and hidden ones counted from one more
small statement. Only the sums reach Python.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from monitor.settings import Settings
from monitor.times import DAY_US, HOUR_US
from reports.figure_keys import ENGAGEMENT_COUNTS, SUM_KEYS
from reports.matching import match_conditions
from reports.moderation import Rules, excluded_sql, hidden_sql
from reports.periods import Segment, unit_ranges

MAX_BRANCHES = 400  # SELECTs a UNION ALL statement; SQLite's limit is 500


def _figures(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Return the select list of a span's additive figures (over posts ``p``) and its
    parameters."""
    tag_cond, men_cond, params = match_conditions(settings)
    # a retweet's counts belong to its original, so engagement sums skip retweets
    sums = ", ".join(
        f"SUM(CASE WHEN p.kind <> 'retweet' THEN COALESCE(p.{c}, 0) ELSE 0 END) AS {c}"
        for c in ENGAGEMENT_COUNTS
    )
    select = f"""COUNT(*) AS posts,
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
               0 AS hidden_posts"""
    return select, params


def _sums_sql(settings: Settings, ranges: Sequence[tuple[int, int, int]]) -> tuple[str, dict]:
    """Return one SQLite statement giving the additive figures of each span, and its
    parameters.

    A span is a range of the ``created_at_us`` index, so each branch reads only its own
    posts and nothing is sorted: cheaper than one GROUP BY over the period.
    """
    select, params = _figures(settings)
    branches = []
    for i, (key, lo, hi) in enumerate(ranges):
        params |= {f"k{i}": key, f"lo{i}": lo, f"hi{i}": hi}
        branches.append(
            f"""SELECT CAST(:k{i} AS BIGINT) AS k, {select}
            FROM posts p WHERE p.created_at_us >= :lo{i} AND p.created_at_us < :hi{i}"""
        )
    return " UNION ALL ".join(branches), params


def _pg_sums_sql(settings: Settings, ranges: Sequence[tuple[int, int, int]]) -> tuple[str, dict]:
    """Return the PostgreSQL statement of ``_sums_sql``: the spans as arrays, each summed by
    a LATERAL subquery over its index range, as a branch there. The text is the same
    whatever the spans: a UNION ALL of a week's hours cost PostgreSQL ~70 ms of planning
    each time it was run. (A plain join of the spans to posts is planned as a scan of
    every post against every span: several times slower on a large week.)"""
    select, params = _figures(settings)
    params |= {
        "ks": [k for k, _, _ in ranges],
        "los": [lo for _, lo, _ in ranges],
        "his": [hi for _, _, hi in ranges],
    }
    sql = f"""SELECT r.k AS k, s.*
        FROM unnest(CAST(:ks AS BIGINT[]), CAST(:los AS BIGINT[]), CAST(:his AS BIGINT[]))
            AS r(k, lo, hi)
        CROSS JOIN LATERAL (SELECT {select} FROM posts p
            WHERE p.created_at_us >= r.lo AND p.created_at_us < r.hi) AS s"""
    return sql, params


def _branch_sums(
    conn: Connection, settings: Settings, ranges: Sequence[tuple[int, int, int]]
) -> dict[int, dict[str, int]]:
    """Return the additive figures of each key of ``ranges`` that has posts."""
    out: dict[int, dict[str, int]] = {}
    if conn.dialect.name == "postgresql":
        pg = [_pg_sums_sql(settings, ranges)] if ranges else []
        results = (conn.execute(text(sql), params) for sql, params in pg)
    else:
        # SQLite allows 500 terms in a compound SELECT: a long period takes a few
        # statements. They go to sqlite3 as written (it reads :name parameters itself):
        # SQLAlchemy would compile each ~0.5 MB text again for every new engine (each
        # command, each test), a tenth of a week's figures' time.
        results = (
            conn.exec_driver_sql(*_sums_sql(settings, ranges[start : start + MAX_BRANCHES]))
            for start in range(0, len(ranges), MAX_BRANCHES)
        )
    for result in results:
        for row in result.mappings():
            if not row["posts"]:
                continue
            acc = out.setdefault(int(row["k"]), dict.fromkeys(SUM_KEYS, 0))
            for key in SUM_KEYS:
                acc[key] += int(row[key] or 0)
    return out


def moderated_posts(
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
        figures = {key: int(row[key]) for key in SUM_KEYS if key != "hidden_posts"}
        out.append((int(row["created_at_us"]), bool(row["excluded"]), figures))
    return out


Moderated = list[tuple[int, bool, dict[str, int]]]


def _unit_sums(
    conn: Connection,
    settings: Settings,
    moderated: Moderated,
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


def period_sums(
    conn: Connection,
    settings: Settings,
    moderated: Moderated,
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
        acc = days.setdefault(hour * HOUR_US // DAY_US, dict.fromkeys(SUM_KEYS, 0))
        for key in SUM_KEYS:
            acc[key] += sums[key]
    return days, hours


def excluded_days(moderated: Moderated, segments: Sequence[Segment]) -> dict[int, int]:
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

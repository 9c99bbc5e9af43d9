"""The data of a report: stats_object plus what the pages show beside it.

Everything here builds on ``reports.metrics``: the same offset segments decide local
days and hours, so a report never disagrees with ``hashmon stats``. Aggregates run in
SQL; only small lists of dicts (top N rows, 24 hours, a few days) reach Python.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, text

from monitor.config import Settings
from monitor.times import (
    HOUR_US,
    dates,
    day_bounds_us,
    epoch_us,
    from_epoch_us,
    local_stamp,
    utc_text,
)
from reports.metrics import (
    ENGAGEMENT_COUNTS,
    MAX_BRANCHES,
    offset_segments,
    period_figures,
    period_stats,
    stats_object,
    unit_ranges,
    window_sql,
)
from reports.stakeholders import report_stakeholders

KINDS = ("original", "retweet", "reply", "quote")
KIND_KEYS = {"original": "originals", "retweet": "retweets", "reply": "replies", "quote": "quotes"}
# additive metrics: the window's value is the sum of its days; the others count authors once
ADDITIVE_METRICS = ("posts", "potential_impressions", "engagements")
METRIC_NAMES = {
    "posts": "posts",
    "contributors": "contributors",
    "potential_impressions": "potential impressions",
    "potential_reach": "potential reach",
    "engagements": "engagements",
}
_STREAM_ROWS = 5000  # rows per fetch of the hashtag stream: bounded memory on any size
_ENGAGEMENTS_SQL = " + ".join(f"COALESCE(p.{c}, 0)" for c in ENGAGEMENT_COUNTS)


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


# --- time -------------------------------------------------------------------------------


def post_link(platform: str, post_id: str, username: str | None) -> str | None:
    """Return the public address of a post, or None for a platform without one.

    The username is percent-encoded whole, so whatever it holds it stays one path segment
    of an https address: never another scheme, host or attribute.
    """
    if platform != "x":
        return None
    if username:
        return f"https://x.com/{quote(username, safe='')}/status/{quote(post_id, safe='')}"
    return f"https://x.com/i/web/status/{quote(post_id, safe='')}"


# --- queries ----------------------------------------------------------------------------


def hourly_activity(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date
) -> list[dict[str, Any]]:
    """Return 24 rows, local hour 0..23 of campaign time: posts, and posts of each kind.

    The hour comes from the same offset segments as the local day, so summer time
    changes move posts into the right hour. Each local hour of the period is a range of
    the ``created_at_us`` index, counted without sorting anything.
    """
    ranges = unit_ranges(offset_segments(first, last, settings.campaign.tz), HOUR_US)
    rows = [{"hour": h, "posts": 0, **{KIND_KEYS[k]: 0 for k in KINDS}} for h in range(24)]
    if len(ranges) > MAX_BRANCHES:
        return _hourly_grouped(conn, settings, first, last, rows)
    kinds = ", ".join(
        f"SUM(CASE WHEN p.kind = '{k}' THEN 1 ELSE 0 END) AS {KIND_KEYS[k]}" for k in KINDS
    )
    params: dict[str, int] = {}
    branches = []
    for i, (key, lo, hi) in enumerate(ranges):
        params |= {f"k{i}": key, f"lo{i}": lo, f"hi{i}": hi}
        branches.append(
            f"SELECT CAST(:k{i} AS BIGINT) AS k, COUNT(*) AS posts, {kinds} FROM posts p "
            f"WHERE p.created_at_us >= :lo{i} AND p.created_at_us < :hi{i}"
        )
    if branches:
        for found in conn.execute(text(" UNION ALL ".join(branches)), params).mappings():
            row = rows[int(found["k"]) % 24]
            for key in ("posts", *KIND_KEYS.values()):
                row[key] += int(found[key] or 0)
    return rows


def hours_of_day(hours: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """Return hourly_activity's 24 rows from ``period_stats``' figures of each local hour."""
    rows = [{"hour": h, "posts": 0, **{KIND_KEYS[k]: 0 for k in KINDS}} for h in range(24)]
    for hour, sums in hours.items():
        row = rows[hour % 24]
        for key in ("posts", *KIND_KEYS.values()):
            row[key] += sums[key]
    return rows


def _hourly_grouped(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """hourly_activity for a period too long for one statement of hour ranges."""
    cte, join, params = window_sql(settings, first, last)
    sql = f"""
        WITH s AS ({cte})
        SELECT ((p.created_at_us + s.off) / {HOUR_US}) % 24 AS hour, p.kind, COUNT(*) AS n
        {join}
        GROUP BY 1, 2
    """
    for hour, kind, n in conn.execute(text(sql), params):
        row = rows[int(hour)]
        row["posts"] += int(n)
        if kind in KIND_KEYS:
            row[KIND_KEYS[kind]] += int(n)
    return rows


def top_posts(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date, n: int
) -> list[dict[str, Any]]:
    """Return the ``n`` posts (retweets excluded) with most engagements in the period.

    Engagements are like + retweet + reply + quote counts, as METRICS.md sums them; ties
    go to the earlier post, then the smaller id.
    """
    cte, join, params = window_sql(settings, first, last)
    # rank first, then look up the authors of the few posts that made it
    sql = f"""
        WITH s AS ({cte}),
        top AS (
            SELECT p.platform, p.id, p.text, p.kind, p.created_at_us, p.author_id,
                   p.author_followers, p.impression_count,
                   COALESCE(p.like_count, 0) AS like_count,
                   COALESCE(p.retweet_count, 0) AS retweet_count,
                   COALESCE(p.reply_count, 0) AS reply_count,
                   COALESCE(p.quote_count, 0) AS quote_count,
                   {_ENGAGEMENTS_SQL} AS engagements
            {join}
            WHERE p.kind <> 'retweet'
            ORDER BY engagements DESC, p.created_at_us, LENGTH(p.id), p.id
            LIMIT :top_n
        )
        SELECT t.*, a.username, a.name
        FROM top t
        LEFT JOIN authors a ON a.platform = t.platform AND a.id = t.author_id
        ORDER BY t.engagements DESC, t.created_at_us, LENGTH(t.id), t.id
    """
    tz = settings.campaign.tz
    out = []
    for rank, row in enumerate(conn.execute(text(sql), params | {"top_n": n}).mappings(), 1):
        created = from_epoch_us(row["created_at_us"])
        out.append(
            {
                "rank": rank,
                "id": row["id"],
                "platform": row["platform"],
                "kind": row["kind"],
                "text": row["text"],
                "author_id": row["author_id"],
                "username": row["username"],
                "name": row["name"],
                "author_followers": int(row["author_followers"] or 0),
                "created_at": utc_text(created),
                "created_at_local": local_stamp(created, tz),
                "like_count": int(row["like_count"]),
                "retweet_count": int(row["retweet_count"]),
                "reply_count": int(row["reply_count"]),
                "quote_count": int(row["quote_count"]),
                "engagements": int(row["engagements"]),
                "impression_count": row["impression_count"],
                "url": post_link(row["platform"], row["id"], row["username"]),
            }
        )
    return out


def top_contributors(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date, n: int
) -> list[dict[str, Any]]:
    """Return the ``n`` authors with the most potential impressions in the period.

    An author's potential impressions are the sum of ``author_followers`` over their posts
    (retweets included), as METRICS.md defines the figure; ties go to more posts, then id.
    """
    cte, join, params = window_sql(settings, first, last)
    # ranking reads only the posts index; engagements need table rows, so they are summed
    # afterwards for the few authors ranked (at a million posts: 0.45 s instead of 0.95)
    sql = f"""
        WITH s AS ({cte}),
        top AS (
            SELECT p.platform, p.author_id, COUNT(*) AS posts,
                   SUM(COALESCE(p.author_followers, 0)) AS potential_impressions
            {join}
            WHERE p.author_id IS NOT NULL
            GROUP BY p.platform, p.author_id
            ORDER BY potential_impressions DESC, posts DESC, LENGTH(p.author_id), p.author_id
            LIMIT :top_n
        )
        SELECT t.*, a.username, a.name, a.followers_count
        FROM top t
        LEFT JOIN authors a ON a.platform = t.platform AND a.id = t.author_id
        ORDER BY t.potential_impressions DESC, t.posts DESC, LENGTH(t.author_id), t.author_id
    """
    ranked = list(conn.execute(text(sql), params | {"top_n": n}).mappings())
    engagements = _author_sums(
        conn, settings, first, last, [(r["platform"], r["author_id"]) for r in ranked]
    )
    return [
        {
            "rank": rank,
            "author_id": row["author_id"],
            "platform": row["platform"],
            "username": row["username"],
            "name": row["name"],
            "posts": int(row["posts"]),
            "potential_impressions": int(row["potential_impressions"] or 0),
            "engagements": engagements.get((row["platform"], row["author_id"]), {}).get(
                "engagements", 0
            ),
            "followers_count": row["followers_count"],
        }
        for rank, row in enumerate(ranked, 1)
    ]


def _author_sums(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    authors: Sequence[tuple[str, str]],
) -> dict[tuple[str, str], dict[str, int]]:
    """Return posts, potential impressions and engagements of a few authors in the period.

    Keyed by (platform, author id); authors without posts in the period are left out.
    The index holds each post's author, so only these authors' table rows are read.
    """
    if not authors:
        return {}
    cte, join, params = window_sql(settings, first, last)
    names = []
    for i, (platform, author_id) in enumerate(authors):
        params |= {f"au_p{i}": platform, f"au_a{i}": author_id}
        names.append(f":au_a{i}")
    wanted = set(authors)
    sql = f"""
        WITH s AS ({cte})
        SELECT p.platform, p.author_id, COUNT(*) AS posts,
               SUM(COALESCE(p.author_followers, 0)) AS potential_impressions,
               SUM(CASE WHEN p.kind <> 'retweet' THEN {_ENGAGEMENTS_SQL} ELSE 0 END)
                   AS engagements
        {join}
        WHERE p.author_id IN ({", ".join(names)})
        GROUP BY p.platform, p.author_id
    """
    out = {}
    for row in conn.execute(text(sql), params).mappings():
        key = (row["platform"], row["author_id"])
        if key in wanted:  # the same id on another platform is someone else
            out[key] = {
                k: int(row[k] or 0) for k in ("posts", "potential_impressions", "engagements")
            }
    return out


def top_hashtags(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date, n: int
) -> list[dict[str, Any]]:
    """Return the ``n`` hashtags most often used beside the campaign's own, with post counts.

    Counts posts of the period (every kind) that carry each tag, as stored: casefolded,
    without ``#``. Each distinct set of tags comes once with its number of posts, streamed
    through a server-side cursor in chunks, so memory stays bounded on any data.
    """
    cte, join, params = window_sql(settings, first, last)
    # a campaign's posts repeat a few sets of tags: count each set in SQL, split it once
    sql = (
        f"WITH s AS ({cte}) SELECT p.hashtags, COUNT(*) {join} "
        "WHERE p.hashtags <> '' GROUP BY p.hashtags"
    )
    own = set(settings.campaign.hashtag_terms)
    counts: Counter[str] = Counter()
    result = conn.execution_options(yield_per=_STREAM_ROWS).execute(text(sql), params)
    for tags, posts in result:
        for t in tags.split():
            if t not in own:
                counts[t] += int(posts)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [{"rank": i, "hashtag": tag, "posts": c} for i, (tag, c) in enumerate(ranked, 1)]


def kind_shares(totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Return posts of each kind and their share of the period's posts (0.0 with none)."""
    posts = totals["posts"]
    return [
        {
            "kind": kind,
            "posts": totals[KIND_KEYS[kind]],
            "share": totals[KIND_KEYS[kind]] / posts if posts else 0.0,
        }
        for kind in KINDS
    ]


def campaign_vs_others(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    totals: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return two rows: posts by the campaign's own accounts, and everyone else's.

    An own post is one whose author's username (authors table) equals a campaign account,
    compared casefolded; an author with no known username counts as someone else.
    Each row: posts, potential impressions, engagements (retweets' copies excluded).
    ``totals`` are the period's figures (``period_figures``), computed when not given:
    everyone else's row is the totals less the campaign's own.
    """
    terms = settings.campaign.account_terms
    if totals is None:
        _, totals = period_figures(conn, settings, dates(first, last))
    own = {"posts": 0, "contributors": 0, "potential_impressions": 0, "engagements": 0}
    # the campaign's accounts are a handful of authors: find them, then read only their
    # posts, instead of joining every post of the period to its author
    accounts: list[tuple[str, str]] = []
    if terms:
        names = ", ".join(f":acct{i}" for i in range(len(terms)))
        # usernames on X are ASCII, where LOWER in SQL and str.casefold agree
        accounts = [
            (platform, author_id)
            for platform, author_id in conn.execute(
                text(f"SELECT platform, id FROM authors WHERE LOWER(username) IN ({names})"),
                {f"acct{i}": t for i, t in enumerate(terms)},
            )
        ]
    if accounts:
        sums = _author_sums(conn, settings, first, last, accounts).values()
        own = {
            "posts": sum(a["posts"] for a in sums),
            "contributors": len(sums),
            "potential_impressions": sum(a["potential_impressions"] for a in sums),
            "engagements": sum(a["engagements"] for a in sums),
        }
    # every author is the campaign's or someone else's, so the rest is the difference
    others = {key: int(totals[key]) - own[key] for key in own}
    label = ", ".join(f"@{a.strip().lstrip('@')}" for a in settings.campaign.accounts)
    return [
        {"group": "campaign", "label": label or "(no accounts configured)", **own},
        {"group": "others", "label": "everyone else", **others},
    ]


def baseline_pace(
    conn: Connection,
    settings: Settings,
    window_days: Sequence[dict[str, Any]],
    window_totals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the cumulative baseline metric for each campaign day reported so far.

    ``window_days`` are stats_object days from ``campaign.start`` on, in order. Posts,
    potential impressions and engagements add up day by day; contributors and potential
    reach count each author once, so their value on day k is taken over days 1..k as one
    period (METRICS.md never sums reach across days). ``window_totals``, the figures over
    all of ``window_days``, saves recomputing the last of those periods. Each day carries
    its share of the baseline and what each remaining campaign day would need to pass it.
    """
    b = settings.baseline
    metric = b.metric if b is not None else "potential_impressions"
    campaign_days = settings.campaign.days()
    dates = [dt.date.fromisoformat(d["date"]) for d in window_days]
    cumulative: list[int] = []
    running = 0
    for k, day in enumerate(window_days):
        if metric in ADDITIVE_METRICS:
            running += day[metric]
            cumulative.append(running)
        elif k == len(window_days) - 1 and window_totals is not None:
            cumulative.append(window_totals[metric])
        else:
            _, totals = period_figures(conn, settings, dates[: k + 1])
            cumulative.append(totals[metric])
    rows = []
    for day, value in zip(dates, cumulative, strict=True):
        days_left = sum(1 for d in campaign_days if d > day)
        row: dict[str, Any] = {
            "date": day.isoformat(),
            "cumulative": value,
            "progress": None,
            "days_left": days_left,
            "needed_per_day": None,
        }
        if b is not None:
            remaining = max(0.0, b.value - value)
            row["progress"] = value / b.value
            if days_left:
                row["needed_per_day"] = remaining / days_left
        rows.append(row)
    last = rows[-1] if rows else None
    passed_on = next(
        (r["date"] for r in rows if b is not None and r["cumulative"] >= b.value), None
    )
    return {
        "metric": metric,
        "label": b.label if b is not None else None,
        "baseline": b.value if b is not None else None,
        "days": rows,
        "cumulative": last["cumulative"] if last else 0,
        "progress": last["progress"] if last else (0.0 if b is not None else None),
        "passed": bool(b is not None and last is not None and last["cumulative"] >= b.value),
        "passed_on": passed_on,
        "days_left": last["days_left"] if last else len(campaign_days),
        "needed_per_day": last["needed_per_day"] if last else None,
    }


def collection_coverage(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    totals: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    """Return how complete the period's data is: runs, failures, gaps, idle hours, counts.

    Runs count when they started within the period. Gaps are those that collect passes
    recorded (``gap_from``/``gap_to``) and that overlap the period. Hours with no
    collect pass are counted over the period up to ``now``, and only when at least one
    collect pass ran in it (an imported archive has no passes to miss).
    """
    lo_us, hi_us = day_bounds_us(first, last, settings.campaign.tz)
    lo, hi = utc_text(from_epoch_us(lo_us)), utc_text(from_epoch_us(hi_us))
    bounds = {"lo": lo, "hi": hi}
    kinds: dict[str, int] = {}
    failed = 0
    for kind, status, n in conn.execute(
        text(
            "SELECT kind, status, COUNT(*) FROM collection_runs "
            "WHERE started_at >= :lo AND started_at < :hi GROUP BY kind, status"
        ),
        bounds,
    ):
        kinds[kind] = kinds.get(kind, 0) + int(n)
        if status == "failed":
            failed += int(n)
    gaps = []
    for run_id, started_at, gap_from, gap_to in conn.execute(
        text(
            "SELECT id, started_at, gap_from, gap_to FROM collection_runs "
            "WHERE gap_from IS NOT NULL OR gap_to IS NOT NULL ORDER BY started_at, id"
        )
    ):
        # an open end is unknown: bound it by the run that found the gap
        start, end = gap_from or started_at, gap_to or started_at
        if start < hi and end >= lo:
            gaps.append({"run_id": int(run_id), "gap_from": gap_from, "gap_to": gap_to})
    hours_checked = hours_missing = 0
    missing: list[str] = []
    if kinds.get("collect"):
        # UTC text sorts as it reads, so its first 13 characters name the hour
        active = {
            h
            for (h,) in conn.execute(
                text(
                    "SELECT DISTINCT SUBSTR(started_at, 1, 13) FROM collection_runs "
                    "WHERE kind = 'collect' AND started_at >= :lo AND started_at < :hi"
                ),
                bounds,
            )
        }
        stop = min(hi_us, epoch_us(now))
        hour = lo_us - lo_us % HOUR_US
        while hour + HOUR_US <= stop:
            hours_checked += 1
            label = utc_text(from_epoch_us(hour))[:13]
            if label not in active:
                hours_missing += 1
                missing.append(label + ":00Z")
            hour += HOUR_US
    return {
        "posts": totals["posts"],
        "stored_posts": None,
        "posts_without_followers": totals["posts_without_followers"],
        "impressions_coverage": totals["impressions_coverage"],
        "runs": sum(kinds.values()),
        "runs_by_kind": dict(sorted(kinds.items())),
        "runs_failed": failed,
        "gaps": gaps,
        "hours_checked": hours_checked,
        "hours_without_collect_run": hours_missing,
        "hours_without_collect_run_list": missing[:48],
    }


# --- whole reports ----------------------------------------------------------------------


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
    hours: dict[int, dict[str, int]] | None,
    now: dt.datetime,
    ranked: dict[str, Any],
) -> dict[str, Any]:
    totals = figures["totals"]
    coverage = collection_coverage(conn, settings, first, last, totals, now)
    coverage["stored_posts"] = figures["stored"]["posts"]
    return {
        "hours": hourly_activity(conn, settings, first, last)
        if hours is None
        else hours_of_day(hours),
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
        figures, hours = period_stats(conn, settings, day, day)
        c = settings.campaign
        to_date = None
        if day >= c.start:
            to_date = stats_object(conn, settings, c.start, min(day, c.end))
        pace = baseline_pace(
            conn,
            settings,
            to_date["days"] if to_date else [],
            to_date["totals"] if to_date else None,
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
        figures, hours = period_stats(conn, settings)
        pace = baseline_pace(conn, settings, figures["days"], figures["totals"])
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

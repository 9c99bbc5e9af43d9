"""The report's rankings and breakdowns: top posts, top contributors, top hashtags, the
hour of day, post kinds, and the campaign's own accounts against everyone else.

They build on ``reports.stats``: the same offset segments decide local days and hours,
so a report never disagrees with ``hashmon stats``. Aggregates run in SQL; only small
lists of dicts (top N rows, 24 hours) reach Python.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, text

from monitor.settings import Settings
from monitor.times import (
    dates,
    from_epoch_us,
    local_stamp,
    utc_text,
)
from reports.figure_keys import ENGAGEMENT_COUNTS
from reports.moderation import hidden_authors_sql, kept_sql, moderation_rules, shown_sql
from reports.periods import window_sql
from reports.stats import period_figures

KINDS = ("original", "retweet", "reply", "quote")

KIND_KEYS = {"original": "originals", "retweet": "retweets", "reply": "replies", "quote": "quotes"}

_STREAM_ROWS = 5000  # rows per fetch of the hashtag stream: bounded memory on any size

_ENGAGEMENTS_SQL = " + ".join(f"COALESCE(p.{c}, 0)" for c in ENGAGEMENT_COUNTS)


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


def hours_of_day(hours: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """Return 24 rows, local hour 0..23 of campaign time: posts, and posts of each kind.

    Summed from ``period_stats``' figures of each local hour, which come from the same
    offset segments as the local day, so summer time changes move posts into the right
    hour, and the hour table needs no read of its own.
    """
    rows = [{"hour": h, "posts": 0, **{KIND_KEYS[k]: 0 for k in KINDS}} for h in range(24)]
    for hour, sums in hours.items():
        row = rows[hour % 24]
        for key in ("posts", *KIND_KEYS.values()):
            row[key] += sums[key]
    return rows


def top_posts(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date, n: int
) -> list[dict[str, Any]]:
    """Return the ``n`` posts (retweets and gone posts excluded) with most engagements.

    Engagements are like + retweet + reply + quote counts, as METRICS.md sums them; ties
    go to the earlier post, then the smaller id. Hidden and excluded posts are never
    listed (METRICS.md): the list is of the posts that may be shown.
    """
    cte, join, params = window_sql(settings, first, last)
    shown, shown_params = shown_sql(moderation_rules(conn, settings))
    params |= shown_params
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
            WHERE p.kind <> 'retweet' AND {shown} AND p.gone_at IS NULL
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
    Excluded posts count for no one; a hidden account is never a row (its posts still
    count in every figure), while an author with only some posts hidden is listed.
    """
    cte, join, params = window_sql(settings, first, last)
    rules = moderation_rules(conn, settings)
    kept, kept_params = kept_sql(rules)
    hidden, hidden_params = hidden_authors_sql(rules)
    params |= kept_params | hidden_params
    # ranking reads only the posts index; engagements need table rows, so they are summed
    # afterwards for the few authors ranked (at a million posts: 0.45 s instead of 0.95)
    sql = f"""
        WITH s AS ({cte}),
        top AS (
            SELECT p.platform, p.author_id, COUNT(*) AS posts,
                   SUM(COALESCE(p.author_followers, 0)) AS potential_impressions
            {join}
            WHERE p.author_id IS NOT NULL AND {kept} AND NOT ({hidden})
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
    kept, kept_params = kept_sql(moderation_rules(conn, settings))
    params |= kept_params
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
        WHERE p.author_id IN ({", ".join(names)}) AND {kept}
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
    kept, kept_params = kept_sql(moderation_rules(conn, settings))
    params |= kept_params
    # a campaign's posts repeat a few sets of tags: count each set in SQL, split it once
    sql = (
        f"WITH s AS ({cte}) SELECT p.hashtags, COUNT(*) {join} "
        f"WHERE p.hashtags <> '' AND {kept} GROUP BY p.hashtags"
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

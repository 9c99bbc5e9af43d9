"""Stakeholder figures of METRICS.md: groups (owned, supporters, others), each supporter,
each decision maker, read from the posts of the listed authors only.

A post belongs to the stakeholder whose handle equals its author's stored username
(casefolded). The listed handles are first resolved to author ids (one read of the
authors table), then those authors' posts in the period are read once, in index order
(batched ``IN`` lists of ids), and summed per author and local day: a GROUP BY plus a
window function for each author's latest post read the same index range twice (about
1.0 s against 0.65 s for 700 authors over a million posts, on a shared machine, three
runs each; noisy). ``others`` is the
period's totals minus the two listed groups: each author falls in one group, so that is
exact for distinct-author figures too. ``mentioned_in`` needs every post that mentions
anyone: the period's non-empty ``mentions`` column is read in batches and matched
against the handles in Python.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from monitor.settings import Settings
from monitor.stakeholder_lists import SUPPORTERS, Lists, Stakeholder, load_lists
from monitor.store.engine import stream_rows
from monitor.times import DAY_US
from reports.figure_keys import ENGAGEMENT_COUNTS
from reports.matching import like_terms
from reports.moderation import kept_sql, moderation_rules
from reports.periods import offset_segments
from reports.stats import date_span, period_figures

GROUPS = ("owned", "supporters", "others")
GROUP_KEYS = ("posts", "contributors", "potential_impressions", "potential_reach", "engagements")
KINDS = {"original": "originals", "retweet": "retweets", "quote": "quotes", "reply": "replies"}
_ROWS = 20_000  # rows fetched at a time from a streamed read
_EPOCH = dt.date(1970, 1, 1)

# a retweet's counts belong to its original (METRICS.md), so engagements skip retweets
_ENGAGEMENTS = (
    "CASE WHEN p.kind <> 'retweet' THEN "
    + " + ".join(f"COALESCE(p.{c}, 0)" for c in ENGAGEMENT_COUNTS)
    + " ELSE 0 END"
)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def author_handles(conn: Connection, handles: Iterable[str]) -> dict[str, str]:
    """Return {author id: casefolded handle} for the stored authors whose latest username
    is one of ``handles`` (casefolded). Authors without a username match nothing."""
    wanted = sorted({h.casefold() for h in handles})
    out: dict[str, str] = {}
    sql = text(
        "SELECT a.id, LOWER(a.username) FROM authors a "
        "WHERE a.username IS NOT NULL AND LOWER(a.username) IN :names"
    ).bindparams(bindparam("names", expanding=True))
    for chunk in _chunks(wanted, _batch_size(conn)):
        for author_id, username in conn.execute(sql, {"names": list(chunk)}):
            out[author_id] = username
    return out


def _batch_size(conn: Connection) -> int:
    """Return how many author ids one statement may bind on this database."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        try:
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python before 3.11: assume SQLite's oldest limit
            limit = 999
        return max(100, min(limit, 30_000) - 100)
    return 30_000


def _local_day_sql(settings: Settings, days: Sequence[dt.date]) -> tuple[str, dict, int, int]:
    """Return (SQL for a post's local day number, its parameters, and the period's UTC
    bounds): the offset segments as a CASE, so the query reads one index range in
    order, with no join."""
    segments = offset_segments(days[0], days[-1], settings.campaign.tz)
    cases, params = [], {}
    for i, seg in enumerate(segments[:-1]):
        cases.append(f"WHEN p.created_at_us < :seg_hi{i} THEN :seg_off{i}")
        params |= {f"seg_hi{i}": seg.hi, f"seg_off{i}": seg.offset}
    params["seg_last"] = segments[-1].offset
    offset = f"CASE {' '.join(cases)} ELSE :seg_last END" if cases else ":seg_last"
    day = f"(p.created_at_us + CAST({offset} AS BIGINT)) / {DAY_US}"
    return day, params, segments[0].lo, segments[-1].hi


def author_figures(
    conn: Connection, settings: Settings, days: Sequence[dt.date], author_ids: Iterable[str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return (one row per (author, local day with posts) of ``author_ids`` over
    ``days``; each author's followers from their latest post in the period).

    A row has ``author_id``, ``day`` (day number), ``posts``, the four kinds,
    ``hashtag_posts``, ``potential_impressions`` and ``engagements``. The listed
    authors' posts are read once, in the index's "latest post last" order (time, then
    the id as a number), so the last row of an author is their latest post, as
    potential_reach takes it; only their posts cross into Python, a batch at a time.
    """
    ids = sorted(set(author_ids))
    if not ids or not days:
        return [], {}
    day, params, lo, hi = _local_day_sql(settings, days)
    tag_cond, tag_params = like_terms("p.hashtags", settings.campaign.hashtag_terms, "t")
    # an excluded post is in no figure, of a group or of a person (METRICS.md)
    kept, kept_params = kept_sql(moderation_rules(conn, settings))
    acc: dict[tuple[str, int], dict[str, Any]] = {}
    latest: dict[str, int] = {}
    size = _batch_size(conn)
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        names = {f"a{i}": a for i, a in enumerate(chunk)}
        sql = f"""SELECT p.author_id, {day}, p.kind, COALESCE(p.author_followers, 0),
                   {_ENGAGEMENTS}, CASE WHEN {tag_cond} THEN 1 ELSE 0 END
            FROM posts p
            WHERE p.created_at_us >= :lo AND p.created_at_us < :hi
              AND p.author_id IN ({", ".join(":" + n for n in names)})
              AND {kept}
            ORDER BY p.created_at_us, p.platform, p.author_id, LENGTH(p.id), p.id"""
        bound = {**params, **tag_params, **kept_params, **names, "lo": lo, "hi": hi}
        for batch in stream_rows(conn, sql, bound, _ROWS):
            for author_id, number, kind, followers, engagements, tagged in batch:
                row = acc.get((author_id, number))
                if row is None:
                    row = acc[(author_id, number)] = {
                        "author_id": author_id,
                        "day": int(number),
                        "posts": 0,
                        **dict.fromkeys(KINDS.values(), 0),
                        "hashtag_posts": 0,
                        "potential_impressions": 0,
                        "engagements": 0,
                    }
                row["posts"] += 1
                if kind in KINDS:
                    row[KINDS[kind]] += 1
                row["hashtag_posts"] += int(tagged)
                row["potential_impressions"] += int(followers)
                row["engagements"] += int(engagements)
                latest[author_id] = int(followers)
    return list(acc.values()), latest


def _group(rows: list[dict[str, Any]], latest: dict[str, int]) -> dict[str, int]:
    return {
        "posts": sum(r["posts"] for r in rows),
        "contributors": len({r["author_id"] for r in rows}),
        "potential_impressions": sum(r["potential_impressions"] for r in rows),
        "potential_reach": sum(latest.values()),
        "engagements": sum(r["engagements"] for r in rows),
    }


def group_figures(
    conn: Connection,
    settings: Settings,
    days: Sequence[dt.date],
    totals: dict[str, Any],
    supporters: Sequence[Stakeholder] | None,
) -> dict[str, dict[str, int]]:
    """Return ``{"owned": {...}, "supporters": {...}, "others": {...}}`` for ``days``.

    ``totals`` are the period's figures (``period_figures``); ``others`` is them minus
    the owned and supporters groups. An author who is a campaign account is owned even
    when a supporter lists the same handle (precedence owned -> supporters -> others).
    """
    owned_handles = set(settings.campaign.account_terms)
    supporter_handles = {h for s in supporters or () for h in s.handles} - owned_handles
    authors = author_handles(conn, owned_handles | supporter_handles)
    owned_ids = {a for a, h in authors.items() if h in owned_handles}
    supporter_ids = {a for a, h in authors.items() if h in supporter_handles}
    rows, latest = author_figures(conn, settings, days, owned_ids | supporter_ids)
    out = {}
    for name, ids in (("owned", owned_ids), ("supporters", supporter_ids)):
        out[name] = _group(
            [r for r in rows if r["author_id"] in ids],
            {a: f for a, f in latest.items() if a in ids},
        )
    out["others"] = {k: int(totals[k]) - out["owned"][k] - out["supporters"][k] for k in GROUP_KEYS}
    return out


def stats_groups(
    conn: Connection, settings: Settings, days: Sequence[dt.date], totals: dict[str, Any]
) -> dict[str, dict[str, int]]:
    """Return the ``groups`` object of ``hashmon stats --json``, reading the supporters
    list of the settings (raises ConfigError for a bad one)."""
    return group_figures(conn, settings, days, totals, load_lists(settings, (SUPPORTERS,))[0])


def _mentioned_in(
    conn: Connection, settings: Settings, days: Sequence[dt.date], people: Sequence[Stakeholder]
) -> list[int]:
    """Return, per person, the posts in the period whose mention terms hold one of their
    handles (stored by the entities-or-text rule, as for campaign accounts)."""
    counts = [0] * len(people)
    owner = {h: i for i, person in enumerate(people) for h in person.handles}
    if not owner or not days:
        return counts
    segments = offset_segments(days[0], days[-1], settings.campaign.tz)
    kept, kept_params = kept_sql(moderation_rules(conn, settings))
    sql = (
        "SELECT p.mentions FROM posts p WHERE p.created_at_us >= :lo "
        f"AND p.created_at_us < :hi AND p.mentions <> '' AND {kept}"
    )
    bounds = {"lo": segments[0].lo, "hi": segments[-1].hi, **kept_params}
    for batch in stream_rows(conn, sql, bounds, _ROWS):
        for (mentions,) in batch:
            found = {i for m in mentions.split() if (i := owner.get(m)) is not None}
            for i in found:
                counts[i] += 1
    return counts


def _per_person(
    people: Sequence[Stakeholder], authors: dict[str, str], rows: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Return each person's (author, day) rows."""
    who = {h: i for i, person in enumerate(people) for h in person.handles}
    out: list[list[dict[str, Any]]] = [[] for _ in people]
    for row in rows:
        i = who.get(authors.get(row["author_id"], ""))
        if i is not None:
            out[i].append(row)
    return out


def stakeholders_object(
    conn: Connection,
    settings: Settings,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    lists: Lists | None = None,
) -> dict[str, Any]:
    """Return the ``hashmon stakeholders --json`` object of METRICS.md for the dates
    covered (the campaign window, either end moved by an override).

    ``lists`` defaults to the settings' lists (raises ConfigError for a bad one); a list
    not configured gives an empty array. Raises ValueError when the start falls after
    the end.
    """
    days = date_span(settings, date_from, date_to)
    if lists is None:
        lists = load_lists(settings)
    supporters = list(lists.supporters or [])
    makers = list(lists.decision_makers or [])
    handles = {h for s in (*supporters, *makers) for h in s.handles}
    authors = author_handles(conn, handles)
    rows, _ = author_figures(conn, settings, days, authors)

    supporter_out = []
    for person, mine in zip(supporters, _per_person(supporters, authors, rows), strict=True):
        active = sorted({r["day"] for r in mine})
        supporter_out.append(
            {
                "name": person.name,
                "handles": list(person.handles),
                "columns": dict(person.columns),
                "posts": sum(r["posts"] for r in mine),
                "days_active": [(_EPOCH + dt.timedelta(days=d)).isoformat() for d in active],
                "potential_impressions": sum(r["potential_impressions"] for r in mine),
                "engagements": sum(r["engagements"] for r in mine),
                "hashtag_posts": sum(r["hashtag_posts"] for r in mine),
            }
        )
    mentioned = _mentioned_in(conn, settings, days, makers)
    maker_out = []
    for person, mine, n in zip(makers, _per_person(makers, authors, rows), mentioned, strict=True):
        posts = sum(r["posts"] for r in mine)
        maker_out.append(
            {
                "name": person.name,
                "handles": list(person.handles),
                "role": person.role,
                "columns": dict(person.columns),
                "posts": posts,
                **{key: sum(r[key] for r in mine) for key in KINDS.values()},
                "mentioned_in": n,
                "potential_impressions": sum(r["potential_impressions"] for r in mine),
                "engagements": sum(r["engagements"] for r in mine),
                "engaged": posts > 0,
            }
        )
    return {
        "dates": {"from": days[0].isoformat(), "to": days[-1].isoformat()},
        "supporters": supporter_out,
        "silent": [s["name"] for s in supporter_out if s["posts"] == 0],
        "decision_makers": maker_out,
    }


def period_groups(
    conn: Connection, settings: Settings, days: Sequence[dt.date]
) -> dict[str, dict[str, int]]:
    """Return the groups of ``days`` computing the period's totals first (for callers
    without a stats object at hand)."""
    _, totals = period_figures(conn, settings, days)
    return stats_groups(conn, settings, days, totals)


def report_stakeholders(
    conn: Connection, settings: Settings, first: dt.date, last: dt.date
) -> dict[str, Any] | None:
    """Return the report JSON's ``stakeholders`` object for ``first..last``: the
    ``hashmon stakeholders --json`` object, or None when no list is configured."""
    lists = load_lists(settings)
    if lists.supporters is None and lists.decision_makers is None:
        return None
    return stakeholders_object(conn, settings, first, last, lists)


def _status(m: dict[str, Any]) -> str:
    return "engaged" if m["engaged"] else "mentioned only" if m["mentioned_in"] else "neither"


def stakeholder_tables(obj: dict[str, Any]) -> list[tuple[str, str, list[str], list[list[Any]]]]:
    """Return the report's supporters and decision makers tables as (name, title,
    columns, rows): supporters active then silent; decision makers by role (file order
    of first appearance), engaged first. The lists' own columns come last."""
    out = []
    sup = obj["supporters"]
    extra = list(sup[0]["columns"]) if sup else []
    rows = [
        [
            s["name"],
            " ".join(s["handles"]),
            "active" if s["posts"] else "silent",
            s["posts"],
            " ".join(s["days_active"]),
            s["potential_impressions"],
            s["engagements"],
            s["hashtag_posts"],
            *(s["columns"].get(c, "") for c in extra),
        ]
        for s in sorted(sup, key=lambda s: s["posts"] == 0)
    ]
    columns = ["name", "handles", "status", "posts", "days_active", "potential_impressions"]
    columns += ["engagements", "hashtag_posts", *extra]
    out.append(("supporters", "Supporters", columns, rows))
    makers = obj["decision_makers"]
    roles = list(dict.fromkeys(m["role"] or "" for m in makers))
    order = {"engaged": 0, "mentioned only": 1, "neither": 2}
    ranked = sorted(makers, key=lambda m: (roles.index(m["role"] or ""), order[_status(m)]))
    extra = list(makers[0]["columns"]) if makers else []
    counts = ("posts", "originals", "retweets", "quotes", "replies", "mentioned_in")
    rows = [
        [
            m["role"] or "",
            m["name"],
            " ".join(m["handles"]),
            _status(m),
            *(m[k] for k in counts),
            m["potential_impressions"],
            m["engagements"],
            *(m["columns"].get(c, "") for c in extra),
        ]
        for m in ranked
    ]
    columns = ["role", "name", "handles", "status", *counts, "potential_impressions"]
    columns += ["engagements", *extra]
    out.append(("decision-makers", "Decision makers", columns, rows))
    return out

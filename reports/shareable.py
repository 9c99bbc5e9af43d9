"""The shareable version of a report: private individuals neither named nor quoted.

METRICS.md "Shareable outputs": a **public account** is a campaign account, a listed
stakeholder (the supporters and decision makers lists), an account X marks verified
(``authors.verified``), or an author whose latest known follower count is at least
``[shareable] min_followers``. ``public_sql`` is that rule as one SQL condition, which
every question here asks: who of these names or ids is public, and what the private
individuals' posts add up to. Lists keep public accounts' rows and end with one
aggregate row over everyone else in the period; a public post's mentions of private
individuals read ``@…``. Figures are never touched: shareable hides names, never numbers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, text

from monitor.settings import Settings
from monitor.stakeholder_lists import load_lists
from reports.periods import window_sql
from reports.report_data import ReportData

HIDDEN_MENTION = "@…"
_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")


def public_handles(settings: Settings) -> set[str]:
    """Return the usernames (casefolded) public whatever their audience: the campaign's
    accounts and every handle of the stakeholder lists."""
    lists = load_lists(settings)
    listed = [*(lists.supporters or ()), *(lists.decision_makers or ())]
    return set(settings.campaign.account_terms) | {h for s in listed for h in s.handles}


def public_sql(settings: Settings, alias: str = "a") -> tuple[str, dict[str, Any]]:
    """Return (SQL condition true for a public account's row of ``authors AS alias``, its
    parameters; bind ``sh_handles`` expanding). Never NULL, so ``NOT (...)`` is the rest."""
    condition = (
        f"(LOWER(COALESCE({alias}.username, '')) IN :sh_handles "
        f"OR COALESCE({alias}.verified, FALSE) "
        f"OR COALESCE({alias}.followers_count, 0) >= :sh_least)"
    )
    handles = sorted(public_handles(settings)) or [""]
    return condition, {"sh_handles": handles, "sh_least": settings.shareable.min_followers}


def _public_where(conn: Connection, settings: Settings, column: str, values: list[str]) -> set[str]:
    """Return the ``column`` values of public authors among ``values``."""
    condition, params = public_sql(settings)
    found: set[str] = set()
    for k in range(0, len(values), 500):  # bounded IN lists on both databases
        sql = (
            f"SELECT {column} FROM authors a WHERE a.platform = 'x' "
            f"AND {column} IN :values AND {condition}"
        )
        rows = conn.execute(
            text(sql).bindparams(
                bindparam("values", expanding=True), bindparam("sh_handles", expanding=True)
            ),
            params | {"values": values[k : k + 500]},
        ).scalars()
        found |= {str(r) for r in rows}
    return found


def public_usernames(conn: Connection, settings: Settings, names: Iterable[str]) -> set[str]:
    """Return which of ``names`` (casefolded) are public accounts."""
    wanted = {n.casefold() for n in names}
    public = wanted & public_handles(settings)  # listed: public even if never seen posting
    rest = sorted(wanted - public)
    if rest:
        public |= {n.casefold() for n in _public_where(conn, settings, "LOWER(a.username)", rest)}
    return public


def public_author_ids(conn: Connection, settings: Settings, ids: Iterable[str]) -> set[str]:
    """Return which author ids belong to public accounts."""
    wanted = sorted({i for i in ids if i is not None})
    return _public_where(conn, settings, "a.id", wanted) if wanted else set()


def mask_mentions(text_: str, public: set[str]) -> str:
    """Return ``text_`` with every @mention of a non-public account shown as ``@…``."""
    return _MENTION.sub(
        lambda m: m.group(0) if m.group(1).casefold() in public else HIDDEN_MENTION, text_
    )


def private_totals(conn: Connection, settings: Settings, report: ReportData) -> dict[str, int]:
    """Return posts (retweets included), non-retweet posts, distinct authors, potential
    impressions and engagements of private individuals' posts in the report's period."""
    first, last = report.days[0], report.days[-1]
    cte, join, params = window_sql(settings, first, last)
    public, public_params = public_sql(settings)
    counts = ",\n".join(
        f"SUM(CASE WHEN p.kind = 'retweet' THEN 0 ELSE COALESCE(p.{c}, 0) END) AS {c}"
        for c in _COUNTS
    )
    sql = f"""
        WITH s AS ({cte})
        SELECT COUNT(*) AS posts,
               SUM(CASE WHEN p.kind <> 'retweet' THEN 1 ELSE 0 END) AS own_posts,
               COUNT(DISTINCT p.author_id) AS authors,
               SUM(COALESCE(p.author_followers, 0)) AS potential_impressions,
               {counts}
        {join}
        LEFT JOIN authors a ON a.platform = p.platform AND a.id = p.author_id
        WHERE NOT {public}
    """
    row = (
        conn.execute(
            text(sql).bindparams(bindparam("sh_handles", expanding=True)),
            params | public_params,
        )
        .mappings()
        .one()
    )
    out = {key: int(row[key] or 0) for key in row}
    out["engagements"] = sum(out[c] for c in _COUNTS)
    return out


def _people(n: int) -> str:
    return f"{n:,} private individual" + ("" if n == 1 else "s")


def shareable_report(conn: Connection, report: ReportData) -> ReportData:
    """Return ``report`` as its shareable version (same figures; see the module doc)."""
    settings = report.settings
    post_public = public_author_ids(
        conn, settings, [p["author_id"] for p in report.top_posts + report.top_contributors]
    )
    kept_posts = [dict(p) for p in report.top_posts if p["author_id"] in post_public]
    mentioned = {m.group(1) for p in kept_posts for m in _MENTION.finditer(p["text"] or "")}
    public_names = public_usernames(conn, settings, mentioned)
    for p in kept_posts:
        p["text"] = mask_mentions(p["text"] or "", public_names)
    private = private_totals(conn, settings, report)
    people = _people(private["authors"])
    top_posts = kept_posts + [_aggregate_post(private, people)]
    contributors = [dict(c) for c in report.top_contributors if c["author_id"] in post_public]
    contributors.append(
        {
            "rank": None,
            "author_id": None,
            "platform": "x",
            "username": None,
            "name": people,
            "posts": private["posts"],
            "potential_impressions": private["potential_impressions"],
            "engagements": private["engagements"],
            "followers_count": None,
            "aggregate": True,
        }
    )
    return dataclasses.replace(
        report, top_posts=top_posts, top_contributors=contributors, shareable=True
    )


def _aggregate_post(private: dict[str, int], people: str) -> dict[str, Any]:
    return {
        "rank": None,
        "id": None,
        "platform": "x",
        "kind": None,
        "text": f"{private['own_posts']:,} posts (retweets aside) by {people}, not shown",
        "author_id": None,
        "username": None,
        "name": people,
        "author_followers": 0,
        "created_at": "",
        "created_at_local": "",
        **{c: private[c] for c in _COUNTS},
        "engagements": private["engagements"],
        "impression_count": None,
        "url": None,
        "aggregate": True,
    }

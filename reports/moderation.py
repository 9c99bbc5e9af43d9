"""Hidden and excluded posts (METRICS.md): the config's lists as SQL over posts ``p``.

An excluded post (listed in ``exclude_posts``, or by an account in ``exclude_accounts``)
is in no figure and no list; a hidden one (``hide_posts``, ``hide_accounts``, and not
excluded) is counted and never shown. Accounts are matched on their author's username as
stored (casefolded); the handful of author ids they resolve to go into the SQL as bound
parameters, so every query keeps reading its index range and nothing is joined per post.
With empty lists every condition is a constant and the queries are as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.settings import Settings

# post addresses name X posts; a post id in a list means the X post of that id
_POST_PLATFORM = "x"


@dataclass(frozen=True)
class Rules:
    """The lists resolved against the database: post ids and (platform, author id) pairs."""

    excluded_ids: tuple[str, ...] = ()
    excluded_authors: tuple[tuple[str, str], ...] = ()
    hidden_ids: tuple[str, ...] = ()
    hidden_authors: tuple[tuple[str, str], ...] = ()

    @property
    def excludes(self) -> bool:
        return bool(self.excluded_ids or self.excluded_authors)

    @property
    def hides(self) -> bool:
        return bool(self.hidden_ids or self.hidden_authors)


def _authors(conn: Connection, usernames: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if not usernames:
        return ()
    names = ", ".join(f":u{i}" for i in range(len(usernames)))
    # usernames on X are ASCII, where LOWER in SQL and str.casefold agree
    rows = conn.execute(
        text(
            f"SELECT platform, id FROM authors WHERE LOWER(username) IN ({names}) "
            "ORDER BY platform, id"
        ),
        {f"u{i}": u for i, u in enumerate(usernames)},
    )
    return tuple((str(p), str(a)) for p, a in rows)


def moderation_rules(conn: Connection, settings: Settings) -> Rules:
    """Return the config's moderation lists resolved to post ids and author ids."""
    m = settings.moderation
    if not m.active:
        return Rules()
    return Rules(
        excluded_ids=m.excluded_ids,
        excluded_authors=_authors(conn, m.excluded_usernames),
        hidden_ids=m.hidden_ids,
        hidden_authors=_authors(conn, m.hidden_usernames),
    )


def _bound(
    ids: Sequence[str], authors: Sequence[tuple[str, str]], prefix: str
) -> tuple[str | None, list[tuple[str, str]], dict[str, Any]]:
    """Bind the listed post ids, and each platform's listed author ids, as parameters.

    Return (the ids' placeholders, or None without ids; per platform, its placeholder
    and its authors' placeholders; the parameters).
    """
    params: dict[str, Any] = {}
    id_names = None
    if ids:
        params[f"{prefix}pf"] = _POST_PLATFORM
        id_names = ", ".join(f":{prefix}i{i}" for i in range(len(ids)))
        params |= {f"{prefix}i{i}": v for i, v in enumerate(ids)}
    by_platform: dict[str, list[str]] = {}
    for platform, author_id in authors:
        by_platform.setdefault(platform, []).append(author_id)
    groups = []
    for k, (platform, author_ids) in enumerate(sorted(by_platform.items())):
        params[f"{prefix}ap{k}"] = platform
        names = ", ".join(f":{prefix}a{k}_{i}" for i in range(len(author_ids)))
        params |= {f"{prefix}a{k}_{i}": v for i, v in enumerate(author_ids)}
        groups.append((f":{prefix}ap{k}", names))
    return id_names, groups, params


def _condition(
    ids: Sequence[str], authors: Sequence[tuple[str, str]], prefix: str, alias: str
) -> tuple[str, dict[str, Any]]:
    """Return SQL true for a post listed by id or written by one of ``authors``, never NULL."""
    id_names, groups, params = _bound(ids, authors, prefix)
    parts = []
    if id_names:
        parts.append(f"({alias}.platform = :{prefix}pf AND {alias}.id IN ({id_names}))")
    for platform, names in groups:
        # author_id IS NOT NULL: a post without an author is never NULL here, so NOT works;
        # ``|| ''`` keeps SQLite from reading this through the primary key (platform, id):
        # the query's own range of the created_at index is the cheap way to these posts
        parts.append(
            f"({alias}.platform || '' = {platform} AND {alias}.author_id IS NOT NULL "
            f"AND {alias}.author_id IN ({names}))"
        )
    if not parts:
        return "1 = 0", {}
    return "(" + " OR ".join(parts) + ")", params


def excluded_sql(rules: Rules, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """Return (SQL true for an excluded post, its parameters); ``1 = 0`` when none is."""
    return _condition(rules.excluded_ids, rules.excluded_authors, "mx", alias)


def kept_sql(rules: Rules, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """Return (SQL true for a post that counts: not excluded, its parameters)."""
    cond, params = excluded_sql(rules, alias)
    return ("1 = 1", {}) if not params else (f"NOT {cond}", params)


def _retweets_of(
    ids: Sequence[str], authors: Sequence[tuple[str, str]], prefix: str, alias: str
) -> tuple[str, dict[str, Any]]:
    """Return SQL true for a retweet of a post listed by id or written by one of
    ``authors`` (when that post is stored, so its author is known), never NULL.

    The parameters are ``_condition``'s own names and values. A retweet stored before
    ``retweeted_id`` existed has NULL there and is no retweet of anything here.
    """
    id_names, groups, params = _bound(ids, authors, prefix)
    parts = []
    if id_names:
        parts.append(f"({alias}.platform = :{prefix}pf AND {alias}.retweeted_id IN ({id_names}))")
    for platform, names in groups:
        # not correlated: the database reads the hidden accounts' post ids once a
        # statement (a hashed set), not once a retweet
        parts.append(
            f"({alias}.platform || '' = {platform} AND {alias}.retweeted_id IN "
            f"(SELECT o.id FROM posts o WHERE o.platform = {platform} "
            f"AND o.author_id IN ({names})))"
        )
    if not parts:
        return "1 = 0", {}
    return (
        f"({alias}.kind = 'retweet' AND {alias}.retweeted_id IS NOT NULL "
        f"AND ({' OR '.join(parts)}))",
        params,
    )


def hidden_sql(rules: Rules, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """Return (SQL true for a hidden post, its parameters); excluding wins over hiding,
    so the condition is meant for posts already kept (``kept_sql``).

    Retweets of a hidden post are hidden (METRICS.md): of a post in ``hide_posts``, or
    of a stored post by a hidden account, unless that post is excluded (excluding wins,
    so it is not a hidden post, and retweets of an excluded post stay as they are).
    """
    own, params = _condition(rules.hidden_ids, rules.hidden_authors, "mh", alias)
    if not params:
        return own, params
    retweets, more = _retweets_of(rules.hidden_ids, rules.hidden_authors, "mh", alias)
    if rules.excludes:
        of_excluded, excluded_params = _retweets_of(
            rules.excluded_ids, rules.excluded_authors, "mx", alias
        )
        retweets = f"({retweets} AND NOT {of_excluded})"
        more |= excluded_params
    return f"({own} OR {retweets})", params | more


def hidden_authors_sql(rules: Rules, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """Return (SQL true for a post by a hidden account, its parameters): such an account
    is never a row of any list, while an account with only some posts hidden still is."""
    return _condition((), rules.hidden_authors, "mh", alias)


def shown_sql(rules: Rules, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """Return (SQL true for a post that may be shown: neither excluded nor hidden)."""
    kept, kept_params = kept_sql(rules, alias)
    hidden, hidden_params = hidden_sql(rules, alias)
    if not hidden_params:
        return kept, kept_params
    return f"({kept} AND NOT {hidden})", kept_params | hidden_params


def moderation_reasons(settings: Settings) -> dict[str, int]:
    """Return how many entries each list holds: the reasons a report gives, naming none."""
    m = settings.moderation
    return {
        "hide_posts": len(m.hidden_ids),
        "hide_accounts": len(m.hidden_usernames),
        "exclude_posts": len(m.excluded_ids),
        "exclude_accounts": len(m.excluded_usernames),
    }

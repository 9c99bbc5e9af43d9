"""Pure functions: one raw X API v2 page (or stream line, or flattened post) -> records.

Nothing here touches the database or mutates its input. METRICS.md decides every rule:
what a post is, its kind, its first-sighting follower count, what it matches on.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from functools import cache
from typing import Any, NamedTuple

PLATFORM_X = "x"


@cache
def _text_term_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return the patterns for ``#tag`` and ``@name`` in text, built on first use.

    Python's ``\\w`` leaves out combining marks (Mn, Mc, Me), which Unicode counts as word
    characters: without them "#भारत" would stop at its first vowel sign. Building the
    class scans the code space once (~0.2 s), so only posts without entities pay for it.
    """
    marks, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] == "M":
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            marks.append(f"\\U{start:08x}-\\U{prev:08x}")
            start = None
    word = "[\\w" + "".join(marks) + "]"
    return (
        re.compile(f"(?<!{word})#({word}+)"),
        re.compile(f"(?<!{word})@({word}+)"),
    )


_METRIC_KEYS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")


class PageError(ValueError):
    """A page that cannot be used at all (not an object, or `data` of the wrong shape)."""


class PostRecord(NamedTuple):
    """One sighting of a post, as plain column values (the store writes these as tuples)."""

    platform: str
    id: str
    author_id: str | None
    created_at_us: int | None  # UTC epoch microseconds; None: no usable created_at
    text: str
    kind: str  # original | retweet | reply | quote
    hashtags: str  # " tag1 tag2 " casefolded, or "" for none
    mentions: str  # " name1 name2 " casefolded, or ""
    author_followers: int | None  # None: this page carried no follower count
    like_count: int | None
    retweet_count: int | None
    reply_count: int | None
    quote_count: int | None
    impression_count: int | None


class AuthorRecord(NamedTuple):
    platform: str
    id: str
    username: str | None
    name: str | None
    followers_count: int | None


class PageRecords(NamedTuple):
    posts: list[PostRecord]
    authors: list[AuthorRecord]
    non_posts: int  # items of `data` that are not posts (users, count buckets, ...)
    non_post_kind: str | None  # a guess at what those items are, for messages


def utc_text(moment: dt.datetime) -> str:
    """Return the fixed-width UTC text form used for every stored timestamp."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_us(moment: dt.datetime) -> int:
    """Return UTC epoch microseconds of ``moment`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def from_epoch_us(us: int) -> dt.datetime:
    """Return the aware UTC datetime of epoch microseconds (exact, no float rounding)."""
    return _EPOCH + dt.timedelta(microseconds=us)


def parse_created_at(value: Any) -> int | None:
    """Return ``created_at`` as UTC epoch microseconds, or None when missing or unusable.

    ISO 8601 with ``Z`` or an offset; without one it is UTC (METRICS.md).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        return epoch_us(dt.datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return None


def _id(value: Any) -> str | None:
    """Return a decimal id without leading zeros, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value.lstrip("0") or "0"
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _kind(refs: Any) -> str:
    if not isinstance(refs, list):
        return "original"
    types = {r.get("type") for r in refs if isinstance(r, dict)}
    if "retweeted" in types:
        return "retweet"
    if "replied_to" in types:
        return "reply"
    if "quoted" in types:
        return "quote"
    return "original"


def _joined(terms: list[str]) -> str:
    # spaces around each term let SQL match a whole term with LIKE '% term %'
    # a term with whitespace inside would break the " a b " encoding; X never sends one
    seen = list(dict.fromkeys(t for t in terms if len(t.split()) == 1 and t.split()[0] == t))
    return f" {' '.join(seen)} " if seen else ""


def _entity_terms(entities: dict, key: str, field: str) -> list[str]:
    items = entities.get(key)
    if not isinstance(items, list):
        return []  # absent or null: the post has none (METRICS.md)
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(field), str):
            out.append(item[field].lstrip("#@").casefold())
    return out


def _terms(item: dict) -> tuple[str, str]:
    entities = item.get("entities")
    if isinstance(entities, dict):
        return (
            _joined(_entity_terms(entities, "hashtags", "tag")),
            _joined(_entity_terms(entities, "mentions", "username")),
        )
    # no entities object at all: match on the text, casefolded, whole words only
    text = item["text"].casefold()
    tag_in_text, mention_in_text = _text_term_patterns()
    return _joined(tag_in_text.findall(text)), _joined(mention_in_text.findall(text))


def _followers(user: Any) -> int | None:
    if not isinstance(user, dict):
        return None
    metrics = user.get("public_metrics")
    if not isinstance(metrics, dict):
        return None
    return _count(metrics.get("followers_count"))


def _author(user: dict, platform: str) -> AuthorRecord | None:
    uid = _id(user.get("id"))
    if uid is None:
        return None
    username = user.get("username")
    name = user.get("name")
    return AuthorRecord(
        platform,
        uid,
        username if isinstance(username, str) else None,
        name if isinstance(name, str) else None,
        _followers(user),
    )


def _is_post_shaped(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item and "text" in item


def _post(item: dict, position: int, users: dict[str, dict], platform: str) -> PostRecord:
    post_id = _id(item["id"])
    if post_id is None:
        raise PageError(f"post {position} of data has an id that is not a decimal number")
    if not isinstance(item["text"], str):
        raise PageError(f"post {post_id} has a text that is not a string")
    author_id = _id(item.get("author_id"))
    metrics = item.get("public_metrics")
    counts: list[int | None] = (
        [_count(metrics.get(k)) for k in _METRIC_KEYS]
        if isinstance(metrics, dict)
        else [None] * len(_METRIC_KEYS)
    )
    hashtags, mentions = _terms(item)
    return PostRecord(
        platform,
        post_id,
        author_id,
        parse_created_at(item.get("created_at")),
        item["text"],
        _kind(item.get("referenced_tweets")),
        hashtags,
        mentions,
        _followers(users.get(author_id)) if author_id is not None else None,
        *counts,
    )


def _guess_kind(items: list) -> str | None:
    for item in items:
        if isinstance(item, dict):
            if "username" in item:
                return "users"
            if "tweet_count" in item and "start" in item:
                return "tweet counts"
    return None


def normalize_page(page: Any, platform: str = PLATFORM_X) -> PageRecords:
    """Return the posts and authors one page delivers.

    ``page`` is a decoded JSON value: an API v2 response page (``data`` a list), a
    filtered-stream line or single lookup (``data`` an object), or a flattened post
    (``id`` and ``text`` at the top, ``author`` inline). Items of ``includes.tweets``
    and inlined referenced posts are context and never become posts. Raises
    PageError when the value is not an object or its ``data`` has the wrong shape.
    """
    if not isinstance(page, dict):
        raise PageError("not a JSON object (a page must be an object with data)")
    if "data" not in page and _is_post_shaped(page):
        # twarc2 flatten: the post is the line; its inline author stands for includes.users
        author = page.get("author")
        users = {}
        if isinstance(author, dict) and _id(author.get("id")) is not None:
            users[_id(author["id"])] = author
        items: list = [page]
    else:
        data = page.get("data")
        if data is None:
            return PageRecords([], [], 0, None)
        if isinstance(data, dict):
            items = [data]
        elif isinstance(data, list):
            items = data
        else:
            raise PageError("data is neither a list nor an object")
        users = {}
        includes = page.get("includes")
        if isinstance(includes, dict) and isinstance(includes.get("users"), list):
            for user in includes["users"]:
                if isinstance(user, dict):
                    uid = _id(user.get("id"))
                    if uid is not None:
                        users.setdefault(uid, user)
    posts: list[PostRecord] = []
    non_posts = 0
    for position, item in enumerate(items, 1):
        if _is_post_shaped(item):
            posts.append(_post(item, position, users, platform))
        else:
            non_posts += 1
    authors: dict[str, AuthorRecord] = {}
    for post in posts:
        if post.author_id is not None and post.author_id not in authors:
            user = users.get(post.author_id)
            record = _author(user, platform) if user is not None else None
            if record is not None:
                authors[post.author_id] = record
    return PageRecords(
        posts, list(authors.values()), non_posts, _guess_kind(items) if non_posts else None
    )

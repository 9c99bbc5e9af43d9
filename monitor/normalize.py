"""Pure functions: one raw X API v2 page (or stream line, or flattened post) -> records.

Nothing here touches the database or mutates its input. METRICS.md decides every rule:
what a post is, its kind, its first-sighting follower count, what it matches on.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

from monitor.words_in_text import term_patterns

PLATFORM_X = "x"


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
    # a retweet's retweeted post (METRICS.md: retweets of a hidden post are hidden)
    retweeted_id: str | None


class AuthorRecord(NamedTuple):
    platform: str
    id: str
    username: str | None
    name: str | None
    followers_count: int | None
    verified: bool | None  # the API marks it verified (METRICS.md "public account"); None: not said


class PageRecords(NamedTuple):
    posts: list[PostRecord]
    authors: list[AuthorRecord]
    non_posts: int  # items of `data` that are not posts (users, count buckets, ...)
    non_post_kind: str | None  # a guess at what those items are, for messages
    # the line has data, meta, errors or includes, or is a flattened post: a file without
    # one such line is not an API archive and is refused (METRICS.md)
    api: bool = True


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
_fromisoformat = dt.datetime.fromisoformat
# a NamedTuple's generated __new__ is a Python frame per record; tuple.__new__ is not, and
# normalising a million posts makes that difference measurable (docs/PERFORMANCE.md)
_make = tuple.__new__


def parse_created_at(value: Any) -> int | None:
    """Return ``created_at`` as UTC epoch microseconds, or None when missing or unusable.

    ISO 8601 with ``Z`` or an offset; without one it is UTC (METRICS.md).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return (moment - _EPOCH) // _US
    except (ValueError, OverflowError):
        return None


MAX_ID_DIGITS = 64  # the width of the id columns (PostgreSQL enforces it)


def _id(value: Any) -> str | None:
    """Return a decimal id without leading zeros, or None if it is not one that fits."""
    out = _canonical_decimal(value)
    return out if out is None or len(out) <= MAX_ID_DIGITS else None


def _canonical_decimal(value: Any) -> str | None:
    """Return a non-negative integer (str or int) as decimal digits without leading zeros."""
    if type(value) is str:  # the API's own form, so it goes first
        if value.isdigit() and value.isascii():
            return value if value[0] != "0" else (value.lstrip("0") or "0")
        return None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value.lstrip("0") or "0"
    return None


# The count columns are signed 64-bit (BigInteger): a count past them is as unknown as a
# negative one, never a value that fails the whole page's write (issue 12.4).
MAX_COUNT = (1 << 63) - 1


def _count(value: Any) -> int | None:
    if type(value) is int:
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return int(value)
    return None


_KIND_OF_TYPE = {"retweeted": "retweet", "replied_to": "reply", "quoted": "quote"}


def _kind(refs: Any) -> str:
    """The kind a post's references give it; _KIND_OF_TYPE's order is the precedence."""
    if not isinstance(refs, list):
        return "original"
    # a type that is not a string names no kind (and is not hashable)
    types = {r.get("type") for r in refs if isinstance(r, dict) and isinstance(r.get("type"), str)}
    return next((kind for t, kind in _KIND_OF_TYPE.items() if t in types), "original")


def _retweeted_id(refs: list) -> str | None:
    """Return the id of the post a retweet retweets, when its reference gives a usable one."""
    for r in refs:
        if isinstance(r, dict) and r.get("type") == "retweeted":
            return _id(r.get("id"))
    return None


def _joined(terms: list[str]) -> str:
    # spaces around each term let SQL match a whole term with LIKE '% term %'
    # a term with whitespace inside would break the " a b " encoding; X never sends one
    # (isalnum() is the cheap proof of "one word"; split() decides the rest)
    if len(terms) == 1:
        t = terms[0]
        return f" {t} " if t.isalnum() or t.split() == [t] else ""
    seen = list(dict.fromkeys(t for t in terms if t.isalnum() or t.split() == [t]))
    return f" {' '.join(seen)} " if seen else ""


_X_ENTITY = re.compile("&(amp|lt|gt);")
_X_ENTITY_CHAR = {"amp": "&", "lt": "<", "gt": ">"}


def x_text(text: str) -> str:
    """Return X API v2 post text as a person reads it (METRICS.md).

    X sends ``&``, ``<`` and ``>`` already HTML-encoded, and only those three; decoding
    exactly them, once and in one pass, keeps a literal "&amp;lt;" as "&lt;". Reports
    escape text again on the way out.
    """
    return _X_ENTITY.sub(lambda m: _X_ENTITY_CHAR[m.group(1)], text) if "&" in text else text


def _no_nul(value: str) -> str:
    # valid JSON, but PostgreSQL text cannot hold NUL: keep the character visible instead
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _entity_terms(items: Any, field: str) -> str:
    """Return the joined terms of an entities list (``hashtags`` or ``mentions``)."""
    if not isinstance(items, list) or not items:
        return ""  # absent or null: the post has none (METRICS.md)
    out = []
    for item in items:
        if isinstance(item, dict):
            value = item.get(field)
            if isinstance(value, str):
                out.append(_no_nul(value.lstrip("#@").casefold()))
    return _joined(out) if out else ""


def _text_terms(text: str) -> tuple[str, str]:
    """Return (hashtags, mentions) found in a post's text: for posts without ``entities``.

    Casefolded, whole words only (METRICS.md).
    """
    folded = text.casefold()
    tag_in_text, mention_in_text = term_patterns()
    return (
        _joined(tag_in_text.findall(folded)) if "#" in folded else "",
        _joined(mention_in_text.findall(folded)) if "@" in folded else "",
    )


def _followers(user: Any) -> int | None:
    if not isinstance(user, dict):
        return None
    metrics = user.get("public_metrics")
    if not isinstance(metrics, dict):
        return None
    return _count(metrics.get("followers_count"))


def _verified(user: dict) -> bool | None:
    """Return whether X marks the user verified: any ``verified_type`` but ``none``, or
    ``verified: true``; None when the user object says neither."""
    flag, kind = user.get("verified"), user.get("verified_type")
    if (isinstance(kind, str) and kind.casefold() != "none") or flag is True:
        return True
    return False if flag is False or isinstance(kind, str) else None


def _author(user: dict, platform: str, uid: str | None = None) -> AuthorRecord | None:
    if uid is None:
        uid = _id(user.get("id"))
        if uid is None:
            return None
    username = user.get("username")
    name = user.get("name")
    return _make(
        AuthorRecord,
        (
            platform,
            uid,
            _no_nul(username) if isinstance(username, str) else None,
            _no_nul(name) if isinstance(name, str) else None,
            _followers(user),
            _verified(user),
        ),
    )


def _is_post_shaped(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item and "text" in item


_NO_COUNTS = (None, None, None, None, None)


def _posts(
    items: list, users: dict[str, dict], platform: str
) -> tuple[list[PostRecord], dict[str, AuthorRecord], int]:
    """Return (the post records of ``items`` in order, their authors, how many are not posts).

    Authors are those who wrote a post here, in order of their first post: from ``users``
    where it has them, else with no name and no follower count.

    The hot loop of every import and collect pass, so the common shapes (ids as decimal
    strings, counts as ints, an entities object) take inline fast paths and the helpers
    above decide everything else; the result is the same either way.
    """
    posts: list[PostRecord] = []
    append = posts.append
    authors: dict[str, AuthorRecord] = {}
    non_posts = 0
    for position, item in enumerate(items, 1):
        if not (isinstance(item, dict) and "id" in item and "text" in item):
            non_posts += 1
            continue
        get = item.get
        post_id = item["id"]
        if not (type(post_id) is str and post_id.isdigit() and post_id[0] != "0"):
            post_id = _id(post_id)
            if post_id is None:
                raise PageError(f"post {position} of data has an id that is not a decimal number")
        elif not post_id.isascii():
            raise PageError(f"post {position} of data has an id that is not a decimal number")
        elif len(post_id) > MAX_ID_DIGITS:
            raise PageError(f"post {position} of data has an id longer than {MAX_ID_DIGITS} digits")
        text = item["text"]
        if not isinstance(text, str):
            raise PageError(f"post {post_id} has a text that is not a string")
        if "\x00" in text:
            text = _no_nul(text)
        if "&" in text and platform == PLATFORM_X:
            text = x_text(text)
        author_id = get("author_id")
        if not (type(author_id) is str and author_id.isdigit() and author_id[0] != "0"):
            author_id = _id(author_id)
        elif not author_id.isascii() or len(author_id) > MAX_ID_DIGITS:
            author_id = None
        metrics = get("public_metrics")
        if isinstance(metrics, dict):
            m = metrics.get
            like, retweet, reply, quote, impression = (
                m("like_count"),
                m("retweet_count"),
                m("reply_count"),
                m("quote_count"),
                m("impression_count"),
            )
            # counts are ints almost always; anything else goes through _count
            if not (type(like) is int and 0 <= like <= MAX_COUNT):
                like = _count(like)
            if not (type(retweet) is int and 0 <= retweet <= MAX_COUNT):
                retweet = _count(retweet)
            if not (type(reply) is int and 0 <= reply <= MAX_COUNT):
                reply = _count(reply)
            if not (type(quote) is int and 0 <= quote <= MAX_COUNT):
                quote = _count(quote)
            if not (type(impression) is int and 0 <= impression <= MAX_COUNT):
                impression = _count(impression)
        else:
            like = retweet = reply = quote = impression = None
        entities = get("entities")
        if isinstance(entities, dict):
            hashtags = _entity_terms(entities.get("hashtags"), "tag")
            mentions = _entity_terms(entities.get("mentions"), "username")
        else:
            hashtags, mentions = _text_terms(text)
        created_at = get("created_at")
        refs = get("referenced_tweets")
        retweeted = None
        if not refs:
            kind = "original"
        elif (
            type(refs) is list
            and len(refs) == 1
            and type(refs[0]) is dict
            and type(ref_type := refs[0].get("type")) is str
        ):
            kind = _KIND_OF_TYPE.get(ref_type, "original")
            if kind == "retweet":
                retweeted = _retweeted_id(refs)
        else:
            kind = _kind(refs)
            if kind == "retweet":
                retweeted = _retweeted_id(refs)
        followers = None
        if author_id is not None:
            author = authors.get(author_id)
            if author is None:
                user = users.get(author_id)
                # an author without a user object still gets a record: the authors table
                # holds every post's author, so it counts them (METRICS.md stored.authors)
                author = authors[author_id] = (
                    _author(user, platform, author_id)  # type: ignore[assignment]
                    if user is not None
                    else _make(AuthorRecord, (platform, author_id, None, None, None, None))
                )
            followers = author[4]
        append(
            _make(
                PostRecord,
                (
                    platform,
                    post_id,
                    author_id,
                    parse_created_at(created_at) if created_at is not None else None,
                    text,
                    kind,
                    hashtags,
                    mentions,
                    followers,
                    like,
                    retweet,
                    reply,
                    quote,
                    impression,
                    retweeted,
                ),
            )
        )
    return posts, authors, non_posts


def _guess_kind(items: list) -> str | None:
    for item in items:
        if isinstance(item, dict):
            if "username" in item:
                return "users"
            if "tweet_count" in item and "start" in item:
                return "tweet counts"
    return None


_API_KEYS = frozenset(("data", "meta", "errors", "includes"))


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
            return PageRecords([], [], 0, None, not _API_KEYS.isdisjoint(page))
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
    posts, authors, non_posts = _posts(items, users, platform)
    return PageRecords(
        posts, list(authors.values()), non_posts, _guess_kind(items) if non_posts else None
    )

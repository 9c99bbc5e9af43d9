"""The impact pack's archive: every stored post of the window as twarc2-style API v2
pages (``posts.jsonl.gz``), which ``hashmon import`` and any twarc2-reading tool read.

Each post is written once, with its stored figures: its author's follower count as of
the first sighting sits in that page's ``includes.users``, so a page never holds two
posts by one author with different counts; its latest counts are its ``public_metrics``.
Its matched terms are written as ``entities``, so a post matched on its text, or one
deleted since (written without text), matches again on import.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from json.encoder import encode_basestring as _quote  # json.dumps' escaper (ensure_ascii=False)
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from monitor.settings import Settings
from monitor.store.engine import stream_rows
from monitor.times import day_bounds_us, utc_text_us

PAGE_SIZE = 100  # posts per archive page, as X's search pages
ARCHIVE = "posts.jsonl.gz"
_KIND_TYPE = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}
_GONE = ', "hashmon_gone": true'  # deleted or withheld on X since: no text kept
# public_metrics in sorted key order, with each count's place in a row of _POSTS_SQL
_COUNTS_SORTED = (
    ("impression_count", 13),
    ("like_count", 9),
    ("quote_count", 12),
    ("reply_count", 11),
    ("retweet_count", 10),
)


# Read through ix_posts_created_at_author, in its order, with no sort: ``platform || ''``
# keeps SQLite from taking the primary key for the platform test instead (a scan of every
# post, then a sort of the window's); ties of one microsecond are put in order in Python.
_POSTS_SQL = """
    SELECT p.id, p.text, p.gone_at, p.author_id, p.created_at_us, p.kind, p.hashtags,
           p.mentions, p.author_followers, p.like_count, p.retweet_count, p.reply_count,
           p.quote_count, p.impression_count, a.username, a.name, p.retweeted_id
    FROM posts p
    LEFT JOIN authors a ON a.platform = p.platform AND a.id = p.author_id
    WHERE p.platform || '' = :platform AND p.created_at_us >= :lo AND p.created_at_us < :hi
    ORDER BY p.created_at_us
"""


_BATCH_ROWS = 5000  # rows fetched at a time
_BLOCK_BYTES = 4 << 20  # what the compressing thread takes at a time


def archive_rows(conn: Connection, settings: Settings) -> Iterator[list[tuple]]:
    """Yield the window's stored posts (rows of ``_POSTS_SQL``) in batches, in archive
    order: time, then the id as a number (length, then characters), as the figures read.

    The database returns them in time order from the index; only posts of the same
    microsecond are sorted here (a batch's last time is held back: the next batch may
    hold more of it), which a sort of every row in SQL took seconds to do at 1M.
    """
    lo, hi = day_bounds_us(settings.campaign.start, settings.campaign.end, settings.campaign.tz)
    params = {"platform": "x", "lo": lo, "hi": hi}
    held: list[tuple] = []
    for rows in stream_rows(conn, _POSTS_SQL, params, _BATCH_ROWS):
        rows = held + rows
        last = rows[-1][4]
        cut = len(rows) - 1
        while cut > 0 and rows[cut - 1][4] == last:
            cut -= 1
        held = rows[cut:]
        if cut:
            yield _in_order(rows[:cut])
    if held:
        yield _in_order(held)


def _in_order(rows: list[tuple]) -> list[tuple]:
    # rows come in time order: timsort takes those runs as they are
    return sorted(rows, key=lambda row: (row[4], len(row[0]), row[0]))


def archive_lines(batches: Iterable[list[tuple]]) -> Iterator[tuple[str, int]]:
    """Yield each API v2 page of the rows (see the module doc) as its JSON line, with
    its number of posts.

    The line is ``json.dumps(page, ensure_ascii=False, sort_keys=True)`` of the page's
    dict, character for character (tests/test_pack_archive.py holds the two equal), but
    written from a template in sorted key order with json's own string escaper: the
    dicts and the sorting encoder took three quarters of the pack's time at 1M posts.
    """
    posts: list[str] = []
    users: dict[str, tuple[Any, Any, int | None]] = {}
    for rows in batches:
        for row in rows:
            author_id = row[3]
            if author_id is not None:
                uid = str(author_id)
                followers = row[8]
                user = (row[14], row[15], None if followers is None else int(followers))
                seen = users.get(uid)
                clash = seen is not None and seen != user
            else:
                clash = False
            # a page never holds two posts by one author with different counts
            if len(posts) == PAGE_SIZE or clash:
                yield _page_line(posts, users), len(posts)
                posts, users = [], {}
            posts.append(_post_text(row))
            if author_id is not None:
                users[uid] = user
    if posts:
        yield _page_line(posts, users), len(posts)


def _page_line(posts: list[str], users: dict[str, tuple[Any, Any, int | None]]) -> str:
    """Return the page's JSON: ``data``, then ``includes.users`` if any, then ``meta``."""
    parts = ['{"data": [', ", ".join(posts), "]"]
    if users:
        parts.append(', "includes": {"users": [')
        parts.append(", ".join(_user_text(uid, *user) for uid, user in users.items()))
        parts.append("]}")
    parts.append(f', "meta": {{"result_count": {len(posts)}}}}}')
    return "".join(parts)


def _user_text(uid: str, username: Any, name: Any, followers: int | None) -> str:
    """Return the user object's JSON, keys sorted: id, name, public_metrics, username."""
    text = '{"id": ' + _quote(uid)
    if name is not None:
        text += ', "name": ' + _quote(name)
    if followers is not None:
        text += f', "public_metrics": {{"followers_count": {followers}}}'
    if username is not None:
        text += ', "username": ' + _quote(username)
    return text + "}"


def _post_text(row: tuple) -> str:
    """Return the API v2 post object of a stored row as JSON, its keys sorted: author_id,
    created_at, entities, hashmon_gone, id, public_metrics, referenced_tweets, text."""
    (post_id, text, gone_at, author_id, created_us, kind, hashtags, mentions) = row[:8]
    likes, retweets, replies, quotes, impressions = row[9:14]
    author = "{" if author_id is None else '{"author_id": ' + _quote(str(author_id)) + ", "
    words = hashtags.split() if hashtags else None
    tags = '{"tag": ' + '}, {"tag": '.join(map(_quote, words)) + "}" if words else ""
    words = mentions.split() if mentions else None
    names = '{"username": ' + '}, {"username": '.join(map(_quote, words)) + "}" if words else ""
    if None not in (likes, retweets, replies, quotes):  # as X gives them: one template
        metrics = (
            f'"like_count": {int(likes)}, "quote_count": {int(quotes)}, '
            f'"reply_count": {int(replies)}, "retweet_count": {int(retweets)}'
        )
        if impressions is not None:
            metrics = f'"impression_count": {int(impressions)}, {metrics}'
    else:
        metrics = ", ".join(
            f'"{key}": {int(row[at])}' for key, at in _COUNTS_SORTED if row[at] is not None
        )
    if metrics:
        metrics = f', "public_metrics": {{{metrics}}}'
    ref = _KIND_TYPE.get(kind)
    if ref is not None:  # of the posts referred to, hashmon keeps the retweeted one's id
        ref_id = f'"id": {_quote(row[16])}, ' if row[16] else ""
        ref = f', "referenced_tweets": [{{{ref_id}"type": "{ref}"}}]'
    return (
        f'{author}"created_at": "{utc_text_us(int(created_us))}", "entities": {{"hashtags": '
        f'[{tags}], "mentions": [{names}]}}{_GONE if gone_at else ""}, "id": '
        f'{_quote(str(post_id))}{metrics}{ref or ""}, "text": '
        f"{_quote('' if gone_at else (text or ''))}}}"
    )


def write_archive(conn: Connection, settings: Settings, path: Path) -> int:
    """Write the window's posts to ``path`` as gzipped JSON lines; return how many posts.

    zlib releases the GIL: one thread compresses a block while this one builds the next
    (one block at a time, in order, so the bytes are the same as a single write's).
    Level 6, zlib's default: level 9 took twice as long for a file 1 % smaller.
    """
    n = 0
    block: list[bytes] = []
    size = 0
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        ThreadPoolExecutor(max_workers=1) as compressor,
    ):
        pending: Future[int] | None = None
        for text, posts in archive_lines(archive_rows(conn, settings)):
            n += posts
            line = text.encode("utf-8") + b"\n"
            block.append(line)
            size += len(line)
            if size >= _BLOCK_BYTES:
                if pending is not None:
                    pending.result()
                pending = compressor.submit(gz.write, b"".join(block))
                block, size = [], 0
        if pending is not None:
            pending.result()
        gz.write(b"".join(block))
    return n

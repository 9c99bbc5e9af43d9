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
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from monitor.settings import Settings
from monitor.store.engine import stream_rows
from monitor.times import day_bounds_us, from_epoch_us, utc_text

PAGE_SIZE = 100  # posts per archive page, as X's search pages
ARCHIVE = "posts.jsonl.gz"
_KIND_TYPE = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}
_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")


_POSTS_SQL = """
    SELECT p.id, p.text, p.gone_at, p.author_id, p.created_at_us, p.kind, p.hashtags,
           p.mentions, p.author_followers, p.like_count, p.retweet_count, p.reply_count,
           p.quote_count, p.impression_count, a.username, a.name, p.retweeted_id
    FROM posts p
    LEFT JOIN authors a ON a.platform = p.platform AND a.id = p.author_id
    WHERE p.platform = :platform AND p.created_at_us >= :lo AND p.created_at_us < :hi
    ORDER BY p.created_at_us, LENGTH(p.id), p.id
"""


_BLOCK_BYTES = 4 << 20  # what the compressing thread takes at a time


def archive_pages(conn: Connection, settings: Settings) -> Iterator[dict[str, Any]]:
    """Yield the window's stored posts as API v2 pages, each post once (see the module doc)."""
    lo, hi = day_bounds_us(settings.campaign.start, settings.campaign.end, settings.campaign.tz)
    params = {"platform": "x", "lo": lo, "hi": hi}
    data: list[dict[str, Any]] = []
    users: dict[str, dict[str, Any]] = {}
    for rows in stream_rows(conn, _POSTS_SQL, params, 5000):
        for row in rows:
            post, user = _post_object(row)
            uid = post.get("author_id")
            clash = uid is not None and uid in users and users[uid] != user
            if len(data) == PAGE_SIZE or clash:
                yield _page(data, users)
                data, users = [], {}
            data.append(post)
            if uid is not None:
                users[uid] = user
    if data:
        yield _page(data, users)


def _page(data: list[dict[str, Any]], users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    page: dict[str, Any] = {"data": data}
    if users:
        page["includes"] = {"users": list(users.values())}
    page["meta"] = {"result_count": len(data)}
    return page


def _post_object(row: tuple) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the API v2 post object of a stored row, its author's user object)."""
    (post_id, text, gone_at, author_id, created_us, kind, hashtags, mentions, followers) = row[:9]
    counts = row[9:14]
    username, name, retweeted = row[14:17]
    post: dict[str, Any] = {"id": str(post_id), "text": "" if gone_at else (text or "")}
    if author_id is not None:
        post["author_id"] = str(author_id)
    post["created_at"] = utc_text(from_epoch_us(int(created_us)))
    post["entities"] = {
        "hashtags": [{"tag": t} for t in (hashtags or "").split()],
        "mentions": [{"username": m} for m in (mentions or "").split()],
    }
    if kind in _KIND_TYPE:  # of the posts referred to, hashmon keeps the retweeted one's id
        ref = {"type": _KIND_TYPE[kind], **({"id": retweeted} if retweeted else {})}
        post["referenced_tweets"] = [ref]
    metrics = {k: int(v) for k, v in zip(_COUNTS, counts, strict=True) if v is not None}
    if metrics:
        post["public_metrics"] = metrics
    if gone_at:
        post["hashmon_gone"] = True  # deleted or withheld on X since: no text kept
    user: dict[str, Any] = {"id": str(author_id)}
    if username is not None:
        user["username"] = username
    if name is not None:
        user["name"] = name
    if followers is not None:
        user["public_metrics"] = {"followers_count": int(followers)}
    return post, user


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
        for page in archive_pages(conn, settings):
            n += len(page["data"])
            line = json.dumps(page, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
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

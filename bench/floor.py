"""The floor: what storing the corpus, and reading a week of figures back, costs with nothing
but the standard library's ``sqlite3`` and the same JSON parser hashmon uses (orjson).

Run as ``python -m bench.floor import FILE DB`` or ``python -m bench.floor stats DB``; the
bench starts each in a subprocess so its wall time and peak RSS are its own.

``import`` parses each twarc2 line, takes the columns hashmon stores for a post
(kind, casefolded hashtags and mentions, created_at in epoch microseconds, the author's
followers from the page's ``includes.users``, the five counts) and upserts them into a
``posts`` table of hashmon's shape (same columns, same primary key, an index on
``created_at_us``; hashmon's index also covers its author pass and costs it a little
more) with one ``executemany`` in one transaction, WAL on, with the same conflict rule:
content from the first sighting, each count from the latest that has it.
It validates nothing, keeps no observations, authors, runs or file hashes: that is why
it is a floor, not a peer. It imports nothing from hashmon, so its start-up is python's.

``stats`` is one ``GROUP BY`` over the window's posts: the per-day figures of METRICS.md
that a single scan can give (posts, kinds, matches, contributors, potential impressions,
engagement sums, impressions), local days by a fixed UTC offset (the window has no
summer-time change). No potential reach (a second, sorting query) and no totals.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import orjson

DDL = """
CREATE TABLE IF NOT EXISTS posts (
    platform VARCHAR(16) NOT NULL, id VARCHAR(64) NOT NULL, author_id VARCHAR(64),
    created_at_us BIGINT, text TEXT NOT NULL, kind VARCHAR(8) NOT NULL,
    hashtags TEXT NOT NULL, mentions TEXT NOT NULL, author_followers BIGINT,
    like_count BIGINT, retweet_count BIGINT, reply_count BIGINT, quote_count BIGINT,
    impression_count BIGINT, first_seen_at VARCHAR(32) NOT NULL,
    last_seen_at VARCHAR(32) NOT NULL, first_run_id INTEGER, sightings INTEGER NOT NULL,
    PRIMARY KEY (platform, id)
);
CREATE INDEX IF NOT EXISTS ix_posts_created_at_us ON posts (created_at_us);
"""
COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")
UPSERT = (
    "INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (platform, id) DO UPDATE SET "
    + ", ".join(f"{c} = COALESCE(excluded.{c}, posts.{c})" for c in COUNTS)
    + ", last_seen_at = excluded.last_seen_at, sightings = posts.sightings + 1"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
_TAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@(\w+)")
_NO_COUNTS: dict[str, Any] = {}


def _terms(items: Any, field: str) -> str:
    if not items:
        return ""
    return " " + " ".join(dict.fromkeys(i[field].casefold() for i in items)) + " "


def rows(path: str, seen_at: str) -> Iterator[tuple]:
    """Yield one posts row per sighting in the file, in file order."""
    # the same 1 MB read buffer as hashmon: a fair floor for both readers
    with open(path, "rb", buffering=1 << 20) as fh:
        for line in fh:
            page = orjson.loads(line)
            data = page.get("data")
            if not data:
                continue
            users = {u["id"]: u for u in page.get("includes", {}).get("users", ())}
            for t in data:
                refs = {r["type"] for r in t.get("referenced_tweets", ())}
                kind = (
                    "retweet"
                    if "retweeted" in refs
                    else "reply"
                    if "replied_to" in refs
                    else "quote"
                    if "quoted" in refs
                    else "original"
                )
                ent = t.get("entities")
                if ent is None:
                    text = t["text"].casefold()
                    tags = " ".join(_TAG.findall(text))
                    mentions = " ".join(_MENTION.findall(text))
                    tags, mentions = (
                        (f" {tags} " if tags else ""),
                        (f" {mentions} " if mentions else ""),
                    )
                else:
                    tags = _terms(ent.get("hashtags"), "tag")
                    mentions = _terms(ent.get("mentions"), "username")
                user = users.get(t.get("author_id"))
                followers = (
                    user.get("public_metrics", _NO_COUNTS).get("followers_count") if user else None
                )
                m = t.get("public_metrics", _NO_COUNTS)
                yield (
                    "x",
                    t["id"],
                    t.get("author_id"),
                    (dt.datetime.fromisoformat(t["created_at"]) - _EPOCH) // _US,
                    t["text"],
                    kind,
                    tags,
                    mentions,
                    followers,
                    m.get("like_count"),
                    m.get("retweet_count"),
                    m.get("reply_count"),
                    m.get("quote_count"),
                    m.get("impression_count"),
                    seen_at,
                    seen_at,
                    1,
                    1,
                )


def import_file(path: str, db: str) -> int:
    """Upsert every sighting of ``path`` into ``db`` in one transaction; return the sightings."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(DDL)
    seen_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    n = 0

    def counted() -> Iterator[tuple]:
        nonlocal n
        for row in rows(path, seen_at):
            n += 1
            yield row

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(UPSERT, counted())
    conn.execute("COMMIT")
    conn.close()
    return n


STATS_SQL = """
SELECT (created_at_us + :off) / 86400000000 AS day,
       COUNT(*) AS posts,
       SUM(kind = 'original'), SUM(kind = 'retweet'), SUM(kind = 'quote'), SUM(kind = 'reply'),
       SUM(hashtags LIKE :tag), SUM(mentions LIKE :mention),
       COUNT(DISTINCT author_id),
       SUM(COALESCE(author_followers, 0)),
       SUM(CASE WHEN kind <> 'retweet' THEN COALESCE(like_count, 0) END),
       SUM(CASE WHEN kind <> 'retweet' THEN COALESCE(retweet_count, 0) END),
       SUM(CASE WHEN kind <> 'retweet' THEN COALESCE(reply_count, 0) END),
       SUM(CASE WHEN kind <> 'retweet' THEN COALESCE(quote_count, 0) END),
       SUM(impression_count), COUNT(impression_count),
       SUM(author_followers IS NULL)
FROM posts
WHERE created_at_us >= :lo AND created_at_us < :hi
GROUP BY 1 ORDER BY 1
"""


def stats(db: str, lo: int, hi: int, offset: int, tag: str, mention: str) -> list[tuple]:
    """Return the per-day rows of the window ``[lo, hi)`` (UTC epoch µs)."""
    conn = sqlite3.connect(db)
    params = {"lo": lo, "hi": hi, "off": offset, "tag": f"% {tag} %", "mention": f"% {mention} %"}
    out = conn.execute(STATS_SQL, params).fetchall()
    conn.close()
    return out


def main(argv: list[str]) -> None:
    if argv[:1] == ["import"]:
        print(import_file(argv[1], argv[2]))
    elif argv[:1] == ["stats"]:
        db, lo, hi, off, tag, mention = argv[1:7]
        for row in stats(db, int(lo), int(hi), int(off), tag, mention):
            print(*row)
    else:
        sys.exit("usage: python -m bench.floor import FILE DB | stats DB LO HI OFF TAG MENTION")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The pack's archive (``posts.jsonl.gz``) is written from templates, not dicts: its
lines must stay exactly ``json.dumps(page, ensure_ascii=False, sort_keys=True)`` of the
API v2 page dicts, in the order time, then id by length and characters, pages split at
100 posts or where an author's stored figures differ (METRICS.md "The impact pack").

``reference_lines`` below is the archive as it was first written (dicts, the sorting
encoder, the order from SQL); every test holds the archive to it, on awkward input.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text

import reports.pack_archive as pack_archive
from monitor.settings import Settings
from monitor.store.engine import snapshot
from monitor.store.schema import Author, Post
from monitor.times import day_bounds_us, from_epoch_us, utc_text, utc_text_us
from reports.pack_archive import PAGE_SIZE, archive_lines, write_archive

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_KIND_TYPE = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}
_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")
ORDERED_SQL = """
    SELECT p.id, p.text, p.gone_at, p.author_id, p.created_at_us, p.kind, p.hashtags,
           p.mentions, p.author_followers, p.like_count, p.retweet_count, p.reply_count,
           p.quote_count, p.impression_count, a.username, a.name, p.retweeted_id
    FROM posts p
    LEFT JOIN authors a ON a.platform = p.platform AND a.id = p.author_id
    WHERE p.platform = 'x' AND p.created_at_us >= :lo AND p.created_at_us < :hi
    ORDER BY p.created_at_us, LENGTH(p.id), p.id
"""


# --- the reference: the archive's first implementation ---------------------------------


def _objects(row: tuple) -> tuple[dict[str, Any], dict[str, Any]]:
    (post_id, body, gone_at, author_id, created_us, kind, hashtags, mentions, followers) = row[:9]
    counts = row[9:14]
    username, name, retweeted = row[14:17]
    post: dict[str, Any] = {"id": str(post_id), "text": "" if gone_at else (body or "")}
    if author_id is not None:
        post["author_id"] = str(author_id)
    post["created_at"] = utc_text(from_epoch_us(int(created_us)))
    post["entities"] = {
        "hashtags": [{"tag": t} for t in (hashtags or "").split()],
        "mentions": [{"username": m} for m in (mentions or "").split()],
    }
    if kind in _KIND_TYPE:
        ref = {"type": _KIND_TYPE[kind], **({"id": retweeted} if retweeted else {})}
        post["referenced_tweets"] = [ref]
    metrics = {k: int(v) for k, v in zip(_COUNTS, counts, strict=True) if v is not None}
    if metrics:
        post["public_metrics"] = metrics
    if gone_at:
        post["hashmon_gone"] = True
    user: dict[str, Any] = {"id": str(author_id)}
    if username is not None:
        user["username"] = username
    if name is not None:
        user["name"] = name
    if followers is not None:
        user["public_metrics"] = {"followers_count": int(followers)}
    return post, user


def _page(data: list[dict[str, Any]], users: dict[str, dict[str, Any]]) -> str:
    page: dict[str, Any] = {"data": data}
    if users:
        page["includes"] = {"users": list(users.values())}
    page["meta"] = {"result_count": len(data)}
    return json.dumps(page, ensure_ascii=False, sort_keys=True)


def reference_lines(rows: list[tuple]) -> list[str]:
    """Return the archive's lines of ``rows`` (already in archive order), as first written."""
    lines: list[str] = []
    data: list[dict[str, Any]] = []
    users: dict[str, dict[str, Any]] = {}
    for row in rows:
        post, user = _objects(row)
        uid = post.get("author_id")
        clash = uid is not None and uid in users and users[uid] != user
        if len(data) == PAGE_SIZE or clash:
            lines.append(_page(data, users))
            data, users = [], {}
        data.append(post)
        if uid is not None:
            users[uid] = user
    if data:
        lines.append(_page(data, users))
    return lines


def archive_order(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: (r[4], len(r[0]), r[0]))


# --- generated rows --------------------------------------------------------------------

STORABLE = [
    "",
    '"quoted" and \\ backslash \\"',
    "control \x01\x1f\x7f \t\n\r\x08\x0c",
    "emoji 🎉👶🏽 and \u2028\u2029 separators",
    "</script><!-- ' & é ß 中文",
]
AWKWARD = [
    *STORABLE,
    "NUL \x00 (PostgreSQL refuses it in text)",
    "lone \ud800 surrogate \udfff",  # not storable (UTF-8 refuses it), escaped the same
]
some_text = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=20))
maybe_text = st.one_of(st.none(), some_text)
count = st.one_of(st.none(), st.integers(0, 10**15))
BASE_US = 1_497_225_600_000_000  # 2017-06-12T00:00:00Z


# a row's fields but its id: few times (many ties), few authors (clashes), every field
# None, empty or awkward somewhere
fields = st.tuples(
    maybe_text,
    st.sampled_from([None, "", "2017-06-20T00:00:00.000000Z"]),
    st.one_of(st.none(), st.sampled_from(["7", "8", "900000000000000001"])),
    st.sampled_from([0, 1, 999_999, 86_399_999_999, 3 * 10**11]).map(lambda us: BASE_US + us),
    st.sampled_from(["original", "retweet", "reply", "quote"]),
    maybe_text,
    maybe_text,
    st.one_of(st.none(), st.sampled_from([0, 5, 10**12])),
    *[count] * 5,
    st.one_of(st.none(), st.sampled_from(['al"ice', "bob"])),
    st.one_of(st.none(), st.sampled_from(["Al\\ice 🎉", "B"])),
    st.sampled_from([None, "", "123", 'x"\\']),
)


@st.composite
def rows(draw: st.DrawFn) -> list[tuple]:
    """Rows in archive order, awkward ids among them; a long list repeats a few drawn
    rows' fields (drawing each row of 150 took seconds an example)."""
    odd = draw(st.lists(some_text.filter(bool), unique=True, max_size=5))
    # a short list, or one long enough to be split at PAGE_SIZE posts
    n = draw(st.one_of(st.integers(0, 12), st.integers(PAGE_SIZE - 5, PAGE_SIZE + 60)))
    ids = list(dict.fromkeys([*odd, *(str(7**i % 10**12) for i in range(n))]))
    drawn = draw(st.lists(fields, min_size=1, max_size=12))
    return archive_order([(pid, *drawn[i % len(drawn)]) for i, pid in enumerate(ids)])


@PROPERTY
@given(rows(), st.integers(1, 7))
def test_each_line_is_json_dumps_of_the_page_dict(ordered: list[tuple], batch: int) -> None:
    batches = [ordered[i : i + batch] for i in range(0, len(ordered), batch)]
    got = list(archive_lines(batches))
    assert [line for line, _ in got] == reference_lines(ordered)
    assert sum(n for _, n in got) == len(ordered)


@PROPERTY
@given(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999))
def test_the_created_at_text_is_utc_text_of_the_moment(us: int) -> None:
    assert utc_text_us(us) == utc_text(from_epoch_us(us))


# --- from a database, SQLite and PostgreSQL --------------------------------------------

NOW = "2017-06-20T00:00:00.000000Z"


def _store(engine: Engine) -> None:
    """Posts sharing a microsecond across fetches, ids of every length, gone posts,
    retweets with and without what they retweet, authors missing a name or a count,
    one author whose stored count differs between posts (a new page), no author."""
    lo, _ = day_bounds_us(*_window())
    posts, authors = [], {}
    for i in range(230):
        at = lo + 3_600_000_000 + (i // 7) * 1_000_000  # seven posts a second
        pid = "1" * (i % 5) + str(1000 + i)  # ids of four to eight digits in one second
        uid = None if i % 11 == 0 else str(500 + i % 13)
        posts.append(
            {
                "platform": "x",
                "id": pid,
                "author_id": uid,
                "created_at_us": at,
                "text": f'post {i} "{STORABLE[i % 5]}" #IMHAW17',
                "kind": ["original", "retweet", "reply", "quote"][i % 4],
                "hashtags": "IMHAW17" if i % 3 else "",
                "mentions": "first1001days" if i % 2 else "",
                "author_followers": None if i % 9 == 0 else 100 + (i % 2) * (i % 13 == 4),
                "like_count": i,
                "retweet_count": None if i % 5 == 0 else 1,
                "reply_count": 0,
                "quote_count": None,
                "impression_count": None if i % 2 else 10 * i,
                "first_seen_at": NOW,
                "last_seen_at": NOW,
                "sightings": 1,
                "gone_at": NOW if i % 17 == 3 else None,
                "retweeted_id": str(9000 + i) if i % 8 == 1 else None,
            }
        )
        if uid is not None:
            authors[uid] = {
                "platform": "x",
                "id": uid,
                "username": None if i % 13 == 6 else f"user_{uid}",
                "name": None if i % 13 == 7 else f"Name \\ {uid} 🎉",
                "updated_at": NOW,
            }
    with engine.begin() as conn:
        conn.execute(insert(Post), posts)
        conn.execute(insert(Author), list(authors.values()))


def _window() -> tuple:
    c = Settings().campaign
    return c.start, c.end, c.tz


@pytest.mark.parametrize("batch", [3, 7, 5000])
def test_the_archive_is_the_reference_in_its_order_on_either_database(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    _store(engine)
    monkeypatch.setattr(pack_archive, "_BATCH_ROWS", batch)  # ties held across fetches
    path = tmp_path / "posts.jsonl.gz"
    with snapshot(engine) as conn:
        n = write_archive(conn, Settings(), path)
        lo, hi = day_bounds_us(*_window())
        stored = [tuple(r) for r in conn.execute(text(ORDERED_SQL), {"lo": lo, "hi": hi})]
    assert n == len(stored) == 230
    assert stored == archive_order(stored)  # numeric ids: SQL's order and Python's agree
    expected = reference_lines(archive_order(stored))
    assert len(expected) > 3  # split at 100 posts and at the author whose count changed
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    assert lines == [*expected, ""]  # (not splitlines: U+2028 stays raw inside a line)
    # and the same bytes as one gzip stream of those lines (no name, no time, level 6)
    ref = tmp_path / "ref.gz"
    with (
        ref.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
    ):
        gz.write("".join(line + "\n" for line in expected).encode("utf-8"))
    assert path.read_bytes() == ref.read_bytes()

"""Numbers too big for their column (issue 12.4): unknown, like negative ones.

The count columns are signed 64-bit integers; a count of 2^63 or more, a follower count
past it, an id wider than the id columns, must never fail an import or a live pass: the
value is stored as unknown (NULL) and everything else on the page is stored.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, select

from monitor.archive import import_files
from monitor.collect import collect_pass
from monitor.normalize import normalize_page
from monitor.sources.base import Page, Source
from monitor.store.schema import Author, CollectionRun, Post
from tests.pages import counts, page, post, user, write_jsonl

TOO_BIG = [2**63, 2**64, 10**30, 2**63 + 12345]
LARGEST = 2**63 - 1  # the largest value the column holds: kept as it is


def _hostile_page() -> dict:
    return page(
        post("1", author_id="10", metrics=counts(like=2**63, retweet=3, impression=10**30)),
        post("2", author_id="11", metrics=counts(like=LARGEST, reply=2**64, quote=-1)),
        post("3", author_id="12", metrics=counts(like=7)),
        post("4", author_id="9" * 65),  # an author id wider than the column: unknown
        users=[user("10", followers=2**63), user("11", followers=LARGEST), user("12", 5)],
    )


def _stored(engine: Engine) -> dict[str, tuple]:
    p = Post.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                p.id,
                p.author_id,
                p.author_followers,
                p.like_count,
                p.retweet_count,
                p.reply_count,
                p.quote_count,
                p.impression_count,
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


EXPECTED = {
    "1": ("10", None, None, 3, 0, 0, None),
    "2": ("11", LARGEST, LARGEST, 0, None, None, None),
    "3": ("12", 5, 7, 0, 0, 0, None),
    "4": (None, None, 0, 0, 0, 0, None),
}


def test_normalize_makes_every_out_of_range_count_unknown() -> None:
    for big in TOO_BIG:
        rec = normalize_page(
            page(
                post(
                    "1", metrics=counts(like=big, retweet=big, reply=big, quote=big, impression=big)
                ),
                users=[user("100", followers=big)],
            )
        )
        p = rec.posts[0]
        assert (p.like_count, p.retweet_count, p.reply_count, p.quote_count) == (None,) * 4
        assert p.impression_count is None and p.author_followers is None
        assert rec.authors[0].followers_count is None


def test_an_import_with_counts_past_the_column_stores_them_as_unknown(engine: Engine, tmp_path):
    path = write_jsonl(tmp_path / "big.jsonl", _hostile_page())
    result = import_files(engine, [path])
    assert result.total("posts_seen") == 4
    assert _stored(engine) == EXPECTED
    a = Author.__table__.c
    with engine.connect() as conn:
        followers = dict(conn.execute(select(a.id, a.followers_count)).all())
    assert followers == {"10": None, "11": LARGEST, "12": 5}


class _OnePage(Source):
    name = "x:recent"

    def __init__(self, pages: list[Page]) -> None:
        super().__init__()
        self.pages = pages

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        self.requests += 1
        yield from self.pages

    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        return iter(())


def test_a_live_pass_with_counts_past_the_column_stores_the_page(engine: Engine) -> None:
    result = collect_pass(engine, _OnePage([_hostile_page()]))
    assert result.posts_read == 4
    assert _stored(engine) == EXPECTED
    with engine.connect() as conn:
        status = conn.execute(select(CollectionRun.status)).scalars().all()
    assert status == ["ok"]

"""Storage: engines from URLs, and the batched upsert's first-sighting / latest-count rules.

Runs on a real SQLite file and a real PostgreSQL database (the ``engine`` fixture).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from monitor.errors import ConfigError, DatabaseError
from monitor.normalize import normalize_page
from monitor.store.engine import display_url, make_engine, snapshot_pair, writing
from monitor.store.schema import Observation, Post
from monitor.store.writes import store_batch, stored_counts
from tests.conftest import make_db_url
from tests.harness import stats_json
from tests.pages import counts, dump_tables, page, post, user


def sight(engine: Engine, obj: dict, seen_at: str = "2017-06-12T10:00:00.000000Z"):
    """Store one page the way a collect pass does; return (new, updated)."""
    records = normalize_page(obj)
    with writing(engine) as conn:
        return store_batch(conn, records.posts, records.authors, run_id=None, seen_at=seen_at)


def stored_post(engine: Engine, post_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(select(Post.__table__).where(Post.id == post_id)).mappings().one()
    return dict(row)


# --- engines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo://", "database 'foo' is not supported; use sqlite:///FILE or postgresql+psycopg://"),
        ("mysql://u@localhost/db", "database 'mysql' is not supported"),
        ("nonsense", "bad database URL: expected e.g. sqlite:///hashmon.db"),
        ("postgresql+asyncpg://u@localhost/db", "database driver postgresql+asyncpg is not"),
    ],
)
def test_an_unusable_database_url_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_engine(url)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 2


def test_an_unreachable_database_is_a_database_error_without_its_password() -> None:
    url = "postgresql+psycopg://hashmon:s3cret-pw@127.0.0.1:5999/nothing"
    with pytest.raises(DatabaseError) as caught:
        make_engine(url)
    message = str(caught.value)
    assert message.startswith("cannot use database postgresql+psycopg://hashmon:***@127.0.0.1:5999")
    assert message.endswith("; check --database, HASHMON_DATABASE_URL or [database] url")
    assert "s3cret-pw" not in message
    assert "\n" not in message
    assert caught.value.exit_code == 1


def test_display_url_masks_the_password() -> None:
    shown = display_url("postgresql://me:topsecret@db.example:5432/hashmon")
    assert "topsecret" not in shown
    assert shown == "postgresql://me:***@db.example:5432/hashmon"


@pytest.mark.parametrize("scheme", ["postgres://", "postgres+psycopg://"])
def test_postgres_urls_are_postgresql(tmp_path: Path, scheme: str) -> None:
    # the short scheme libpq, Heroku and many hosts give out
    url = make_db_url("postgresql", tmp_path).replace("postgresql+psycopg://", scheme)
    eng = make_engine(url)
    try:
        assert eng.url.drivername == "postgresql+psycopg"
        with eng.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM posts")).scalar() == 0
    finally:
        eng.dispose()


def test_plain_postgresql_urls_use_psycopg(tmp_path: Path) -> None:
    url = make_db_url("postgresql", tmp_path)
    eng = make_engine(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert eng.url.drivername == "postgresql+psycopg"
        with eng.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM posts")).scalar() == 0
    finally:
        eng.dispose()


def test_making_an_engine_again_keeps_what_is_stored(engine: Engine, db_url: str) -> None:
    sight(engine, page(post("1"), users=[user("100", 5)]))
    again = make_engine(db_url)
    try:
        with again.connect() as conn:
            assert stored_counts(conn) == {"posts": 1, "authors": 1}
    finally:
        again.dispose()


# --- first sighting, latest counts ----------------------------------------------------------


def test_content_and_followers_come_from_the_first_sighting(engine: Engine) -> None:
    # hand-written: the same post id seen twice with different content, to isolate the rule
    sight(
        engine,
        page(post("1", "first", hashtags=["IMHAW17"]), users=[user("100", 10)]),
        "2017-06-12T10:00:00.000000Z",
    )
    sight(
        engine,
        page(
            post("1", "second", author_id="200", refs=["retweeted"], created_at=None),
            users=[user("200", 999)],
        ),
        "2017-06-12T11:00:00.000000Z",
    )
    row = stored_post(engine, "1")
    assert (row["text"], row["author_id"], row["kind"]) == ("first", "100", "original")
    assert row["hashtags"].split() == ["imhaw17"]
    assert row["author_followers"] == 10
    assert row["created_at_us"] is not None
    assert (row["first_seen_at"], row["last_seen_at"]) == (
        "2017-06-12T10:00:00.000000Z",
        "2017-06-12T11:00:00.000000Z",
    )
    assert row["sightings"] == 2


def test_counts_come_from_the_latest_sighting_that_reports_them(engine: Engine) -> None:
    sight(engine, page(post("1", metrics=counts(5, 4, 3, 2, impression=100))))
    sight(engine, page(post("1", metrics=counts(1, 4, 3, 9))))  # likes down, no impressions
    sight(engine, page(post("1", metrics=None)))
    sight(engine, page(post("1", metrics={"reply_count": 0})))
    row = stored_post(engine, "1")
    got = [row[k] for k in ("like_count", "retweet_count", "reply_count", "quote_count")]
    assert got == [1, 4, 0, 9]
    assert row["impression_count"] == 100


def test_every_sighting_is_an_observation_in_order(engine: Engine) -> None:
    sight(engine, page(post("1", metrics=counts(like=5)), post("2")))
    sight(engine, page(post("1", metrics=counts(like=3))))
    sight(engine, page(post("1", metrics=None)))
    with engine.connect() as conn:
        rows = conn.execute(
            select(Observation.post_id, Observation.like_count).order_by(Observation.seq)
        ).all()
    assert [tuple(r) for r in rows] == [("1", 5), ("2", 0), ("1", 3), ("1", None)]


def test_sightings_within_one_batch_apply_in_order(engine: Engine) -> None:
    obj = page(post("1", metrics=counts(like=5)), post("1", metrics=counts(like=2)))
    assert sight(engine, obj) == (1, 1)
    assert stored_post(engine, "1")["like_count"] == 2


def test_store_batch_reports_new_and_already_stored_posts(engine: Engine) -> None:
    assert sight(engine, page(post("1"), post("2"))) == (2, 0)
    assert sight(engine, page(post("2"), post("3"))) == (1, 1)
    with engine.connect() as conn:
        assert stored_counts(conn)["posts"] == 3


def test_stored_authors_are_distinct_authors_of_posts(engine: Engine) -> None:
    sight(
        engine,
        page(
            post("1"),
            post("2"),
            post("3", author_id="200"),
            post("4", author_id=None),
            users=[user("100", 1), user("200", 2), user("300", 3)],
        ),
    )
    with engine.connect() as conn:
        assert stored_counts(conn) == {"posts": 4, "authors": 2}


def test_a_failed_write_transaction_stores_nothing(engine: Engine) -> None:
    before = dump_tables(engine)
    records = normalize_page(page(post("1"), users=[user("100", 5)]))
    with pytest.raises(RuntimeError), writing(engine) as conn:
        store_batch(conn, records.posts, records.authors, run_id=None, seen_at="x")
        raise RuntimeError("crash after the batch")
    assert dump_tables(engine) == before


def test_an_author_seen_without_a_user_object_is_still_a_stored_author(engine: Engine) -> None:
    # stored.authors counts the authors table, so every post's author must have a row
    sight(engine, page(post("1"), post("2", author_id="200"), users=[user("200", 2)]))
    with engine.connect() as conn:
        assert stored_counts(conn) == {"posts": 2, "authors": 2}
        row = conn.execute(
            text("SELECT username, followers_count FROM authors WHERE id = '100'")
        ).one()
    assert tuple(row) == (None, None)  # nothing known yet: no name, no follower count
    sight(engine, page(post("3"), users=[user("100", 7)]))
    with engine.connect() as conn:
        assert stored_counts(conn)["authors"] == 2
        assert conn.execute(text("SELECT followers_count FROM authors WHERE id = '100'")).scalar()


def test_a_database_of_the_first_schema_is_brought_up_to_date(db_url: str) -> None:
    """A database written before ix_posts_created_at_author (it had an index on
    created_at_us alone, and no author row for posts whose page had no user object)."""
    engine = make_engine(db_url)
    sight(engine, page(post("1"), post("2", author_id="200"), users=[user("200", 2)]))
    with writing(engine) as conn:
        conn.execute(text("DROP INDEX ix_posts_created_at_author"))
        conn.execute(text("CREATE INDEX ix_posts_created_at_us ON posts (created_at_us)"))
        conn.execute(text("DELETE FROM authors WHERE id = '100'"))
    engine.dispose()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert stored_counts(conn) == {"posts": 2, "authors": 2}
            names = _post_indexes(conn)
        assert "ix_posts_created_at_us" not in names
        assert "ix_posts_created_at_author" in names
    finally:
        engine.dispose()


def _post_indexes(conn) -> set[str]:
    # SQLAlchemy does not reflect indexes on expressions: ask the catalogue
    if conn.dialect.name == "postgresql":
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'posts'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'posts'"
    return {name for (name,) in conn.execute(text(sql))}


def test_a_snapshot_pair_reads_one_moment_while_another_writer_commits(db_url: str) -> None:
    engine, other = make_engine(db_url), make_engine(db_url)
    try:
        sight(engine, page(post("1"), users=[user("100", 1)]))
        with snapshot_pair(engine) as (first, second):
            count = text("SELECT COUNT(*) FROM posts")
            before = first.execute(count).scalar_one()
            sight(other, page(post("2"), users=[user("100", 1)]))  # commits in between
            counts = [before, first.execute(count).scalar_one(), second.execute(count).scalar_one()]
        # the second connection (on SQLite another one, which has not read yet) sees the
        # same moment as the first
        assert counts == [1, 1, 1]
        with engine.connect() as conn:
            assert stored_counts(conn)["posts"] == 2
    finally:
        engine.dispose()
        other.dispose()


def test_a_snapshot_pair_does_not_wait_for_a_writer_of_another_connection(
    tmp_path: Path,
) -> None:
    url = make_db_url("sqlite", tmp_path)
    engine, other = make_engine(url), make_engine(url)
    try:
        # the writer holds the lock for the whole block and never lets go while we read:
        # a snapshot that waited for it would end in "database is locked", not a count
        with writing(other), snapshot_pair(engine) as (first, second):
            assert first is second  # one connection: the halves run in turn
            assert first.execute(text("SELECT COUNT(*) FROM posts")).scalar_one() == 0
    finally:
        engine.dispose()
        other.dispose()


def test_a_command_reads_while_an_import_holds_its_write_transaction(db_url: str) -> None:
    # an import writes its files in one transaction that can last minutes: `hashmon
    # stats` meanwhile must answer from what is committed. Making the engine used to
    # take a write lock to check the schema: it waited for the import (SQLite: then
    # "database is locked"; PostgreSQL: until the import ended).
    engine = make_engine(db_url)
    try:
        sight(engine, page(post("1"), users=[user("100", 1)]))
        answers: list[dict] = []
        with writing(engine) as importing:
            records = normalize_page(page(post("2"), users=[user("100", 1)]))
            store_batch(importing, records.posts, records.authors, run_id=None, seen_at="x")
            reader = threading.Thread(target=lambda: answers.append(stats_json(db_url)))
            reader.start()
            reader.join(timeout=50)
            waited = reader.is_alive()
        reader.join()
        assert not waited, "stats waited for the import's transaction to end"
        assert answers[0]["totals"]["posts"] == 1  # the committed post, not the pending one
    finally:
        engine.dispose()

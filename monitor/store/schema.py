"""The tables hashmon stores, and their creation and upgrade (SQLite or PostgreSQL).

A post's ``created_at_us`` is UTC epoch microseconds, so local days are integer
arithmetic in identical SQL on both databases; bookkeeping timestamps (runs, sightings)
are fixed-width UTC ISO text, which sorts as it reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Boolean, Engine, Index, Integer, String, Table, Text, func, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.times import now_text


class Base(DeclarativeBase):
    pass


class Post(Base):
    """A post: content from its first sighting, counts from its latest (METRICS.md)."""

    __tablename__ = "posts"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    author_id: Mapped[str | None] = mapped_column(String(64))
    created_at_us: Mapped[int | None] = mapped_column(BigInteger)  # UTC epoch microseconds
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))
    hashtags: Mapped[str] = mapped_column(Text)
    mentions: Mapped[str] = mapped_column(Text)
    author_followers: Mapped[int | None] = mapped_column(BigInteger)
    like_count: Mapped[int | None] = mapped_column(BigInteger)
    retweet_count: Mapped[int | None] = mapped_column(BigInteger)
    reply_count: Mapped[int | None] = mapped_column(BigInteger)
    quote_count: Mapped[int | None] = mapped_column(BigInteger)
    impression_count: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_at: Mapped[str] = mapped_column(String(32))
    last_seen_at: Mapped[str] = mapped_column(String(32))
    first_run_id: Mapped[int | None] = mapped_column(Integer)
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    # set when a lookup answered "deleted" or "not authorized" for the post (METRICS.md
    # "Deleted and withheld posts"): its text is erased then; its figures stay
    gone_at: Mapped[str | None] = mapped_column(String(32))
    gone_reason: Mapped[str | None] = mapped_column(String(16))
    # the post a retweet retweets (None: not a retweet, or stored before this column)
    retweeted_id: Mapped[str | None] = mapped_column(String(64))


# The index of every period query. created_at grows nearly monotonically, so it is cheap
# to keep while ingesting (a million-post import was no slower than with created_at
# alone). Its other keys are never updated; they give the author pass of the figures its
# rows in "latest post last" order (time, then the id as a number: length, then digits)
# from the index alone, with no sort and no read of the table, and let queries that
# pick posts by author skip the table rows of everyone else's.
Index(
    "ix_posts_created_at_author",
    Post.created_at_us,
    Post.platform,
    Post.author_id,
    func.length(Post.id),
    Post.id,
    Post.author_followers,
)


class Author(Base):
    """An account that wrote a stored post; names and followers as last seen, for display."""

    __tablename__ = "authors"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    followers_count: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[str] = mapped_column(String(32))
    # X marks the account verified (METRICS.md "Shareable outputs": a public account);
    # as last said, None while no sighting said
    verified: Mapped[bool | None] = mapped_column(Boolean)


class Observation(Base):
    """One sighting of a post's public metrics; ``seq`` orders sightings."""

    __tablename__ = "observations"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    post_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[str] = mapped_column(String(32))
    like_count: Mapped[int | None] = mapped_column(BigInteger)
    retweet_count: Mapped[int | None] = mapped_column(BigInteger)
    reply_count: Mapped[int | None] = mapped_column(BigInteger)
    quote_count: Mapped[int | None] = mapped_column(BigInteger)
    impression_count: Mapped[int | None] = mapped_column(BigInteger)


class CollectionRun(Base):
    """What ran, when, and what it cost: imports, collect passes, backfills, refreshes."""

    __tablename__ = "collection_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    posts_read: Mapped[int] = mapped_column(Integer, default=0)
    posts_new: Mapped[int] = mapped_column(Integer, default=0)
    posts_updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    gap_from: Mapped[str | None] = mapped_column(String(32))
    gap_to: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_collection_runs_started_at", "started_at"),)


class PostRead(Base):
    """How often a post was read from the API on one UTC day: what billing counts.

    Pay-per-use charges a post once a UTC day however often it is read; a monthly cap
    counts every read. Written in the transaction of the page that read the posts, so
    both figures can be recomputed from the database alone.
    """

    __tablename__ = "post_reads"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    read_day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    reads: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_post_reads_read_day", "read_day"),)


class BudgetAlert(Base):
    """A share of the month's cap or budget (50, 80, 100 %) crossed; each one alerted once."""

    __tablename__ = "budget_alerts"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, UTC
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True)  # percent
    crossed_at: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)


class Checkpoint(Base):
    """Where a source's next pass starts, and the progress of a pass under way."""

    __tablename__ = "checkpoints"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    newest_id: Mapped[str | None] = mapped_column(String(64))
    pass_newest_id: Mapped[str | None] = mapped_column(String(64))
    pass_oldest_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[str] = mapped_column(String(32))


class ImportedFile(Base):
    """A file imported whole; the same bytes imported again change nothing."""

    __tablename__ = "imported_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[str] = mapped_column(String(32))
    pages: Mapped[int] = mapped_column(Integer)
    posts: Mapped[int] = mapped_column(Integer)


class Lease(Base):
    """One collector at a time: a lease that expires, so a killed holder cannot keep it."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[str] = mapped_column(String(32))


METRIC_COLUMNS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")

_SCHEMA_LOCK = 1001_2017  # any constant: the advisory lock that serialises schema creation


def create_schema(engine: Engine, also: Sequence[Table] = ()) -> None:
    """Create the tables that are missing, safely when several commands start at once.

    Two processes creating the schema together would otherwise collide: "database is
    locked" on SQLite, a duplicate type on PostgreSQL. One write transaction (BEGIN
    IMMEDIATE on SQLite, an advisory lock on PostgreSQL) makes them take turns.
    ``also``: tables of a library kept in the same database (the scheduler's job store),
    created in that transaction too.

    Every command calls this first, and the schema is almost always complete: one read
    of the catalogue says so, and then nothing is locked or checked table by table.
    """
    with engine.connect() as conn:
        if _complete(conn, [*Base.metadata.tables.values(), *also]):
            return
    with engine.connect() as conn:
        conn = conn.execution_options(hashmon_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            earlier = _has_index(conn, _FIRST_SCHEMA_INDEX)
            Base.metadata.create_all(conn)
            for table in also:
                table.create(conn, checkfirst=True)
            if earlier:
                _upgrade_first_schema(conn)
            _add_missing_columns(conn)


# columns added to tables after their first release: (table, column, SQL type)
_LATER_COLUMNS = (
    ("posts", "gone_at", "VARCHAR(32)"),
    ("posts", "gone_reason", "VARCHAR(16)"),
    ("authors", "verified", "BOOLEAN"),
    ("posts", "retweeted_id", "VARCHAR(64)"),
)


def _add_missing_columns(conn: Connection) -> None:
    """Add the nullable columns a database written by an earlier hashmon lacks."""
    for table, column, sql_type in _LATER_COLUMNS:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type}"))
            continue
        have = {row[1] for row in conn.execute(text(f"PRAGMA table_info({table})"))}
        if column not in have:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))


_FIRST_SCHEMA_INDEX = "ix_posts_created_at_us"  # the first release's; upgraded away


def _complete(conn: Connection, tables: Sequence[Table]) -> bool:
    """Return True if every column and index of ``tables`` is in the database and nothing
    of the first schema is left to upgrade: then there is nothing to create or add."""
    if conn.dialect.name == "postgresql":
        columns = conn.execute(
            text(
                "SELECT c.relname, a.attname FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
                "AND a.attnum > 0 AND NOT a.attisdropped"
            )
        )
        indexes = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        )
    else:
        columns = conn.execute(
            text(
                "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c "
                "WHERE m.type = 'table'"
            )
        )
        indexes = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
    have_columns = {(table, column) for table, column in columns}
    have_indexes = {name for (name,) in indexes}
    return (
        _FIRST_SCHEMA_INDEX not in have_indexes
        and all((t.name, c.name) in have_columns for t in tables for c in t.columns)
        and all(i.name in have_indexes for t in tables for i in t.indexes)
    )


def _has_index(conn: Connection, name: str) -> bool:
    if conn.dialect.name == "postgresql":
        sql = "SELECT to_regclass(:name) IS NOT NULL"
    else:
        sql = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name)"
    return bool(conn.execute(text(sql), {"name": name}).scalar())


def _upgrade_first_schema(conn: Connection) -> None:
    """Bring a database written before the covering index up to date (known by the old one).

    It kept no author row for posts whose page carried no user object, and indexed
    ``created_at_us`` alone, which ``ix_posts_created_at_author`` now covers.
    """
    conn.execute(
        text(
            "INSERT INTO authors (platform, id, updated_at) "
            "SELECT DISTINCT platform, author_id, :now FROM posts WHERE author_id IS NOT NULL "
            "ON CONFLICT (platform, id) DO NOTHING"
        ),
        {"now": now_text()},
    )
    conn.execute(text("DROP INDEX IF EXISTS ix_posts_created_at_us"))
    for index in Post.__table__.indexes:
        index.create(conn, checkfirst=True)

"""Storage: schema, engine, batched upserts, runs and checkpoints (SQLite or PostgreSQL).

Hot paths write through the DBAPI cursor with tuples (``exec_driver_sql``): no ORM
object per row. A post's ``created_at_us`` is UTC epoch microseconds, so local days are
integer arithmetic in identical SQL on both databases; bookkeeping timestamps (runs,
sightings) are fixed-width UTC ISO text, which sorts as it reads.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.errors import ConfigError, DatabaseError
from monitor.normalize import AuthorRecord, PostRecord
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


# --- engine -----------------------------------------------------------------------------


def display_url(url: str) -> str:
    """Return the URL with any password masked, safe to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "(unparseable URL)"


def _normalised_url(url: str):
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(
            "bad database URL: expected e.g. sqlite:///hashmon.db or "
            "postgresql+psycopg://user@host:5432/dbname (--database, HASHMON_DATABASE_URL "
            "or [database] url)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise ConfigError(
                f"database driver {parsed.drivername} is not supported; use postgresql+psycopg://"
            )
    elif backend != "sqlite":
        raise ConfigError(
            f"database {backend!r} is not supported; use sqlite:///FILE or postgresql+psycopg://"
        )
    return parsed


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Return an engine for ``url`` with the schema in place.

    SQLite gets WAL and a busy timeout; transactions on SQLite begin with
    ``BEGIN IMMEDIATE`` when a connection asks to write (see ``writing``). Raises
    ConfigError for an unusable URL and DatabaseError when the database cannot be reached.
    """
    parsed = _normalised_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 60})
            _sqlite_tuning(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the driver for {parsed.drivername} is not installed ({exc.name}); "
            "install hashmon[postgres]"
        ) from None
    if create:
        try:
            create_schema(engine)
        except sa_exc.SQLAlchemyError as exc:
            raise unreachable(engine, exc) from None
    return engine


_SCHEMA_LOCK = 1001_2017  # any constant: the advisory lock that serialises schema creation


def create_schema(engine: Engine) -> None:
    """Create the tables that are missing, safely when several commands start at once.

    Two processes creating the schema together would otherwise collide: "database is
    locked" on SQLite, a duplicate type on PostgreSQL. One write transaction (BEGIN
    IMMEDIATE on SQLite, an advisory lock on PostgreSQL) makes them take turns.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(hashmon_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            earlier = _has_index(conn, "ix_posts_created_at_us")
            Base.metadata.create_all(conn)
            if earlier:
                _upgrade_first_schema(conn)


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


def unreachable(engine: Engine, exc: Exception) -> DatabaseError:
    """Return the one-line error for a database that cannot be used."""
    detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return DatabaseError(
        f"cannot use database {display_url(str(engine.url))}: {first}; "
        "check --database, HASHMON_DATABASE_URL or [database] url"
    )


_SORTER_THREADS = max(0, min((os.cpu_count() or 1) - 1, 3))


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # we issue BEGIN ourselves, so pysqlite's implicit transactions stay out of the way
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        # helper threads for SQLite's sorter: GROUP BY and ORDER BY over a week of a big
        # campaign (a report's top contributors and hashtags) ran ~25 % faster with one
        cur.execute(f"PRAGMA threads={_SORTER_THREADS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a reader turning writer could otherwise
        # fail with "database is locked" instead of waiting out the busy timeout
        immediate = conn.get_execution_options().get("hashmon_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one write transaction; commit on success, roll back on error."""
    with engine.connect() as conn:
        conn = conn.execution_options(hashmon_write=True)
        with conn.begin():
            yield conn


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """Yield a connection whose every read sees the same moment of the data.

    A report (or ``hashmon stats``) runs many queries while a collect pass may be
    committing pages: without one snapshot its days would not add up to its totals.
    PostgreSQL's default (READ COMMITTED) gives each statement a new snapshot, so the
    transaction is REPEATABLE READ; on SQLite (WAL) one transaction already is one.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@contextmanager
def snapshot_pair(engine: Engine) -> Iterator[tuple[Connection, Connection]]:
    """Yield two connections that read the same moment of the data, for two threads.

    A report's queries split into two halves that run at once on two cores. On SQLite a
    read transaction sees the data as of its first read; both start while this process
    holds the write lock for a moment (BEGIN IMMEDIATE), so no commit falls between
    them. That lock is never waited for: while another process writes, and on
    PostgreSQL, this yields one ``snapshot`` connection twice and the caller's halves
    run one after the other.
    """
    if engine.dialect.name != "sqlite":
        with snapshot(engine) as conn:
            yield conn, conn
        return
    with engine.connect() as first, engine.connect() as second:
        pinned = False
        with engine.connect() as lock:
            raw = lock.connection.driver_connection  # a PRAGMA, outside any transaction
            raw.execute("PRAGMA busy_timeout=0")
            try:
                with lock.execution_options(hashmon_write=True).begin():
                    for conn in (first, second):
                        conn.begin()
                        conn.exec_driver_sql("SELECT COUNT(*) FROM sqlite_master").scalar()
                    pinned = True
            except sa_exc.OperationalError:
                pass  # someone is writing: no second snapshot
            finally:
                raw.execute("PRAGMA busy_timeout=60000")
        if not pinned:
            for conn in (first, second):
                if conn.in_transaction():
                    conn.rollback()
            with first.begin():
                yield first, first
            return
        try:
            yield first, second
        finally:
            first.rollback()
            second.rollback()


def stream_rows(
    conn: Connection, sql: str, params: dict[str, Any], size: int
) -> Iterator[list[tuple]]:
    """Yield the rows of a read query as lists of at most ``size`` plain tuples.

    For results too long to hold, read in the caller's transaction: SQLite steps through
    the result as it is fetched, PostgreSQL gets a server-side cursor. The DBAPI cursor is
    read directly: a SQLAlchemy Row per row cost as much as the query itself over a
    million rows (docs/PERFORMANCE.md). ``sql`` names its parameters ``:name``.
    """
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
        cur = raw.cursor(name="hashmon_stream")
        cur.itersize = size
    else:
        cur = raw.cursor()
    try:
        cur.execute(sql, params)
        while batch := cur.fetchmany(size):
            yield batch
    finally:
        cur.close()


# --- batched writes ---------------------------------------------------------------------
#
# The write path of every sighting (import, collect, refresh), measured in
# docs/PERFORMANCE.md. SQLite takes each statement once with ``executemany`` over tuples:
# an upsert applies sightings of the same post one after another, in order, as METRICS.md
# wants. PostgreSQL gets each batch's rows by COPY into temporary tables, then one upsert
# a table; one INSERT cannot touch a row twice, so posts and authors are first merged per
# key following the same rules.


def _placeholders(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


_POST_COLUMNS = PostRecord._fields
_POST_EXTRA = ("first_seen_at", "last_seen_at", "first_run_id", "sightings")
_OBSERVATION_COLUMNS = ("platform", "post_id", "run_id", "observed_at") + METRIC_COLUMNS
_AUTHOR_COLUMNS = AuthorRecord._fields + ("updated_at",)
# first-sighting fields are never touched again; a count missing from a later sighting is
# unknown, not zero, so it keeps the value it had
_COUNT_UPDATES = ", ".join(f"{c} = COALESCE(excluded.{c}, posts.{c})" for c in METRIC_COLUMNS)
_AUTHOR_UPDATES = (
    "username = COALESCE(excluded.username, authors.username), "
    "name = COALESCE(excluded.name, authors.name), "
    "followers_count = COALESCE(excluded.followers_count, authors.followers_count), "
    "updated_at = excluded.updated_at"
)
# PostgreSQL types of a batch's columns, for its staging tables
_PG_POST_TYPES = (
    "text", "text", "text", "bigint", "text", "text", "text", "text", "bigint",
    "bigint", "bigint", "bigint", "bigint", "bigint", "integer",
)  # fmt: skip
_PG_AUTHOR_TYPES = ("text", "text", "text", "text", "bigint")


def _upsert_posts_sql(conn: Connection) -> str:
    cols = _POST_COLUMNS + _POST_EXTRA
    return (
        f"INSERT INTO posts ({', '.join(cols)}) VALUES ({_placeholders(conn, len(cols))}) "
        f"ON CONFLICT (platform, id) DO UPDATE SET {_COUNT_UPDATES}, "
        "last_seen_at = excluded.last_seen_at, sightings = posts.sightings + 1"
    )


def _upsert_authors_sql(conn: Connection) -> str:
    return (
        f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) "
        f"VALUES ({_placeholders(conn, len(_AUTHOR_COLUMNS))}) "
        f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}"
    )


def _insert_observations_sql(conn: Connection) -> str:
    return (
        f"INSERT INTO observations ({', '.join(_OBSERVATION_COLUMNS)}) "
        f"VALUES ({_placeholders(conn, len(_OBSERVATION_COLUMNS))})"
    )


def _pg_stage(name: str, columns: Sequence[str], types: Sequence[str]) -> str:
    cols = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    # temporary: per session, never logged; emptied at commit, and before each batch
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({cols}) ON COMMIT DELETE ROWS"


_PG_STAGE_POSTS = _pg_stage("hashmon_stage_posts", (*_POST_COLUMNS, "n"), _PG_POST_TYPES)
_PG_STAGE_AUTHORS = _pg_stage("hashmon_stage_authors", AuthorRecord._fields, _PG_AUTHOR_TYPES)
_PG_UPSERT_POSTS = (
    f"INSERT INTO posts ({', '.join(_POST_COLUMNS + _POST_EXTRA)}) "
    f"SELECT {', '.join(_POST_COLUMNS)}, %s, %s, %s, n FROM hashmon_stage_posts "
    f"ON CONFLICT (platform, id) DO UPDATE SET {_COUNT_UPDATES}, "
    "last_seen_at = excluded.last_seen_at, sightings = posts.sightings + excluded.sightings "
    "RETURNING platform, id, sightings"
)
_PG_UPSERT_AUTHORS = (
    f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) "
    f"SELECT {', '.join(AuthorRecord._fields)}, %s FROM hashmon_stage_authors "
    f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}"
)
# COPY stores rows in the order sent, so ``seq`` numbers sightings in the order made
_PG_COPY_OBSERVATIONS = f"COPY observations ({', '.join(_OBSERVATION_COLUMNS)}) FROM STDIN"


def merge_sightings(posts: Sequence[PostRecord]) -> dict[tuple[str, str], list[Any]]:
    """Return one row per post of a batch, as the batch's sightings in order would leave it.

    Row: the PostRecord's columns, then the number of sightings. Content and
    ``author_followers`` come from the post's first sighting in the batch, each count
    from the latest sighting that reports it (None: none did), as METRICS.md rules.
    """
    merged: dict[tuple[str, str], list[Any]] = {}
    for p in posts:
        key = (p[0], p[1])
        row = merged.get(key)
        if row is None:
            merged[key] = [*p, 1]
            continue
        for i in range(9, 14):  # the five counts
            if p[i] is not None:
                row[i] = p[i]
        row[14] += 1
    return merged


def _merged_authors(authors: Sequence[AuthorRecord]) -> dict[tuple[str, str], list[Any]]:
    merged: dict[tuple[str, str], list[Any]] = {}
    for a in authors:
        key = (a[0], a[1])
        row = merged.get(key)
        if row is None:
            merged[key] = list(a)
            continue
        for i in (2, 3, 4):
            if a[i] is not None:
                row[i] = a[i]
    return merged


def merge_authors(authors: Sequence[AuthorRecord]) -> list[list[Any]]:
    """Return one row per author, each field as last seen (None: never seen), sorted by key.

    The same as upserting the records in order, with fewer rows; in key order, so the
    b-tree is walked forward instead of at random.
    """
    merged = _merged_authors(authors)
    return [merged[k] for k in sorted(merged)]


def store_batch(
    conn: Connection,
    posts: Sequence[PostRecord],
    authors: Sequence[AuthorRecord],
    *,
    run_id: int | None,
    seen_at: str,
) -> tuple[int, int]:
    """Upsert one batch of sightings in order; return (new posts, already-stored posts seen).

    Sightings are applied in the order given, so the latest one's counts win; each is also
    one observation. A post seen twice in the batch and not stored before counts once as
    new and once as already stored. The caller owns the transaction.
    """
    if not posts and not authors:
        return 0, 0
    if conn.dialect.name == "postgresql":
        return _store_batch_pg(conn, posts, authors, run_id=run_id, seen_at=seen_at)
    new = 0
    if posts:
        # rowids of new rows are larger than any before them, and this transaction is the
        # only writer (BEGIN IMMEDIATE): counting them replaces a lookup of every id
        before = conn.exec_driver_sql("SELECT MAX(rowid) FROM posts").scalar() or 0
        conn.exec_driver_sql(
            _upsert_posts_sql(conn), [(*p, seen_at, seen_at, run_id, 1) for p in posts]
        )
        new = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM posts WHERE rowid > ?", (before,)
        ).scalar_one()
        conn.exec_driver_sql(
            _insert_observations_sql(conn),
            [(p[0], p[1], run_id, seen_at, p[9], p[10], p[11], p[12], p[13]) for p in posts],
        )
    if authors:
        conn.exec_driver_sql(
            _upsert_authors_sql(conn), [(*a, seen_at) for a in merge_authors(authors)]
        )
    return new, len(posts) - new


def _store_batch_pg(
    conn: Connection,
    posts: Sequence[PostRecord],
    authors: Sequence[AuthorRecord],
    *,
    run_id: int | None,
    seen_at: str,
) -> tuple[int, int]:
    """store_batch on PostgreSQL: rows by COPY, one upsert statement a table.

    COPY (psycopg's C row writer) into temporary tables, then ``INSERT .. SELECT .. ON
    CONFLICT`` from them: a 1M-post import ran at ~12k posts/s with a statement per row's
    arrays, and COPY sends the same rows for a fraction of the client's time.
    """
    new = 0
    raw = conn.connection.driver_connection  # COPY is psycopg's, not the DBAPI's
    try:
        with raw.cursor() as cur:
            if posts:
                merged = merge_sightings(posts)
                cur.execute(_PG_STAGE_POSTS)
                cur.execute("TRUNCATE hashmon_stage_posts")
                with cur.copy("COPY hashmon_stage_posts FROM STDIN") as copy:
                    for row in merged.values():
                        copy.write_row(row)
                cur.execute(_PG_UPSERT_POSTS, (seen_at, seen_at, run_id))
                # a row inserted now holds exactly this batch's sightings; one stored before
                # holds more (sightings start at 1), so RETURNING tells new from updated
                new = sum(1 for p, i, n in cur.fetchall() if merged[(p, i)][14] == n)
                with cur.copy(_PG_COPY_OBSERVATIONS) as copy:
                    for p in posts:
                        copy.write_row(
                            (p[0], p[1], run_id, seen_at, p[9], p[10], p[11], p[12], p[13])
                        )
            if authors:
                cur.execute(_PG_STAGE_AUTHORS)
                cur.execute("TRUNCATE hashmon_stage_authors")
                with cur.copy("COPY hashmon_stage_authors FROM STDIN") as copy:
                    for row in merge_authors(authors):
                        copy.write_row(row)
                cur.execute(_PG_UPSERT_AUTHORS, (seen_at,))
    except conn.dialect.loaded_dbapi.Error as exc:
        # the same error SQLAlchemy would raise, so callers see one kind of failure
        raise sa_exc.DBAPIError.instance(
            None, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    return new, len(posts) - new


class ImportWriter:
    """Writes the batches of one long write transaction (an import): store_batch, faster.

    Posts and observations go in batch by batch, as store_batch writes them. On SQLite,
    author sightings are appended to a temporary table instead, and ``finish`` applies
    them all in one statement, sorted by key and then by the order they were seen: the
    same rows as upserting them in order, without a seek to a random key per sighting,
    which cost a fifth of a million-post import (docs/PERFORMANCE.md). On PostgreSQL each
    batch is store_batch. Call ``finish`` before the transaction commits.
    """

    _STAGE = "temp.hashmon_author_sightings"
    REMEMBER_AUTHORS = 50_000  # last staged sighting of the most recent authors (~15 MB)

    def __init__(self, conn: Connection, *, run_id: int | None, seen_at: str) -> None:
        self.conn = conn
        self.run_id = run_id
        self.seen_at = seen_at
        self.staging = conn.dialect.name == "sqlite"
        # sightings a batch: SQLite gained nothing past 2,000; PostgreSQL pays a round trip
        # a statement: a 1M-post import took 31 s at 10,000, 28.6 s at 25,000, 25.8 s at
        # 50,000 (but 146 MB peak RSS); 40,000 keeps it under ~135 MB
        self.batch_posts = 2_000 if self.staging else 40_000
        self._last_staged: OrderedDict[tuple[str, str], AuthorRecord] = OrderedDict()
        if self.staging:
            # temp tables belong to the connection, so clear what a failed import left
            conn.exec_driver_sql(
                "CREATE TEMP TABLE IF NOT EXISTS hashmon_author_sightings "
                "(platform TEXT, id TEXT, username TEXT, name TEXT, followers_count INTEGER)"
            )
            conn.exec_driver_sql(f"DELETE FROM {self._STAGE}")

    def write(
        self, posts: Sequence[PostRecord], authors: Sequence[AuthorRecord]
    ) -> tuple[int, int]:
        """Store one batch of sightings in order; return (new posts, already-stored posts seen)."""
        if not self.staging:
            return store_batch(self.conn, posts, authors, run_id=self.run_id, seen_at=self.seen_at)
        new, updated = store_batch(self.conn, posts, (), run_id=self.run_id, seen_at=self.seen_at)
        if authors:
            # a sighting equal to the last one staged for its author changes nothing (each
            # field is COALESCEd): active authors repeat, so most repeats need no row
            last = self._last_staged
            rows = []
            for a in authors:
                key = (a[0], a[1])
                if last.get(key) == a:
                    continue
                last[key] = a
                last.move_to_end(key)  # the least recently staged are forgotten first
                rows.append(tuple(a))  # plain tuples bind faster than NamedTuples
            while len(last) > self.REMEMBER_AUTHORS:
                last.popitem(last=False)
            if rows:
                # rowid keeps the order seen (merging a batch first saved 2 % of the rows
                # and cost more than it saved)
                self.conn.exec_driver_sql(f"INSERT INTO {self._STAGE} VALUES (?, ?, ?, ?, ?)", rows)
        return new, updated

    def forget(self) -> None:
        """Forget what was staged: call after rolling back to a savepoint within the import."""
        self._last_staged.clear()

    def finish(self) -> None:
        """Apply the staged author sightings (SQLite); nothing to do on PostgreSQL."""
        if not self.staging:
            return
        cols = ", ".join(AuthorRecord._fields)
        # WHERE true: SQLite's grammar wants it between an INSERT's SELECT and ON CONFLICT
        self.conn.exec_driver_sql(
            f"INSERT INTO authors ({cols}, updated_at) "
            f"SELECT {cols}, ? FROM {self._STAGE} WHERE true ORDER BY platform, id, rowid "
            f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}",
            (self.seen_at,),
        )
        self.conn.exec_driver_sql(f"DROP TABLE {self._STAGE}")
        self.staging = False


# --- runs and checkpoints ---------------------------------------------------------------


def start_run(conn: Connection, kind: str, started_at: str | None = None) -> int:
    """Insert a collection run in status ``running`` and return its id."""
    result = conn.execute(
        CollectionRun.__table__.insert().values(
            kind=kind,
            started_at=started_at or now_text(),
            status="running",
            requests=0,
            pages=0,
            posts_read=0,
            posts_new=0,
            posts_updated=0,
            errors=0,
        )
    )
    return int(result.inserted_primary_key[0])


def finish_run(conn: Connection, run_id: int, status: str, **counts: Any) -> None:
    """Close a run with its final status and counts."""
    conn.execute(
        CollectionRun.__table__.update()
        .where(CollectionRun.id == run_id)
        .values(status=status, finished_at=counts.pop("finished_at", None) or now_text(), **counts)
    )


def stored_counts(conn: Connection) -> dict[str, int]:
    """Return stored posts and the distinct authors of stored posts (METRICS.md ``stored``).

    Every post's author has a row in ``authors`` (``normalize`` gives one even when the
    page carried no user object) and posts are never deleted, so counting that table
    equals COUNT(DISTINCT author_id) over posts, without a sort of every post.
    """
    posts = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    authors = conn.execute(text("SELECT COUNT(*) FROM authors")).scalar_one()
    return {"posts": int(posts), "authors": int(authors)}

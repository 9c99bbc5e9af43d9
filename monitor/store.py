"""Storage: schema, engine, batched upserts, runs and checkpoints (SQLite or PostgreSQL).

Hot paths write through the DBAPI cursor with tuples (``exec_driver_sql``): no ORM
object per row. A post's ``created_at_us`` is UTC epoch microseconds, so local days are
integer arithmetic in identical SQL on both databases; bookkeeping timestamps (runs,
sightings) are fixed-width UTC ISO text, which sorts as it reads.
"""

from __future__ import annotations

import datetime as dt
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
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.errors import ConfigError, DatabaseError
from monitor.normalize import AuthorRecord, PostRecord, utc_text


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

    # created_at grows nearly monotonically, so this index is cheap to keep while ingesting
    __table_args__ = (Index("ix_posts_created_at_us", "created_at_us"),)


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


def now_text() -> str:
    return utc_text(dt.datetime.now(dt.UTC))


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
            Base.metadata.create_all(engine)
        except sa_exc.SQLAlchemyError as exc:
            raise unreachable(engine, exc) from None
    return engine


def unreachable(engine: Engine, exc: Exception) -> DatabaseError:
    """Return the one-line error for a database that cannot be used."""
    detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return DatabaseError(
        f"cannot use database {display_url(str(engine.url))}: {first}; "
        "check --database, HASHMON_DATABASE_URL or [database] url"
    )


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # we issue BEGIN ourselves, so pysqlite's implicit transactions stay out of the way
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
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


# --- batched writes ---------------------------------------------------------------------


def _placeholders(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


_POST_COLUMNS = PostRecord._fields
_POST_EXTRA = ("first_seen_at", "last_seen_at", "first_run_id", "sightings")


def _upsert_posts_sql(conn: Connection) -> str:
    cols = _POST_COLUMNS + _POST_EXTRA
    # first-sighting fields are never touched again; a count missing from a later
    # sighting is unknown, not zero, so it keeps the value it had
    updates = ", ".join(f"{c} = COALESCE(excluded.{c}, posts.{c})" for c in METRIC_COLUMNS)
    return (
        f"INSERT INTO posts ({', '.join(cols)}) VALUES ({_placeholders(conn, len(cols))}) "
        f"ON CONFLICT (platform, id) DO UPDATE SET {updates}, "
        "last_seen_at = excluded.last_seen_at, sightings = posts.sightings + 1"
    )


def _upsert_authors_sql(conn: Connection) -> str:
    cols = AuthorRecord._fields + ("updated_at",)
    return (
        f"INSERT INTO authors ({', '.join(cols)}) VALUES ({_placeholders(conn, len(cols))}) "
        "ON CONFLICT (platform, id) DO UPDATE SET "
        "username = COALESCE(excluded.username, authors.username), "
        "name = COALESCE(excluded.name, authors.name), "
        "followers_count = COALESCE(excluded.followers_count, authors.followers_count), "
        "updated_at = excluded.updated_at"
    )


def _insert_observations_sql(conn: Connection) -> str:
    cols = ("platform", "post_id", "run_id", "observed_at") + METRIC_COLUMNS
    return f"INSERT INTO observations ({', '.join(cols)}) VALUES ({_placeholders(conn, len(cols))})"


def existing_post_ids(conn: Connection, platform: str, ids: Sequence[str]) -> set[str]:
    """Return which of ``ids`` are already stored."""
    found: set[str] = set()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows = conn.execute(
            select(Post.id).where(Post.platform == platform, Post.id.in_(chunk))
        ).scalars()
        found.update(rows)
    return found


def store_batch(
    conn: Connection,
    posts: Sequence[PostRecord],
    authors: Sequence[AuthorRecord],
    *,
    run_id: int | None,
    seen_at: str,
) -> tuple[int, int]:
    """Upsert one batch of sightings in order; return (new posts, already-stored posts seen).

    Sightings are applied in the order given, so the latest one's counts win. The
    caller owns the transaction.
    """
    if not posts and not authors:
        return 0, 0
    new = updated = 0
    if posts:
        by_platform: dict[str, list[str]] = {}
        for p in posts:
            by_platform.setdefault(p.platform, []).append(p.id)
        known: set[tuple[str, str]] = set()
        for platform, ids in by_platform.items():
            known.update((platform, i) for i in existing_post_ids(conn, platform, ids))
        seen: set[tuple[str, str]] = set()
        for p in posts:
            key = (p.platform, p.id)
            if key in known or key in seen:
                updated += 1
            else:
                new += 1
            seen.add(key)
        conn.exec_driver_sql(
            _upsert_posts_sql(conn), [(*p, seen_at, seen_at, run_id, 1) for p in posts]
        )
        conn.exec_driver_sql(
            _insert_observations_sql(conn),
            [(p.platform, p.id, run_id, seen_at, *p[-5:]) for p in posts],
        )
    if authors:
        conn.exec_driver_sql(_upsert_authors_sql(conn), [(*a, seen_at) for a in authors])
    return new, updated


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
    """Return stored posts and the distinct authors of stored posts (METRICS.md ``stored``)."""
    row = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT author_id) FROM posts")).one()
    return {"posts": int(row[0]), "authors": int(row[1])}

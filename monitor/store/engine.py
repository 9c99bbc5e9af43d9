"""The database engine: URLs, SQLite tuning, write transactions, snapshots, streaming reads.

SQLite runs in WAL mode, and a connection that asks to write begins with ``BEGIN
IMMEDIATE`` (``writing``); reports read one moment of the data (``snapshot``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url

from monitor.errors import ConfigError, DatabaseError
from monitor.store.schema import create_schema

# query parameters of a database URL that can carry a credential (libpq's password,
# sslpassword, a token of a cloud IAM plugin ...)
_SECRET_PARAM = re.compile(r"(?i)pass|secret|token|key|credential")
MASK = "***"


def _split_secrets(url: str) -> tuple[str, list[str]]:
    """Return ``url`` with every secret masked, and the secrets (raw and decoded) found.

    Read as text, not with SQLAlchemy's parser: a password holding an unescaped ``@``
    parses as part of the host there, and would be shown. Everything between ``://``
    and the last ``@`` but the user name is the password; a query parameter named like
    a secret (``?password=``) is one too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, []
    secrets: list[str] = []
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        user, colon, password = userinfo.partition(":")
        if colon or "@" in userinfo:
            secrets += [password or userinfo, *re.split(r"[@:/]", userinfo)[1:]]
            shown_user = user if colon and "@" not in user else ""
            rest = (f"{shown_user}:" if shown_user else "") + MASK + rest[at:]
    head, question, query = rest.partition("?")
    if question:
        params = []
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            if eq and _SECRET_PARAM.search(unquote(key)):
                secrets.append(value)
                pair = f"{key}={MASK}"
            params.append(pair)
        rest = head + "?" + "&".join(params)
    found = [v for s in secrets if len(s) >= 2 for v in {s, unquote(s)}]
    return f"{scheme}://{rest}", sorted(set(found), key=len, reverse=True)


def display_url(url: str) -> str:
    """Return the URL with every part that can hold a secret masked, safe to print."""
    return _split_secrets(url)[0]


def url_has_secret(url: str) -> bool:
    """Return True when the URL holds a password or a secret-like query parameter."""
    return bool(_split_secrets(url)[1]) or display_url(url) != url


def scrub(text: str, url: str) -> str:
    """Return ``text`` (a driver's error) with every secret of ``url`` masked."""
    for secret in _split_secrets(url)[1]:
        text = text.replace(secret, MASK)
    return text


def _normalised_url(url: str):
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(
            "bad database URL: expected e.g. sqlite:///hashmon.db or "
            "postgresql+psycopg://user@host:5432/dbname (--database, HASHMON_DATABASE_URL "
            "or [database] url)"
        ) from None
    if parsed.drivername.split("+")[0] == "postgres":
        # the short scheme of libpq, Heroku and many hosts: the same database
        parsed = parsed.set(drivername=parsed.drivername.replace("postgres", "postgresql", 1))
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
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
            raise unreachable(engine, exc, url) from None
    return engine


def unreachable(engine: Engine, exc: Exception, url: str | None = None) -> DatabaseError:
    """Return the one-line error for a database that cannot be used, secrets masked.

    ``url`` is the URL as given: a resolver error about a password's unescaped ``@``
    quotes its tail as a host name, which the parsed ``engine.url`` no longer marks.
    """
    raw = url or engine.url.render_as_string(hide_password=False)
    detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first = scrub(detail[0] if detail else type(exc).__name__, raw)
    return DatabaseError(
        f"cannot use database {display_url(raw)}: {first}; "
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
        # erased text (deleted posts, METRICS.md) is overwritten, not left in free space
        cur.execute("PRAGMA secure_delete=ON")
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

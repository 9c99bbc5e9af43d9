"""Shared fixtures: a real SQLite file and a real PostgreSQL database for store tests.

PostgreSQL tests use a database of their own per test process, so parallel runs never
collide. Locally a missing server skips them with the reason; with CI=true they fail.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import StaticPool

from monitor.store.engine import make_engine
from monitor.store.schema import create_schema

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN_URL = os.environ.get(
    "HASHMON_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_pg_url: str | None = None
_pg_shape: frozenset[tuple[str, ...]] | None = None  # hashmon's schema, as created

# Property tests take their example counts from a profile: "default" (make test, CI),
# "quick" (make quick sets HASHMON_HYPOTHESIS=quick), "long" (HASHMON_LONG=1, 5x).
settings.register_profile("default", max_examples=50)
settings.register_profile("quick", max_examples=10)
settings.register_profile("long", max_examples=250)
settings.load_profile(
    "long"
    if os.environ.get("HASHMON_LONG") == "1"
    else os.environ.get("HASHMON_HYPOTHESIS", "default")
)


def _pg_database_url() -> str:
    """Create (once per process) a scratch database and return its URL."""
    global _pg_url
    if _pg_url is None:
        name = f"hashmon_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL is required in CI and unreachable: {exc}")
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
        finally:
            admin.dispose()
        _pg_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    return _pg_url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_engine is not None:
        _pg_engine.dispose()
    if _pg_url is None:
        return
    name = _pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def make_db_url(kind: str, tmp_path: Path) -> str:
    """Return the URL of an empty database of ``kind`` ("sqlite" or "postgresql").

    On PostgreSQL the test process's one database is emptied: when its tables are exactly
    hashmon's (no test changed them), by deleting their rows and restarting their
    sequences; otherwise its schema is dropped and created again. Either way it holds
    hashmon's tables, empty, and nothing else.
    """
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hashmon.db'}"
    global _pg_shape
    url = _pg_database_url()
    engine = _pg_keeper(url)
    with engine.begin() as conn:
        if _pg_shape is not None and _shape(conn) == _pg_shape:
            # DELETE, not TRUNCATE: a TRUNCATE gives each table new files and, at commit,
            # scans all of PostgreSQL's shared buffers once per file it drops (~50 ms of
            # the server's CPU for these few small tables, against under 1 ms)
            for table in sorted({row[0] for row in _pg_shape}):  # the shape names them
                conn.execute(text(f'DELETE FROM "{table}"'))
            for (sequence,) in conn.execute(text(_SEQUENCES)):
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
            return url
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    create_schema(engine)
    with engine.connect() as conn:
        _pg_shape = _shape(conn)
    return url


_SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
_pg_engine: Engine | None = None


def _pg_keeper(url: str) -> Engine:
    """Return the engine that empties the test process's database: one connection, kept
    open from test to test (a new server process per test costs more than the reset)."""
    global _pg_engine
    if _pg_engine is None:
        _pg_engine = create_engine(url, poolclass=StaticPool, pool_pre_ping=True)
    return _pg_engine


def _shape(conn: Connection) -> frozenset[tuple[str, ...]]:
    """Return the tables, columns and indexes of the public schema (read from pg_catalog:
    information_schema's views cost several times as much)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
            "a.attnotnull::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
            "AND a.attnum > 0 AND NOT a.attisdropped "
            "UNION ALL SELECT tablename, indexname, indexdef, '' "
            "FROM pg_indexes WHERE schemaname = 'public'"
        )
    )
    return frozenset(tuple(r) for r in rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once on SQLite and once on PostgreSQL."""
    return make_db_url(request.param, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine with the schema created, on SQLite and on PostgreSQL."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return make_db_url("sqlite", tmp_path)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def fixture_path() -> Path:
    return FIXTURES


@pytest.fixture
def copy_fixture(tmp_path: Path):
    """Copy a file from tests/fixtures into tmp_path and return the copy's path."""

    def _copy(relative: str) -> Path:
        dest = tmp_path / Path(relative).name
        shutil.copy(FIXTURES / relative, dest)
        return dest

    return _copy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow tests first: spread over the pytest-xdist workers while the many short
    ones are left to even out the end, so no worker ends long after the other."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the garbage collector off what every test shares: the modules, fixtures and
    collected tests (frozen), and let it run less often. The reports' tests make many
    short-lived objects; with the default threshold the collector's passes over this
    process's heap took about 3 % of the suite's CPU time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)

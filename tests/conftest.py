"""Shared fixtures: a real SQLite file and a real PostgreSQL database for store tests.

PostgreSQL tests use a database of their own per test process, so parallel runs never
collide. Locally a missing server skips them with the reason; with CI=true they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Connection, Engine, create_engine, text

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
    hashmon's (no test changed them), by one TRUNCATE; otherwise its schema is dropped
    and created again. Either way it holds hashmon's tables, empty, and nothing else.
    """
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hashmon.db'}"
    global _pg_shape
    url = _pg_database_url()
    engine = make_engine(url, create=False)
    try:
        with engine.begin() as conn:
            if _pg_shape is not None and _shape(conn) == _pg_shape:
                # the tables there (a table created on first use may not be yet)
                there = {row[0] for row in _pg_shape}
                tables = ", ".join(f'"{name}"' for name in sorted(there))
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                return url
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        create_schema(engine)
        with engine.connect() as conn:
            _pg_shape = _shape(conn)
    finally:
        engine.dispose()
    return url


def _shape(conn: Connection) -> frozenset[tuple[str, ...]]:
    """Return the tables, columns and indexes of the public schema."""
    columns = conn.execute(
        text(
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'public'"
        )
    )
    indexes = conn.execute(
        text("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    )
    return frozenset(tuple(r) for r in columns) | frozenset(tuple(r) for r in indexes)


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

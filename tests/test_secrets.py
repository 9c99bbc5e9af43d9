"""The bearer token is never printed, logged or stored, at any verbosity."""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, inspect, text

from jobs import passes
from jobs.logs import setup_logging
from jobs.schedule import build_scheduler
from jobs.status import format_status, status_object
from monitor.errors import SourceError
from monitor.settings import Settings
from monitor.sources.x import TOKEN_ENV, XSource
from tests.xapi import TOKEN, UNAUTHORIZED, FakeX, faked_x

FORMS = (TOKEN, unquote(TOKEN), f"Bearer {TOKEN}")


@pytest.fixture
def debug_logging(capfd):
    """``-vv`` logging on the root logger, put back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging(2)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def fake():
    with faked_x() as fx:
        yield fx


def assert_clean(output: str) -> None:
    for form in FORMS:
        assert form not in output


@pytest.mark.parametrize("from_env", [True, False], ids=["env", "argument"])
def test_debug_logs_of_a_search_never_show_the_token(
    capfd, debug_logging, fake: FakeX, monkeypatch, from_env: bool
) -> None:
    # capfd first: the log handler must be made while stderr is being captured
    if from_env:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        source = XSource(Settings(), sleep=lambda s: None)
    else:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
        source = XSource(Settings(), TOKEN, sleep=lambda s: None)
    fake.fail(2, 503)
    list(source.search())
    fake.fail(len(fake.calls) + 1, (401, UNAUTHORIZED))
    with pytest.raises(SourceError) as err:
        list(source.search())
    logging.getLogger("hashmon").error("%s", err.value)
    out, errors = capfd.readouterr()
    # tweepy did log its request headers at DEBUG: the filter redacted them
    assert "Making API request" in errors and "Authorization" in errors
    assert "[redacted]" in errors
    assert_clean(out + errors + str(err.value) + repr(source))


def test_no_table_of_the_database_holds_the_token(engine: Engine, fake: FakeX, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = Settings()
    passes.collect(settings, engine)  # the source is built from the environment
    fake.fail(len(fake.calls) + 1, (401, UNAUTHORIZED))
    with pytest.raises(SourceError):
        passes.collect(settings, engine)  # a failure message is stored too
    scheduler = build_scheduler(settings, engine, scheduler_class=BackgroundScheduler)
    scheduler.start(paused=True)  # writes the jobs, pickled, into apscheduler_jobs
    scheduler.shutdown(wait=False)

    tables = inspect(engine).get_table_names()
    assert {"apscheduler_jobs", "collection_runs", "posts", "leases"} <= set(tables)
    with engine.connect() as conn:
        for table in tables:
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        assert all(f.encode() not in bytes(value) for f in FORMS), table
                    elif isinstance(value, str):
                        assert_clean(value)
        runs = conn.execute(text("SELECT status, message FROM collection_runs")).all()
    assert [r[0] for r in runs] == ["ok", "failed"] and TOKEN_ENV in runs[1][1]


def test_status_says_whether_the_token_is_set_never_what_it_is(engine: Engine, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    obj = status_object(Settings(), engine)
    assert obj["source"] == {"kind": "x", "token": "set", "token_variable": TOKEN_ENV}
    assert_clean(json.dumps(obj) + "\n".join(format_status(obj)))

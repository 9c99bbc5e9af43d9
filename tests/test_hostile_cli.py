"""What a careless setting or a hostile server can make the command line show or store:
a database password (in the URL's user part or its query string), escape sequences
from a server replayed by ``status``, and a demo run into a folder of real reports.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import unicodedata
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from sqlalchemy import text

from jobs.cli import cli
from jobs.inert import inert, inert_json
from jobs.schedule import JOBSTORE_TABLE, build_scheduler, job_arguments
from monitor.config import DATABASE_ENV
from monitor.errors import DatabaseError
from monitor.settings import Database, Settings
from monitor.store.engine import display_url, make_engine, url_has_secret
from reports.html import SIMULATED_MARK, real_reports
from tests.conftest import make_db_url
from tests.harness import fails, isolated  # noqa: F401 - isolated: an autouse fixture
from tests.test_hostile_server import HostileServer
from tests.xapi import TOKEN

SECRET = "hunter2-Sekrit"


# --- (7) a database password is never printed or stored ---------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:topsecret@db:5432/h", "postgresql://me:***@db:5432/h"),
        ("postgresql://me@db/h?password=topsecret", "postgresql://me@db/h?password=***"),
        (
            "postgresql://me@db/h?sslmode=require&sslpassword=topsecret",
            "postgresql://me@db/h?sslmode=require&sslpassword=***",
        ),
        ("postgresql://me:top@secret@db/h", "postgresql://me:***@db/h"),  # unescaped @
        ("postgresql://me:top%40secret@db/h", "postgresql://me:***@db/h"),
        (
            "postgresql://top:secret@db/h?PASSWORD=topsecret",
            "postgresql://top:***@db/h?PASSWORD=***",
        ),
    ],
)
def test_every_part_of_a_database_url_that_can_hold_a_secret_is_masked(
    url: str, shown: str
) -> None:
    assert display_url(url) == shown
    assert "topsecret" not in display_url(url) and "secret@" not in display_url(url)
    assert url_has_secret(url)


def test_a_url_without_secrets_is_shown_as_given() -> None:
    for url in ("sqlite:///hashmon.db", "postgresql+psycopg://me@db:5432/h?sslmode=require"):
        assert display_url(url) == url and not url_has_secret(url)


def test_an_unescaped_at_in_a_password_never_leaks_its_tail_in_the_resolver_error() -> None:
    url = f"postgresql+psycopg://me:pw@{SECRET}@nohost.invalid/h"
    with pytest.raises(DatabaseError) as err:
        make_engine(url)
    message = str(err.value)
    assert SECRET not in message and "pw@" not in message
    assert "nohost.invalid" in message and "\n" not in message


def test_a_password_in_the_query_string_is_never_in_a_connection_error() -> None:
    with pytest.raises(DatabaseError) as err:
        make_engine(f"postgresql+psycopg://me@127.0.0.1:1/h?password={SECRET}")
    assert SECRET not in str(err.value) and "password=***" in str(err.value)


def test_init_and_status_never_print_a_password_given_in_the_query_string(
    tmp_path: Path, monkeypatch
) -> None:
    """PostgreSQL here trusts local connections, so the URL works and the password is idle."""
    url = make_db_url("postgresql", tmp_path) + f"?password={SECRET}"
    out = []
    for args in (["init"], ["status"], ["status", "--json"]):
        result = CliRunner().invoke(cli, ["--database", url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.stdout
        out.append(result.stdout)
    assert all(SECRET not in o for o in out)
    assert "password=***" in out[0] and "password=***" in out[1]
    assert json.loads(out[2])["database"].endswith("?password=***")


def test_the_scheduler_job_store_never_holds_a_password_given_in_the_query_string(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    url = make_db_url("postgresql", tmp_path) + f"?password={SECRET}"
    settings = Settings(database=Database(url=url))
    assert job_arguments(settings)[1] is None  # the jobs read it from the environment
    assert os.environ[DATABASE_ENV] == url
    engine = make_engine(url)
    scheduler = build_scheduler(
        settings,
        engine,
        scheduler_class=BackgroundScheduler,
        now=dt.datetime(2017, 6, 12, 8, tzinfo=settings.campaign.tz),
    )
    scheduler.start(paused=True)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text(f"SELECT job_state FROM {JOBSTORE_TABLE}")).scalars().all()
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()
    assert stored  # the jobs are there, pickled ...
    assert all(SECRET.encode() not in bytes(state) for state in stored)  # ... without it


# --- (13) escape sequences from outside never reach the terminal ------------------------

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil"


def test_the_filter_drops_every_control_and_keeps_the_text() -> None:
    assert inert(f"a{ESCAPES}\nb") == "a]0;pwned[2J31mevil b"
    assert json.loads(inert_json(json.dumps({"x": ESCAPES}, ensure_ascii=False))) == {"x": ESCAPES}
    assert "\x9b" not in inert_json(json.dumps({"x": ESCAPES}, ensure_ascii=False))


def test_the_filter_drops_exactly_unicodes_controls_and_bidi_marks_and_keeps_the_rest() -> None:
    # every code point, against Unicode's own classes: controls (category Cc) dropped,
    # line breaks and tabs made spaces, bidi embeddings, overrides and isolates dropped
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    spaces = "\t\n\r\v\f"
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    expected = "".join(
        " " if c in spaces else c
        for c in every
        if c in spaces or (unicodedata.category(c) != "Cc" and c not in bidi)
    )
    assert inert(every) == expected


def test_an_escape_sequence_in_a_server_error_is_inert_when_printed_stored_and_replayed(
    capsys, tmp_path: Path, monkeypatch
) -> None:
    body = json.dumps({"title": "Forbidden", "detail": f"no {ESCAPES} access"}).encode()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with HostileServer(lambda n, p, q: (403, body, 0.0)) as server:
        monkeypatch.setenv("HASHMON_X_API_BASE", server.url)
        monkeypatch.setenv("HASHMON_X_BEARER_TOKEN", TOKEN)
        code, err = fails(capsys, "--database", db, "collect")
    assert code == 1 and "pwned" in err  # shown as text ...
    assert not any(c in err for c in "\x1b\x07\x9b\u202e")  # ... never as escapes
    result = CliRunner().invoke(cli, ["--database", db, "status"], catch_exceptions=False)
    replayed = [line for line in result.stdout.splitlines() if "pwned" in line]
    assert replayed and not any(c in result.stdout for c in "\x1b\x07\x9b\u202e")
    as_json = CliRunner().invoke(cli, ["--database", db, "status", "--json"])
    assert not any(c in as_json.stdout for c in "\x1b\x07\x9b\u202e")
    assert ESCAPES in json.loads(as_json.stdout)["runs"][0]["message"]  # the data is kept


def test_a_logged_server_error_passes_the_same_filter(capsys, tmp_path: Path, monkeypatch) -> None:
    body = json.dumps({"title": "Server", "detail": ESCAPES}).encode()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    cfg = tmp_path / "c.toml"
    cfg.write_text("[x]\nmax_retries = 1\nmax_wait_seconds = 1\n")
    with HostileServer(lambda n, p, q: (503, body, 0.0)) as server:
        monkeypatch.setenv("HASHMON_X_API_BASE", server.url)
        monkeypatch.setenv("HASHMON_X_BEARER_TOKEN", TOKEN)
        code, err = fails(capsys, "--config", str(cfg), "--database", db, "collect")
    assert code == 1 and "WARNING monitor.sources.x: X API: server error" in err  # logged
    assert err.count("pwned") >= 2 and not any(c in err for c in "\x1b\x07\x9b\u202e")


# --- (11) the demo never overwrites real reports -----------------------------------------


def test_the_demo_refuses_a_folder_of_real_reports_and_leaves_it_untouched(
    capsys, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    real = out / "daily-2017-06-12.html"
    real.write_text("<html><head><title>real</title></head></html>")
    (out / "daily-2017-06-12.csv").write_text("a,b\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, err = fails(capsys, "demo", "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert "not simulated (daily-2017-06-12.html)" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_report_without_its_page_counts_as_real_and_a_simulated_one_does_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "summary-IMHAW17.csv").write_text("a\n")  # no page: cannot tell, so real
    (tmp_path / "daily-2017-06-13.html").write_text(f"<html><head>{SIMULATED_MARK}</head>")
    (tmp_path / "notes.txt").write_text("mine")  # not a report at all
    assert real_reports(tmp_path) == ["summary-IMHAW17"]
    (tmp_path / "summary-IMHAW17.csv").unlink()
    assert real_reports(tmp_path) == []
    assert real_reports(tmp_path / "missing") == []

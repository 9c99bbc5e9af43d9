"""Alerts from ``hashmon run`` against a real SMTP server on loopback: one per cause until
it clears, then one "recovered"; a failed send is retried after a pause, not at once."""

from __future__ import annotations

import datetime as dt

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from jobs import alerts
from monitor.config import parse_settings
from monitor.store.engine import make_engine, writing
from monitor.store.runs import finish_run, start_run
from monitor.store.sends import sends_summary
from monitor.times import utc_text
from tests.test_mail import Keeper, _free_port

T0 = dt.datetime(2017, 6, 13, 9, 0, tzinfo=dt.UTC)  # campaign day 2
TOKEN_FAILURE = (
    "X refused the bearer token (401 Unauthorized): check that HASHMON_X_BEARER_TOKEN "
    "holds your app's current bearer token"
)


def _settings(port: int):
    return parse_settings(
        {
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from": "hashmon@example.org",
                "to": ["team@example.org"],
                "alert_after_minutes": 60,
            }
        },
        "test",
    )


def _run(engine: Engine, at: dt.datetime, status: str, message: str | None = None) -> None:
    with writing(engine) as conn:
        run_id = start_run(conn, "collect", utc_text(at))
        finish_run(conn, run_id, status, message=message, finished_at=utc_text(at))


@pytest.fixture
def smtp():
    keeper = Keeper()
    port = _free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, keeper
    controller.stop()


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "_database_open", False)


def test_a_rejected_token_sends_one_alert_then_one_recovered(sqlite_engine, smtp) -> None:
    port, keeper = smtp
    settings = _settings(port)
    minute = dt.timedelta(minutes=1)
    _run(sqlite_engine, T0, "ok")
    assert alerts.check_alerts(settings, sqlite_engine, T0 + 10 * minute) == []

    _run(sqlite_engine, T0 + 15 * minute, "failed", TOKEN_FAILURE)
    assert alerts.check_alerts(settings, sqlite_engine, T0 + 16 * minute) == ["alert:token"]
    _run(sqlite_engine, T0 + 30 * minute, "failed", TOKEN_FAILURE)
    assert alerts.check_alerts(settings, sqlite_engine, T0 + 31 * minute) == []  # still open
    _run(sqlite_engine, T0 + 45 * minute, "ok")
    assert alerts.check_alerts(settings, sqlite_engine, T0 + 46 * minute) == ["recovered:token"]
    assert alerts.check_alerts(settings, sqlite_engine, T0 + 50 * minute) == []

    messages = [e.original_content.decode() for e in keeper.messages]
    assert len(messages) == 2
    alert, recovered = messages
    assert "ALERT" in alert and "bearer token" in alert
    assert "Since: " + utc_text(T0 + 15 * minute) in alert
    assert "What to do: put the app's current bearer token in HASHMON_X_BEARER_TOKEN" in alert
    assert "recovered" in recovered.lower()
    assert sends_summary(sqlite_engine)["last_alert"]["kind"] == "recovered"


def test_no_successful_pass_for_an_hour_during_the_campaign(sqlite_engine, smtp) -> None:
    port, keeper = smtp
    settings = _settings(port)
    _run(sqlite_engine, T0, "ok")
    _run(sqlite_engine, T0 + dt.timedelta(minutes=15), "failed", "database failure: disk full")
    assert alerts.check_alerts(settings, sqlite_engine, T0 + dt.timedelta(minutes=59)) == []
    later = T0 + dt.timedelta(minutes=61)
    assert alerts.check_alerts(settings, sqlite_engine, later) == ["alert:stalled"]
    # after the campaign the same silence is no alert: nothing is expected to run
    after = dt.datetime(2017, 6, 20, 9, 0, tzinfo=dt.UTC)
    assert "stalled" not in alerts.findings(settings, sqlite_engine, after)
    assert len(keeper.messages) == 1


def test_cap_reached_is_one_alert(sqlite_engine, smtp) -> None:
    port, keeper = smtp
    settings = _settings(port)
    cap = "monthly post cap reached: 10,000 of [x] monthly_post_cap = 10,000 posts read"
    _run(sqlite_engine, T0, "stopped", cap)
    _run(sqlite_engine, T0 + dt.timedelta(minutes=15), "stopped", cap)
    now = T0 + dt.timedelta(minutes=16)
    assert alerts.check_alerts(settings, sqlite_engine, now) == ["alert:cap"]
    assert alerts.check_alerts(settings, sqlite_engine, now) == []
    assert "Since: " + utc_text(T0) in keeper.messages[0].original_content.decode()


def test_a_failed_alert_is_retried_after_its_pause(sqlite_engine) -> None:
    port = _free_port()  # the server is down at first
    settings = _settings(port)
    _run(sqlite_engine, T0, "failed", TOKEN_FAILURE)
    now = T0 + dt.timedelta(minutes=1)
    assert alerts.check_alerts(settings, sqlite_engine, now) == []
    assert sends_summary(sqlite_engine)["failed"][0]["fault"] == "connection"
    keeper = Keeper()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # within the first pause (one minute) no new attempt; after it, one
        assert alerts.check_alerts(settings, sqlite_engine, now + dt.timedelta(seconds=30)) == []
        later = now + dt.timedelta(minutes=2)
        assert alerts.check_alerts(settings, sqlite_engine, later) == ["alert:token"]
    finally:
        controller.stop()
    assert len(keeper.messages) == 1


def test_the_database_unreachable_is_one_alert(smtp, tmp_path) -> None:
    port, keeper = smtp
    settings = _settings(port)
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    engine.dispose()
    (tmp_path / "h.db").unlink()
    (tmp_path / "h.db").mkdir()  # a folder where the file was: every query fails
    assert alerts.check_alerts(settings, engine, T0) == ["alert:database"]
    assert alerts.check_alerts(settings, engine, T0) == []
    assert "database is unreachable" in keeper.messages[0].original_content.decode()


def test_the_scheduler_hook_returns_while_the_server_is_still_taking_the_alert(
    sqlite_url: str, tmp_path
) -> None:
    """check_soon hands the send to its own thread: a job (a collect pass) never waits."""
    import asyncio
    import threading

    arrived, gate = threading.Event(), threading.Event()

    class Slow(Keeper):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, gate.wait, 30)
            self.messages.append(envelope)
            return "250 OK"

    keeper = Slow()
    port = _free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    config = tmp_path / "hashmon.toml"
    config.write_text(
        "[email]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "hashmon@example.org"\nto = ["team@example.org"]\n',
        encoding="utf-8",
    )
    engine = make_engine(sqlite_url)
    _run(engine, dt.datetime.now(dt.UTC), "failed", TOKEN_FAILURE)
    try:
        alerts.check_soon(str(config), sqlite_url)  # returns at once
        assert arrived.wait(30)  # the server is mid-DATA, and the caller is already back
        assert keeper.messages == []
        gate.set()
        alerts._worker.submit(lambda: None).result(timeout=30)  # the check has finished
    finally:
        gate.set()
        controller.stop()
    assert len(keeper.messages) == 1
    assert sends_summary(engine)["last_alert"]["what"] == "token"
    engine.dispose()

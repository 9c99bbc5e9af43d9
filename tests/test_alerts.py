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


# --- the 50, 80 and 100 % budget alerts ------------------------------------------------------

# the recorded posts (tests/xapi.py) were created on 2023-04-07, 19:17-21:40 UTC
DAY1 = dt.datetime(2023, 4, 8, 11, 0, tzinfo=dt.UTC)
LIMIT = 1000  # the cap in reads, or the budget (5.00 at 0.005) in charged reads
BILLING = {
    "cap": '[x]\nbilling = "cap"\nmonthly_post_cap = 1000\n',
    "pay-per-use": (
        '[x]\nbilling = "pay-per-use"\nmonthly_post_cap = 1000000\nmonthly_budget = 5.0\n'
    ),
}
# a restarted runner: a fresh process, nothing in memory, the same database
RESTARTED = (
    "import sys, datetime as dt\n"
    "from jobs import alerts\n"
    "from monitor.config import load_settings\n"
    "from monitor.store.engine import make_engine\n"
    "settings = load_settings(sys.argv[1], sys.argv[2])\n"
    "engine = make_engine(settings.database.url)\n"
    "print(alerts.check_alerts(settings, engine, dt.datetime.fromisoformat(sys.argv[3])))\n"
)


@pytest.fixture
def fake_x():
    from tests.xapi import faked_x

    with faked_x() as fx:
        yield fx


@pytest.mark.parametrize("billing", ["cap", "pay-per-use"])
@pytest.mark.slow
def test_budget_alerts_go_by_email_at_50_80_and_100_percent_once_each_across_a_restart(
    billing: str, db_url: str, smtp, fake_x, tmp_path
) -> None:
    import subprocess
    import sys

    from sqlalchemy import func, select

    from jobs import passes
    from monitor.config import load_settings
    from monitor.sources.x import XSource
    from monitor.store.schema import Post
    from tests.xapi import TOKEN

    port, keeper = smtp
    config = tmp_path / "hashmon.toml"
    config.write_text(
        BILLING[billing] + "[email]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "hashmon@example.org"\nto = ["team@example.org"]\n',
        encoding="utf-8",
    )
    settings = load_settings(str(config), db_url)
    engine = make_engine(db_url)

    def source() -> XSource:
        return XSource(settings, TOKEN, sleep=lambda s: None)

    def refresh(now: dt.datetime):
        return passes.refresh_metrics(settings, engine, dt.date(2023, 4, 7), now, source=source())

    def subjects() -> list[str]:
        return [
            e.original_content.decode().split("Subject: ")[1].split("\n")[0]
            for e in keeper.messages
        ]

    def due_now(charged: int, sent: set[int]) -> list[str]:
        # independently of monitor.budget: the share of 1,000 charged reads, each once
        return [
            f"budget:{t}" for t in (50, 80, 100) if charged * 100 >= t * LIMIT and t not in sent
        ]

    passes.collect(settings, engine, source=source(), now=DAY1)  # 500 posts read: 50 %
    assert keeper.messages == []  # the pass sends nothing itself: the alert check does
    assert alerts.check_alerts(settings, engine, DAY1) == ["budget:50"]
    assert alerts.check_alerts(settings, engine, DAY1) == []
    restarted = subprocess.run(
        [
            sys.executable,
            "-c",
            RESTARTED,
            str(config),
            db_url,
            (DAY1 + dt.timedelta(minutes=5)).isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert restarted.stdout.strip() == "[]"  # 50 % went before the restart: not again
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(Post).where(Post.kind != "retweet")
        ).scalar_one()
    assert 100 < n < 500
    charged, sent, now = 500, {50}, DAY1
    if billing == "pay-per-use":  # a re-read the same UTC day is free: no new threshold
        refresh(DAY1 + dt.timedelta(hours=2))
        assert alerts.check_alerts(settings, engine, DAY1 + dt.timedelta(hours=2)) == []
    while 100 not in sent:
        # cap billing: every read counts, so re-read the same day; pay-per-use: a day later
        now += dt.timedelta(minutes=10) if billing == "cap" else dt.timedelta(days=1)
        refresh(now)  # the last one is cut where the cap or budget runs out
        charged = min(charged + n, LIMIT)
        expected = due_now(charged, sent)
        assert alerts.check_alerts(settings, engine, now) == expected
        sent |= {int(e.split(":")[1]) for e in expected}
    assert charged == LIMIT and sent == {50, 80, 100}
    # collection stops at 100 %: that is the cap alert, a cause of its own with a recovery
    passes.collect(settings, engine, source=source(), now=now)
    assert alerts.check_alerts(settings, engine, now) == ["alert:cap"]
    assert alerts.check_alerts(settings, engine, now + dt.timedelta(hours=1)) == []
    used = [s for s in subjects() if "of the month's X cap or budget used" in s]
    assert [s.split("ALERT: ")[1].split(" ")[0] for s in used] == ["50", "80", "100"]
    hundred = keeper.messages[len(used) - 1].original_content.decode()
    assert (
        "collection has stopped" in hundred and "100 % of the month's cap or budget used" in hundred
    )
    assert sends_summary(engine)["last_alert"]["kind"] == "alert"
    engine.dispose()


def test_a_budget_alert_the_server_refused_is_retried_after_its_pause_and_sent_once(
    sqlite_url: str, fake_x, tmp_path
) -> None:
    from jobs import passes
    from monitor.config import load_settings
    from monitor.sources.x import XSource
    from tests.xapi import TOKEN

    port = _free_port()  # the server is down at first
    config = tmp_path / "hashmon.toml"
    config.write_text(
        BILLING["cap"] + "[email]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "hashmon@example.org"\nto = ["team@example.org"]\n',
        encoding="utf-8",
    )
    settings = load_settings(str(config), sqlite_url)
    engine = make_engine(sqlite_url)
    source = XSource(settings, TOKEN, sleep=lambda s: None)
    passes.collect(settings, engine, source=source, now=DAY1)  # 500 of 1,000: 50 %
    assert alerts.check_alerts(settings, engine, DAY1) == []
    failed = sends_summary(engine)["failed"]
    assert [(f["kind"], f["what"], f["fault"]) for f in failed] == [
        ("budget", "2023-04 50 %", "connection")
    ]
    keeper = Keeper()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # within the first pause (one minute) no new attempt; after it, one, then no more
        assert alerts.check_alerts(settings, engine, DAY1 + dt.timedelta(seconds=30)) == []
        assert alerts.check_alerts(settings, engine, DAY1 + dt.timedelta(minutes=2)) == [
            "budget:50"
        ]
        assert alerts.check_alerts(settings, engine, DAY1 + dt.timedelta(minutes=3)) == []
    finally:
        controller.stop()
    assert len(keeper.messages) == 1
    assert sends_summary(engine)["last_alert"]["what"] == "2023-04 50 %"
    engine.dispose()

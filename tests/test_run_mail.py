"""``hashmon run`` end to end: the scheduler runs its real jobs (collect every quarter
of a second instead of every 15 minutes), tweepy talks to the fake X API at the ``requests`` layer,
and alerts go to a real SMTP server on loopback (aiosmtpd).

The token is rejected (401) for some passes and then works again: exactly one alert and
one "recovered" arrive. With the server down, refusing the login or the recipient, or
hanging mid-DATA, the passes keep coming while the sends fail and are recorded.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from aiosmtpd.controller import Controller
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, select

from jobs import alerts, passes
from jobs.schedule import COLLECT, build_scheduler
from monitor.config import load_settings
from monitor.settings import SMTP_PASSWORD_ENV, TOKEN_ENV
from monitor.store.engine import make_engine
from monitor.store.schema import CollectionRun
from monitor.store.sends import sends_summary
from tests.test_mail import PASSWORD, REFUSED, USER, Keeper, _free_port, tls_server
from tests.xapi import TOKEN, UNAUTHORIZED, FakeX, read_pages

pytestmark = pytest.mark.slow
PASS_EVERY = 0.25  # seconds between collect passes
WAIT = 120.0  # seconds an awaited event may take on a loaded machine before the test fails


class Counting(Keeper):
    """A Keeper that says when a message arrives or a DATA starts (for the hanging server)."""

    def __init__(self, hang_seconds: float = 0.0) -> None:
        super().__init__(hang_seconds=hang_seconds)
        self.changed = threading.Condition()
        self.data_started = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_started.set()
        answer = await super().handle_DATA(server, session, envelope)
        with self.changed:
            self.changed.notify_all()
        return answer

    def wait_for(self, n: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.messages) >= n, WAIT)


class Passes:
    """Counts finished collect passes (a scheduler listener) and lets a test await them.

    ``on_pass(n)`` runs after pass ``n`` finishes, before the next one starts (the job
    runs one instance at a time): the test turns the token's rejection on and off there.
    """

    def __init__(self, on_pass: Callable[[int], None] = lambda n: None) -> None:
        self.count = 0
        self.on_pass = on_pass
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        if event.job_id != COLLECT:
            return
        with self._cond:
            self.count += 1
            self.on_pass(self.count)
            self._cond.notify_all()

    def wait_for(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, WAIT)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger("mail.log"), "disabled", True)
    monkeypatch.setattr(alerts, "_database_open", False)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("HASHMON_DATABASE_URL", raising=False)
    monkeypatch.delenv(SMTP_PASSWORD_ENV, raising=False)
    passes.STOP.clear()


def _config(tmp_path: Path, db_url: str, port: int, **email: Any) -> Path:
    fields = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "hashmon@example.org",
        "to": ["team@example.org"],
        **email,
    }
    path = tmp_path / "hashmon.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n'
        "[x]\nmax_retries = 0\n"
        f'[reports]\nout_dir = "{tmp_path / "out"}"\n'
        "[email]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items()),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def fake_x() -> Iterator[dict[str, bool]]:
    """The fake X API; set ``["reject"]`` to answer every search 401, as for a revoked token."""
    state = {"reject": False}
    fake = FakeX(read_pages())
    search = fake._search

    def searching(params: dict[str, str]) -> tuple[int, Any]:
        return (401, UNAUTHORIZED) if state["reject"] else search(params)

    fake._search = searching  # type: ignore[method-assign]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield state


def _running(config: Path, listener: Passes) -> tuple[BackgroundScheduler, Engine]:
    """Start ``hashmon run``'s scheduler with its real jobs, collecting every 0.25 s."""
    settings = load_settings(str(config))
    engine = make_engine(settings.database.url)
    scheduler = build_scheduler(settings, engine, scheduler_class=BackgroundScheduler)
    scheduler.reschedule_job(COLLECT, trigger=IntervalTrigger(seconds=PASS_EVERY))
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    return scheduler, engine


def _stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=True)
    alerts._worker.submit(lambda: None).result(timeout=WAIT)  # the last alert check is done


def _collect_runs(engine: Engine) -> list[tuple[str, str | None]]:
    table = CollectionRun.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.status, table.c.message)
            .where(table.c.kind == "collect")
            .order_by(table.c.id)
        ).all()
    return [(r.status, r.message) for r in rows]


def test_a_rejected_token_sends_one_alert_then_one_recovered(
    fake_x, sqlite_url: str, tmp_path: Path
) -> None:
    keeper = Counting()
    port = _free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()

    def token(n: int) -> None:  # passes 2 to 4 meet a revoked token, then a new one works
        fake_x["reject"] = 1 <= n < 4

    listener = Passes(token)
    scheduler, engine = _running(_config(tmp_path, sqlite_url, port), listener)
    try:
        assert keeper.wait_for(2)  # the alert, then the "recovered"
        after = listener.count
        assert listener.wait_for(after + 3)  # more good passes: nothing more is sent
    finally:
        _stop(scheduler)
        controller.stop()

    runs = _collect_runs(engine)
    # good passes, then the rejected ones in one stretch, then good ones again (a pass may
    # start while the listener of the one before is still turning the token)
    statuses = " ".join(s for s, _ in runs)
    assert re.fullmatch(r"ok( ok)*( failed)+( ok)+", statuses), statuses
    assert all("X refused the bearer token" in (m or "") for s, m in runs if s == "failed")
    received = [
        email.message_from_bytes(e.original_content, policy=email.policy.default)
        for e in keeper.messages
    ]
    assert len(received) == 2
    alert, recovered = received
    assert "bearer token" in alert["Subject"] and "recovered" not in alert["Subject"].lower()
    assert "recovered" in recovered["Subject"].lower()
    body = alert.get_body(("plain",)).get_content()
    assert "What to do: put the app's current bearer token in HASHMON_X_BEARER_TOKEN" in body
    assert TOKEN not in "".join(e.original_content.decode() for e in keeper.messages)
    sends = sends_summary(engine)
    assert sends["last_alert"]["kind"] == "recovered" and sends["failed"] == []
    engine.dispose()


@pytest.mark.parametrize("fault", ["connection", "login", "recipient refused", "timeout"])
def test_collection_keeps_its_schedule_while_every_send_fails(
    fault: str, fake_x, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper = Counting(hang_seconds=300 if fault == "timeout" else 0)
    controller: Controller | None = None
    port = _free_port()  # "connection": nothing listens there
    email_keys: dict[str, Any] = {}
    if fault == "login":
        monkeypatch.setenv(SMTP_PASSWORD_ENV, "wrong-" + PASSWORD)
        controller, port, ca_file = tls_server(tmp_path, keeper)
        email_keys = {"security": "starttls", "username": USER, "tls_ca_file": str(ca_file)}
    elif fault in ("recipient refused", "timeout"):
        controller = Controller(keeper, hostname="127.0.0.1", port=port)
    if fault == "recipient refused":
        email_keys = {"to": [REFUSED]}
    if fault == "timeout":
        email_keys = {"timeout_seconds": 4.0}  # outlasts the three passes awaited below
    if controller is not None:
        controller.start()
    fake_x["reject"] = True  # every pass fails for a reason a person must act on: an alert

    listener = Passes()
    scheduler, engine = _running(_config(tmp_path, sqlite_url, port, **email_keys), listener)
    try:
        if fault == "timeout":
            # the server holds the message: passes go on meanwhile, none waits for the send
            assert keeper.data_started.wait(WAIT)
            held_at = listener.count
            assert listener.wait_for(held_at + 3)
            assert sends_summary(engine)["failed"] == []  # the send is still under way
        alerts._worker.submit(lambda: None).result(timeout=WAIT)  # the first send ended
        enough = listener.count + 4
        assert listener.wait_for(enough)  # and the schedule goes on after it
    finally:
        _stop(scheduler)
        if controller is not None:
            controller.stop()

    runs = _collect_runs(engine)
    assert len(runs) >= listener.count >= enough
    assert all(status == "failed" for status, _ in runs)
    failed = sends_summary(engine)["failed"]
    assert [f["fault"] for f in failed] == [fault]  # recorded, retried after its pause only
    assert keeper.messages == []
    engine.dispose()

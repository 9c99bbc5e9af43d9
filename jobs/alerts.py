"""Alerts from ``hashmon run``: one e-mail per cause a person must act on, one when it clears.

Causes, read from what the passes recorded (``collection_runs``), never from the pass
itself: the monthly cap or budget reached, the X token rejected, no successful collect
pass for ``[email] alert_after_minutes`` during the campaign, a scheduled report
failed, and the database unreachable. Which alerts are open is read back from
``email_sends`` (so a restart does not alert twice); only "database" lives in memory,
since then nothing can be read. Besides, one message for each of the 50, 80 and 100 %
thresholds of the month's cap or budget that passes recorded (jobs/budget_alerts.py).

``check_soon`` is the scheduler's hook: it hands the check to one background thread
and returns at once, so no collect pass ever waits for an SMTP server, and the check
never runs while a pass holds the collector lease in this thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from jobs import budget_alerts
from jobs.delivery import email_settings
from monitor.config import load_settings
from monitor.errors import DatabaseError, DeliveryError, HashmonError, db_detail
from monitor.settings import Settings
from monitor.store.engine import make_engine
from monitor.store.schema import CollectionRun
from monitor.store.sends import EmailSend, Send, record_send
from monitor.times import utc_text
from reports.mail.messages import addressed
from reports.mail.smtp import send, server_name

log = logging.getLogger(__name__)

RETRY_FOR = dt.timedelta(hours=1)
FIRST_PAUSE = dt.timedelta(minutes=1)
LONGEST_PAUSE = dt.timedelta(minutes=15)
CAUSES = ("cap", "token", "stalled", "report", "database")


@dataclass(frozen=True)
class Finding:
    """Something a person must act on: what happened, since when, its meaning, what to do."""

    cause: str
    since: str | None
    what: str
    meaning: str
    todo: str


def _cap(message: str) -> bool:
    said = message.lower()
    return "cap reached" in said or "usage cap" in said or "budget" in said


def _token(message: str) -> bool:
    return "bearer token" in message.lower()


def findings(settings: Settings, engine: Engine, now: dt.datetime) -> dict[str, Finding]:
    """Return the causes that hold at ``now``, by name. Raises SQLAlchemyError/DatabaseError."""
    runs = CollectionRun.__table__
    found: dict[str, Finding] = {}
    with engine.connect() as conn:
        collects = conn.execute(
            select(runs.c.status, runs.c.started_at, runs.c.message)
            .where(runs.c.kind == "collect", runs.c.status != "running")
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(200)
        ).all()
        last_ok = conn.execute(
            select(runs.c.started_at)
            .where(runs.c.kind == "collect", runs.c.status == "ok")
            .order_by(runs.c.started_at.desc())
            .limit(1)
        ).scalar()
        report = conn.execute(
            select(runs.c.status, runs.c.started_at, runs.c.message)
            .where(runs.c.kind == "report", runs.c.status != "running")
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(1)
        ).first()

    def streak(test: Callable[[str], bool]) -> str | None:
        since = None
        for status, started, message in collects:
            if status in ("stopped", "failed") and test(message or ""):
                since = started
            else:
                break
        return since

    if collects:
        status, _, message = collects[0]
        if status in ("stopped", "failed") and _cap(message or ""):
            found["cap"] = Finding(
                "cap",
                streak(_cap),
                f"collection stopped: {message}",
                "no new posts are being collected, so the figures stop growing until it resumes",
                "raise [x] monthly_post_cap if your plan allows it, or wait for the monthly reset",
            )
        elif status == "failed" and _token(message or ""):
            found["token"] = Finding(
                "token",
                streak(_token),
                f"X rejected the bearer token: {message}",
                "no posts are being collected; reports will show the days as quieter than they are",
                "put the app's current bearer token in HASHMON_X_BEARER_TOKEN and restart hashmon",
            )
    tz = settings.campaign.tz
    campaign = settings.campaign.start <= now.astimezone(tz).date() <= settings.campaign.end
    limit = dt.timedelta(minutes=email_settings(settings).alert_after_minutes)
    # no pass ever succeeded: count from the oldest pass seen; a stall the cap or the token
    # already explains is the same cause, alerted once
    quiet_since = last_ok or (collects[-1][1] if collects else None)
    explained = "cap" in found or "token" in found
    if campaign and not explained and quiet_since and quiet_since < utc_text(now - limit):
        found["stalled"] = Finding(
            "stalled",
            last_ok,
            f"no successful collect pass for over {limit.total_seconds() / 60:.0f} minutes",
            "posts older than X's search window (7 days) would be lost if this lasts",
            "run hashmon status and read the log (journalctl -u hashmon) for the cause",
        )
    if report is not None and report.status == "failed":
        found["report"] = Finding(
            "report",
            report.started_at,
            f"a scheduled report failed: {report.message}",
            "the team did not get this report; the data is safe",
            "fix the cause named above, then run hashmon report daily --date D --email",
        )
    return found


# --- which alerts are open ------------------------------------------------------------------

_database_open = False  # the one cause that cannot be recorded where it happens


def open_alerts(engine: Engine) -> dict[str, str]:
    """Return each cause with an alert sent and no "recovered" since: cause -> sent_at."""
    t = EmailSend.__table__
    out: dict[str, str] = {}
    with engine.connect() as conn:
        if not inspect(conn).has_table(EmailSend.__tablename__):
            return out
        rows = conn.execute(
            select(t.c.kind, t.c.what, t.c.sent_at)
            .where(t.c.kind.in_(("alert", "recovered")), t.c.status == "sent")
            .order_by(t.c.sent_at, t.c.id)
        ).all()
    for kind, what, sent_at in rows:
        if kind == "alert":
            out[what] = sent_at
        else:
            out.pop(what, None)
    return out


def due(engine: Engine, cause: str, kind: str, now: dt.datetime) -> bool:
    """Return False while a failed send of this alert waits its pause, or after an hour."""
    t = EmailSend.__table__
    with engine.connect() as conn:
        if not inspect(conn).has_table(EmailSend.__tablename__):
            return True
        rows = conn.execute(
            select(t.c.status, t.c.sent_at)
            .where(t.c.kind == kind, t.c.what == cause)
            .order_by(t.c.sent_at.desc(), t.c.id.desc())
            .limit(50)
        ).all()
    failures = []
    for status, sent_at in rows:
        if status != "failed":
            break
        failures.append(dt.datetime.fromisoformat(sent_at.replace("Z", "+00:00")))
    if not failures:
        return True
    if now - failures[-1] > RETRY_FOR:
        return False  # tried for an hour: the failures stay in hashmon status
    pause = min(FIRST_PAUSE * 2 ** (len(failures) - 1), LONGEST_PAUSE)
    return now >= failures[0] + pause


# --- sending ---------------------------------------------------------------------------------


def alert_message(settings: Settings, finding: Finding, recovered: bool = False) -> EmailMessage:
    email = email_settings(settings)
    tag = f"#{settings.campaign.name}"
    if recovered:
        subject = f"{email.subject_prefix} {tag} recovered: {finding.cause}".strip()
        body = (
            f"Recovered: {finding.what}.\n\nThis no longer holds; hashmon is collecting and "
            "reporting again. Nothing needs doing.\n"
        )
    else:
        subject = f"{email.subject_prefix} {tag} ALERT: {finding.what}".strip()[:200]
        body = (
            f"What happened: {finding.what}\n"
            f"Since: {finding.since or 'unknown'} (UTC)\n"
            f"What it means for the figures: {finding.meaning}\n"
            f"What to do: {finding.todo}\n\n"
            "You get one message for this until it clears, then one saying it recovered.\n"
        )
    msg = addressed(email, " ".join(subject.split()))
    msg.set_content(body)
    return msg


def _send(
    settings: Settings,
    engine: Engine | None,
    finding: Finding,
    kind: str,
    now: dt.datetime | None = None,
) -> bool:
    msg = alert_message(settings, finding, recovered=kind == "recovered")
    return _deliver(settings, engine, msg, kind, finding.cause, now)


def _deliver(
    settings: Settings,
    engine: Engine | None,
    msg: EmailMessage,
    kind: str,
    what: str,
    now: dt.datetime | None = None,
) -> bool:
    """Hand ``msg`` to the SMTP server and record the attempt; return whether it was taken."""
    email = email_settings(settings)
    entry = dict(
        kind=kind,
        subject=str(msg["Subject"]),
        server=server_name(email),
        what=what,
        recipients=len(email.recipients),
        size_bytes=len(msg.as_bytes()),
    )
    try:
        send(email, msg)
        ok, fault, message = True, None, None
    except DeliveryError as exc:
        ok, fault, message = False, exc.fault, str(exc)
        log.warning("%s alert (%s) not sent: %s", kind, what, exc)
    if engine is not None:
        try:
            record_send(
                engine,
                Send(status="sent" if ok else "failed", fault=fault, message=message, **entry),
                at=now,
            )
        except (SQLAlchemyError, HashmonError) as exc:
            log.warning("could not record the alert: %s", db_detail(exc))
    return ok


def check_alerts(settings: Settings, engine: Engine, now: dt.datetime | None = None) -> list[str]:
    """Send the alerts and recoveries due at ``now``; return what was sent ("alert:token")."""
    global _database_open
    now = now or dt.datetime.now(dt.UTC)
    sent: list[str] = []
    try:
        current = findings(settings, engine, now)
        opened = open_alerts(engine)
        thresholds = budget_alerts.pending(engine, now)
    except (SQLAlchemyError, DatabaseError) as exc:
        if not _database_open:
            finding = Finding(
                "database",
                utc_text(now),
                f"the database is unreachable: {db_detail(exc)}",
                "nothing is being stored: posts collected now are lost until it is back",
                "check the database server, its disk and the URL in [database] url",
            )
            if _send(settings, None, finding, "alert"):
                _database_open = True
                sent.append("alert:database")
        return sent
    if _database_open:
        finding = Finding("database", None, "the database is reachable again", "", "")
        if _send(settings, engine, finding, "recovered", now):
            _database_open = False
            sent.append("recovered:database")
    for cause, finding in current.items():
        fresh = cause not in opened and due(engine, cause, "alert", now)
        if fresh and _send(settings, engine, finding, "alert", now):
            sent.append(f"alert:{cause}")
    for cause in opened:
        if cause not in current and cause != "database" and due(engine, cause, "recovered", now):
            finding = Finding(cause, None, _CLEARED.get(cause, cause), "", "")
            if _send(settings, engine, finding, "recovered", now):
                sent.append(f"recovered:{cause}")
    # 50, 80, 100 % of the cap or budget: each once a month, nothing to recover from
    for alert in thresholds:
        what = budget_alerts.alert_key(alert)
        msg = budget_alerts.budget_message(settings, alert)
        if due(engine, what, budget_alerts.KIND, now) and _deliver(
            settings, engine, msg, budget_alerts.KIND, what, now
        ):
            sent.append(f"budget:{alert.threshold}")
    return sent


_CLEARED = {
    "cap": "collection runs again: the cap or budget no longer stops it",
    "token": "X accepts the bearer token again",
    "stalled": "collect passes succeed again",
    "report": "the last scheduled report was written",
}

# --- the scheduler's hook ---------------------------------------------------------------------

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hashmon-alerts")
_pending = threading.Lock()


def check_soon(config_path: str | None, database_url: str | None) -> None:
    """Run ``check_alerts`` in the background thread, unless a check is already waiting."""
    if not _pending.acquire(blocking=False):
        return

    def work() -> None:
        try:
            settings = load_settings(config_path, database_url)
            if settings.email is None:
                return
            try:
                engine = make_engine(settings.database.url)
            except DatabaseError as exc:
                _database_down(settings, exc)
                return
            try:
                check_alerts(settings, engine)
            finally:
                engine.dispose()
        except Exception:  # noqa: BLE001 - an alert check must never take hashmon down
            log.exception("alert check failed")
        finally:
            _pending.release()

    try:
        _worker.submit(work)
    except RuntimeError:  # shutting down
        _pending.release()


def _database_down(settings: Settings, exc: Exception) -> None:
    global _database_open
    if _database_open:
        return
    finding = Finding(
        "database",
        utc_text(dt.datetime.now(dt.UTC)),
        f"the database is unreachable: {exc}",
        "nothing is being stored: posts collected now are lost until it is back",
        "check the database server, its disk and the URL in [database] url",
    )
    if _send(settings, None, finding, "alert"):
        _database_open = True

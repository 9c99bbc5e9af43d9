"""Sending what hashmon writes: a report's digest and the test message, each send recorded.

The CLI (``report daily --email``, ``report summary --email``, ``email-test``) and the
scheduler call these. A send is always recorded (``monitor.store.sends``), sent or failed, so
``hashmon status`` can tell; a failure is then raised as DeliveryError for the caller.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine

from monitor.errors import ConfigError, DeliveryError, HashmonError, db_detail
from monitor.settings import Email, Settings
from monitor.store.sends import Send, record_send
from reports.mail import digest_message, read_written_report, send, trial_message
from reports.mail.smtp import server_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivered:
    subject: str
    server: str
    recipients: int
    size_bytes: int
    seconds: float

    def describe(self) -> str:
        return (
            f"e-mail sent via {self.server} to {self.recipients} "
            f"{'recipient' if self.recipients == 1 else 'recipients'}: {self.subject} "
            f"({self.size_bytes / 1024:,.1f} KB, {self.seconds:.2f} s)"
        )


def email_settings(settings: Settings) -> Email:
    """Return ``[email]``; raise ConfigError when the config has none."""
    if settings.email is None:
        raise ConfigError(
            f"no [email] section in {settings.origin}: add one with host, from and to "
            "(see config.example.toml) to send e-mail"
        )
    return settings.email


def check_can_email_reports(settings: Settings) -> Email:
    """Raise ConfigError unless reports can be e-mailed: ``[email]`` set, JSON written."""
    email = email_settings(settings)
    if "json" not in settings.reports.formats:
        raise ConfigError(
            'the e-mail digest is built from the report\'s JSON: add "json" to [reports] formats'
        )
    return email


def _record(engine: Engine | None, entry: Send) -> None:
    if engine is None:
        return
    try:
        record_send(engine, entry)
    except Exception as exc:  # noqa: BLE001 - a send is not undone by a failed record
        log.warning("could not record the e-mail send in the database: %s", db_detail(exc))


def _deliver(
    email: Email, engine: Engine | None, msg: EmailMessage, kind: str, what: str | None
) -> Delivered:
    data = msg.as_bytes()
    started = time.perf_counter()
    server = server_name(email)
    entry = Send(
        kind=kind,
        status="sent",
        subject=str(msg["Subject"]),
        server=server,
        what=what,
        recipients=len(email.recipients),
        size_bytes=len(data),
    )
    try:
        send(email, msg)
    except DeliveryError as exc:
        took = time.perf_counter() - started
        _record(
            engine,
            Send(
                **{
                    **entry.__dict__,
                    "status": "failed",
                    "seconds": took,
                    "fault": exc.fault,
                    "message": str(exc),
                }
            ),
        )
        log.info("%s", exc)  # the caller says it once: the CLI's error line, run's log
        raise
    took = time.perf_counter() - started
    _record(engine, Send(**{**entry.__dict__, "seconds": took}))
    return Delivered(entry.subject, server, entry.recipients, entry.size_bytes, took)


def email_report(
    settings: Settings, engine: Engine | None, json_path: str | Path, kind: str = "digest"
) -> Delivered:
    """Send the digest of the report written at ``json_path``; record it; return what went.

    Raises ConfigError without ``[email]``, ReportFileError for unreadable files and
    DeliveryError when the server does not take the message (recorded as failed).
    """
    email = email_settings(settings)
    report = read_written_report(json_path)
    hashtags = settings.campaign.hashtags
    tag = f"#{hashtags[0].strip().lstrip('#')}" if hashtags else None
    try:
        msg = digest_message(report, email, tag)
    except OSError as exc:
        raise HashmonError(
            f"cannot read the report's files beside {json_path}: {exc.strerror or exc}; "
            "write the report again"
        ) from None
    return _deliver(email, engine, msg, kind, report.stem)


def email_test(settings: Settings, engine: Engine | None) -> Delivered:
    """Send the short test message to the configured recipients; record it."""
    email = email_settings(settings)
    return _deliver(email, engine, trial_message(email), "test", None)

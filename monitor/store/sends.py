"""The record of e-mails sent: each digest, alert and test, whether the server took it.

``hashmon status`` reads it to show the last digest and alert sent (a budget alert at
50, 80 or 100 % is an alert too) and any send that failed. The table holds no message
body, no password: what was sent, to how many, when, through which server, and the
fault class of a failure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Float, Index, Integer, String, Text, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.engine import writing
from monitor.store.schema import Base
from monitor.times import utc_text

KINDS = ("digest", "alert", "recovered", "budget", "test")


class EmailSend(Base):
    """One attempt to hand a message to the SMTP server."""

    __tablename__ = "email_sends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # digest, alert, recovered, budget, test
    sent_at: Mapped[str] = mapped_column(String(32))  # UTC, when the attempt ended
    status: Mapped[str] = mapped_column(String(16))  # sent or failed
    subject: Mapped[str] = mapped_column(Text)
    what: Mapped[str | None] = mapped_column(String(200))  # report stem or alert cause
    server: Mapped[str] = mapped_column(String(300))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    fault: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_email_sends_sent_at", "sent_at"),)


@dataclass(frozen=True)
class Send:
    kind: str
    status: str
    subject: str
    server: str
    what: str | None = None
    recipients: int = 0
    size_bytes: int = 0
    seconds: float = 0.0
    fault: str | None = None
    message: str | None = None


def record_send(engine: Engine, send: Send, at: dt.datetime | None = None) -> None:
    """Store one send attempt (the table is created on first use)."""
    table = EmailSend.__table__
    with writing(engine) as conn:
        table.create(conn, checkfirst=True)
        conn.execute(
            table.insert().values(
                sent_at=utc_text(at or dt.datetime.now(dt.UTC)),
                kind=send.kind,
                status=send.status,
                subject=send.subject[:500],
                what=send.what,
                server=send.server,
                recipients=send.recipients,
                size_bytes=send.size_bytes,
                seconds=send.seconds,
                fault=send.fault,
                message=send.message,
            )
        )


def _row(r: Any) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "status": r.status,
        "sent_at": r.sent_at,
        "subject": r.subject,
        "what": r.what,
        "server": r.server,
        "recipients": r.recipients,
        "size_bytes": r.size_bytes,
        "seconds": r.seconds,
        "fault": r.fault,
        "message": r.message,
    }


def sends_summary(engine: Engine, failed: int = 5) -> dict[str, Any]:
    """Return the last digest and alert the server accepted, and the last ``failed`` failures.

    Keys: ``last_digest``, ``last_alert`` (a dict each, or None) and ``failed`` (newest
    first). Empty when nothing was ever sent (no table yet).
    """
    empty: dict[str, Any] = {"last_digest": None, "last_alert": None, "failed": []}
    with engine.connect() as conn:
        if not inspect(conn).has_table(EmailSend.__tablename__):
            return empty
        t = EmailSend.__table__

        def last(*kinds: str) -> dict[str, Any] | None:
            row = conn.execute(
                select(t)
                .where(t.c.kind.in_(kinds), t.c.status == "sent")
                .order_by(t.c.sent_at.desc(), t.c.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _row(row)

        failures = conn.execute(
            select(t)
            .where(t.c.status == "failed")
            .order_by(t.c.sent_at.desc(), t.c.id.desc())
            .limit(failed)
        ).all()
        return {
            "last_digest": last("digest"),
            "last_alert": last("alert", "recovered", "budget"),
            "failed": [_row(r) for r in failures],
        }

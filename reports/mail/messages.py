"""The envelope of every message hashmon sends (sender, recipients, subject, date, id),
and the short message of ``hashmon email-test``."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from monitor.settings import Email


def addressed(email: Email, subject_line: str) -> EmailMessage:
    """Return an empty message with the configured sender, recipients and ``subject_line``."""
    msg = EmailMessage()
    msg["Subject"] = subject_line
    msg["From"] = email.sender
    msg["To"] = ", ".join(email.to)
    if email.cc:
        msg["Cc"] = ", ".join(email.cc)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=email.sender.rsplit("@", 1)[-1])
    return msg


def trial_message(email: Email, when: dt.datetime | None = None) -> EmailMessage:
    """Return the short message ``hashmon email-test`` sends."""
    moment = (when or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    # [email] subject_prefix is one line (config): the subject needs no cleaning
    msg = addressed(email, f"{email.subject_prefix} hashmon e-mail test".strip())
    msg.set_content(
        f"This is a test from hashmon, sent {moment}.\n\n"
        "If you can read it, daily digests and alerts will reach this address.\n"
    )
    return msg

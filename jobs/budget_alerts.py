"""The 50, 80 and 100 % budget alerts by e-mail: each threshold once a month.

A pass records each threshold of the month's cap or budget it finds crossed in
``budget_alerts`` and logs it (``monitor.budget.new_alerts``); this module turns the
recorded thresholds into messages. Which ones have gone is read back from
``email_sends`` (kind "budget", ``what`` "2017-06 80 %"), so neither a restart nor a
second runner sends one twice. jobs/alerts.py's background check sends them, after the
pass has let go of the collector lease, so no pass waits for an SMTP server.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from sqlalchemy import Engine, inspect, select

from jobs.delivery import email_settings
from monitor.budget import Alert, month_alerts
from monitor.settings import Settings
from monitor.store.sends import EmailSend
from reports.mail.messages import addressed

KIND = "budget"  # the email_sends kind of these messages


def alert_key(alert: Alert) -> str:
    """Return what a send of this alert is recorded as: its month and threshold."""
    return f"{alert.month} {alert.threshold} %"


def pending(engine: Engine, now: dt.datetime) -> list[Alert]:
    """Return this month's recorded thresholds that no message has gone out for yet.

    Raises SQLAlchemyError when the database cannot be read.
    """
    recorded = month_alerts(engine, now)
    if not recorded:
        return []
    t = EmailSend.__table__
    with engine.connect() as conn:
        if not inspect(conn).has_table(EmailSend.__tablename__):
            return recorded
        gone = set(
            conn.execute(
                select(t.c.what).where(
                    t.c.kind == KIND,
                    t.c.status == "sent",
                    t.c.what.in_([alert_key(a) for a in recorded]),
                )
            ).scalars()
        )
    return [a for a in recorded if alert_key(a) not in gone]


def budget_message(settings: Settings, alert: Alert) -> EmailMessage:
    """Return the e-mail of one threshold: what was used, what it means, what to do."""
    email = email_settings(settings)
    used = f"{alert.threshold} % of the month's X cap or budget used"
    subject = f"{email.subject_prefix} #{settings.campaign.name} ALERT: {used}".strip()
    if alert.threshold >= 100:
        meaning = (
            "collection has stopped until the month ends (UTC): no new posts are collected, "
            "so the figures stop growing"
        )
        todo = (
            "raise [x] monthly_budget or [x] monthly_post_cap in the config if your X "
            "account allows it, or wait for the month's reset"
        )
    else:
        meaning = (
            "collection goes on; at 100 % it stops until the month ends and the figures "
            "stop growing"
        )
        todo = (
            "run hashmon plan: it forecasts the rest of the campaign and names the setting "
            "to change (refreshes, their interval) to stay within the cap or budget"
        )
    msg = addressed(email, " ".join(subject.split()))
    msg.set_content(
        f"What happened: {alert.message}\n"
        f"When: {alert.crossed_at or 'unknown'} (UTC)\n"
        f"What it means for the figures: {meaning}\n"
        f"What to do: {todo}\n\n"
        "You get one message for each of 50, 80 and 100 % a month; hashmon status "
        "shows the month's reads and spend.\n"
    )
    return msg

"""``hashmon run``'s e-mail of each scheduled report, retried without holding anything up.

Called by the scheduler's report jobs after the files are written (never while holding
the collector lease: report jobs do not take it). A failed send is logged, recorded
(``monitor.store.sends``) and retried with a growing pause for up to ``RETRY_FOR_SECONDS``;
it runs in the report job's own worker thread, so collection keeps its schedule.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Engine

from jobs.delivery import Delivered, email_report
from monitor.errors import DeliveryError, HashmonError
from monitor.settings import Settings

log = logging.getLogger(__name__)

RETRY_FOR_SECONDS = 3600.0
FIRST_PAUSE_SECONDS = 60.0
LONGEST_PAUSE_SECONDS = 900.0


def retry_pauses(
    total: float = RETRY_FOR_SECONDS,
    first: float = FIRST_PAUSE_SECONDS,
    longest: float = LONGEST_PAUSE_SECONDS,
) -> list[float]:
    """Return the pauses between attempts: doubling from ``first``, capped, ``total`` at most."""
    pauses, pause, spent = [], first, 0.0
    while spent + pause <= total:
        pauses.append(pause)
        spent += pause
        pause = min(pause * 2, longest)
    return pauses


def send_scheduled_digest(
    settings: Settings,
    engine: Engine,
    written: Iterable[Path] | None,
    *,
    stop: threading.Event | None = None,
    pauses: list[float] | None = None,
    wait: Callable[[float], bool] | None = None,
) -> Delivered | None:
    """E-mail the digest of a report just written, when ``[email] send_reports`` says so.

    Returns what was sent, or None (no ``[email]``, sending off, no JSON written, or every
    attempt failed: each failure is logged and recorded). Waits between attempts with
    ``wait`` (default: ``stop.wait``), and gives up at once when ``stop`` is set.
    """
    email = settings.email
    if email is None or not email.send_reports:
        return None
    report_json = next((Path(p) for p in written or () if Path(p).suffix == ".json"), None)
    if report_json is None:
        log.warning('e-mail: no JSON report was written, so no digest; add "json" to formats')
        return None
    stop = stop or threading.Event()
    wait = wait or stop.wait
    pauses = retry_pauses() if pauses is None else pauses
    for attempt in range(len(pauses) + 1):
        try:
            delivered = email_report(settings, engine, report_json)
        except DeliveryError as exc:
            if attempt == len(pauses):
                log.error("%s; gave up after %d attempts", exc, attempt + 1)
                return None
            log.warning("%s; retrying in %.0f s", exc, pauses[attempt])
            if wait(pauses[attempt]) or stop.is_set():
                log.warning("e-mail of %s abandoned: hashmon is stopping", report_json.name)
                return None
            continue
        except HashmonError as exc:  # unreadable report files: a retry will not help
            log.error("e-mail of %s not sent: %s", report_json.name, exc)
            return None
        log.info("%s", delivered.describe())
        return delivered
    return None

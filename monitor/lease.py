"""One collector at a time per database: a named lease row that expires.

A pass takes the lease (row ``leases.name``) before it talks to the API, renews it as
it goes (each page, and while it sleeps out a rate limit) and releases it at the end.
A holder that is killed cannot release it, so the lease expires after ``seconds``; a
holder on this host whose process is gone is taken over at once.

Taking it is one write transaction with a conditional statement, so two processes (or
threads) racing for it on SQLite or PostgreSQL never both win: on SQLite the
transaction begins IMMEDIATE (one writer); on PostgreSQL the UPDATE's row lock makes
the loser re-check the condition, and ``INSERT .. ON CONFLICT DO NOTHING`` lets one
insert win.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import Connection

from monitor.errors import LockedError
from monitor.store import schema
from monitor.store.engine import writing
from monitor.times import utc_text

log = logging.getLogger(__name__)

COLLECTOR = "collector"  # the lease every API-reading pass (collect, backfill, refresh) takes
DEFAULT_SECONDS = 180.0  # long enough to outlive a slow page, short enough after a crash
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class LeaseRow:
    name: str
    holder: str
    expires_at: str


def new_holder() -> str:
    """Return a holder id for this process: host, pid, and a random part for this lease."""
    host = socket.gethostname()[:80]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    """Return True when ``holder`` names a process on this host that no longer exists."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname()[:80] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # another thread of ours: alive by definition
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists but not ours to signal
    return False


def read_lease(engine: Engine, name: str = COLLECTOR) -> LeaseRow | None:
    """Return the lease row ``name`` (held or expired), or None if never taken."""
    table = schema.Lease.__table__
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.name, table.c.holder, table.c.expires_at).where(table.c.name == name)
        ).first()
    return LeaseRow(*row) if row else None


class Lease:
    """A lease on ``name`` for ``holder``; use ``acquire``/``release`` or ``held(...)``."""

    def __init__(
        self,
        engine: Engine,
        name: str = COLLECTOR,
        *,
        seconds: float = DEFAULT_SECONDS,
        holder: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.seconds = seconds
        self.holder = holder or new_holder()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.taken = False

    def _times(self) -> tuple[str, str]:
        now = self._clock()
        return utc_text(now), utc_text(now + dt.timedelta(seconds=self.seconds))

    def try_acquire(self) -> LeaseRow | None:
        """Return None having taken the lease (free, expired or ours), else the holder's row."""
        now, expires = self._times()
        params = {"name": self.name, "holder": self.holder, "now": now, "expires": expires}
        with writing(self.engine) as conn:
            taken = conn.execute(
                text(
                    "UPDATE leases SET holder = :holder, expires_at = :expires "
                    "WHERE name = :name AND (expires_at < :now OR holder = :holder)"
                ),
                params,
            ).rowcount
            if not taken:
                taken = conn.execute(
                    text(
                        "INSERT INTO leases (name, holder, expires_at) "
                        "VALUES (:name, :holder, :expires) ON CONFLICT (name) DO NOTHING"
                    ),
                    params,
                ).rowcount
            if not taken:
                row = conn.execute(
                    text("SELECT name, holder, expires_at FROM leases WHERE name = :name"),
                    params,
                ).first()
                if row is not None and _holder_is_dead(row.holder):
                    # the holder died on this host: take over now rather than wait for expiry
                    taken = conn.execute(
                        text(
                            "UPDATE leases SET holder = :holder, expires_at = :expires "
                            "WHERE name = :name AND holder = :old"
                        ),
                        {**params, "old": row.holder},
                    ).rowcount
                    if taken:
                        log.warning(
                            "took over the %s lease of dead process %s", self.name, row.holder
                        )
        if taken:
            self.taken = True
            return None
        return LeaseRow(*row) if row is not None else LeaseRow(self.name, "?", "?")

    def acquire(
        self,
        wait_seconds: float = 0.0,
        *,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Take the lease, waiting up to ``wait_seconds`` for its holder to finish.

        Raises LockedError naming the holder and when its lease expires at the latest.
        """
        deadline = time.monotonic() + wait_seconds
        logged = False
        while True:
            other = self.try_acquire()
            if other is None:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockedError(
                    f"another collector ({other.holder}) is running a pass on this database "
                    f"(its lease runs until {other.expires_at[:19]}Z at the latest); "
                    "wait for it to finish, or let the scheduler (hashmon run) collect"
                )
            if not logged:
                log.warning("waiting for the pass of %s to finish", other.holder)
                logged = True
            sleep(min(poll_seconds, left))

    def renew(self) -> None:
        """Push the expiry ``seconds`` ahead; raise LockedError if the lease was lost."""
        now, expires = self._times()
        with writing(self.engine) as conn:
            kept = conn.execute(
                text(
                    "UPDATE leases SET expires_at = :expires "
                    "WHERE name = :name AND holder = :holder"
                ),
                {"name": self.name, "holder": self.holder, "expires": expires},
            ).rowcount
        if not kept:
            self.taken = False
            raise LockedError(
                f"lost the {self.name} lease (it expired and another collector took it); "
                "this pass stops, the other one carries on"
            )

    def confirm(self, conn: Connection) -> None:
        """Renew the lease inside ``conn``'s write transaction, or raise LockedError.

        A pass calls it in the transaction of every page it stores: the page is written
        only if the lease is still ours and unexpired at that moment, so a pass that
        outlived its lease (a page dripped over minutes while another collector took
        the expired lease) rolls its page back instead of overwriting the newer pass's
        checkpoint. The row lock (PostgreSQL) or the write lock (SQLite's BEGIN
        IMMEDIATE) holds until the commit, so no other holder can slip in between.
        """
        now, expires = self._times()
        kept = conn.execute(
            text(
                "UPDATE leases SET expires_at = :expires "
                "WHERE name = :name AND holder = :holder AND expires_at > :now"
            ),
            {"name": self.name, "holder": self.holder, "expires": expires, "now": now},
        ).rowcount
        if not kept:
            self.taken = False
            raise LockedError(
                f"lost the {self.name} lease before storing a page (it expired, and another "
                "collector may hold it); this pass stops without writing, the next one resumes"
            )

    def release(self) -> None:
        """Give the lease up (only if still ours)."""
        if not self.taken:
            return
        with writing(self.engine) as conn:
            conn.execute(
                text("DELETE FROM leases WHERE name = :name AND holder = :holder"),
                {"name": self.name, "holder": self.holder},
            )
        self.taken = False


@contextmanager
def held(
    engine: Engine,
    name: str = COLLECTOR,
    *,
    wait_seconds: float = 0.0,
    seconds: float = DEFAULT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Lease]:
    """Yield the lease ``name`` taken for this block, released when the block ends.

    Raises LockedError when another holder keeps it beyond ``wait_seconds``.
    """
    lease = Lease(engine, name, seconds=seconds)
    lease.acquire(wait_seconds, poll_seconds=poll_seconds, sleep=sleep)
    try:
        yield lease
    finally:
        lease.release()

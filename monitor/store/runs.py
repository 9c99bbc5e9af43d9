"""Runs and checkpoints: the record of every run, and where a source's next pass starts.

Every run (a collect, backfill or refresh pass, an import, a report) is recorded by
``recorded_run``: its ``collection_runs`` row says "running" while it runs and is closed
with its status, message and counts whatever ends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import DatabaseError, HashmonError, PassStopped, SourceError, db_detail
from monitor.store.engine import writing
from monitor.store.schema import Checkpoint, CollectionRun
from monitor.times import now_text, utc_text

#: kinds of run that read the API: one at a time (the collector lease), and the posts
#: they read count against the monthly post cap
PASS_KINDS = ("collect", "backfill", "refresh")


def start_run(conn: Connection, kind: str, started_at: str | None = None) -> int:
    """Insert a collection run in status ``running`` and return its id."""
    result = conn.execute(
        CollectionRun.__table__.insert().values(
            kind=kind,
            started_at=started_at or now_text(),
            status="running",
            requests=0,
            pages=0,
            posts_read=0,
            posts_new=0,
            posts_updated=0,
            errors=0,
        )
    )
    return int(result.inserted_primary_key[0])


def finish_run(conn: Connection, run_id: int, status: str, **counts: Any) -> None:
    """Close a run with its final status and counts."""
    conn.execute(
        CollectionRun.__table__.update()
        .where(CollectionRun.id == run_id)
        .values(status=status, finished_at=counts.pop("finished_at", None) or now_text(), **counts)
    )


# --- the run recorder -------------------------------------------------------------------


@dataclass
class Tally:
    """What a run did: the counts its row is closed with. A pass's result extends it."""

    run_id: int = 0
    pages: int = 0
    posts_read: int = 0
    new: int = 0
    updated: int = 0
    requests: int = 0
    gap: tuple[str | None, str | None] | None = None  # (from, to) of posts out of reach
    stopped_early: str | None = None  # why a pass stopped before the end, if it did
    skipped: int = 0  # items that could not be used (a pass), bad lines skipped (an import)
    first_problem: str | None = None
    refused: int = 0  # files an import refused (each one an error of the run)


@contextmanager
def recorded_run(
    db: Engine | Connection,
    kind: str,
    what: str,
    *,
    started_at: str | None = None,
    finished_at: str | None = None,
    tally: Tally | None = None,
    requests: Callable[[], int] | None = None,
) -> Iterator[Tally]:
    """Record the block as one run of ``kind``; yield its tally, ``run_id`` set.

    On an Engine the row is started and closed in transactions of their own, so it is
    closed whatever ends the block. On a Connection (an import, one transaction) both
    are written in the caller's transaction: a failure rolls the run back with its data.
    ``what`` names the work; ``requests`` reads the source's request counter;
    ``started_at``/``finished_at`` stamp the row (the wall clock when None).

    A pass (PASS_KINDS): a PassStopped ends it early without failing it; a failure is
    re-raised as one line (DatabaseError or SourceError: the SQL statement and its
    parameters, post text, never reach a message); Ctrl-C records "interrupted". Any
    other run says ``what``, or ``what: error`` when it failed, re-raised as it is.
    """
    tally = tally if tally is not None else Tally()
    within = isinstance(db, Connection)
    if within:
        tally.run_id = start_run(db, kind, started_at)
    else:
        with writing(db) as conn:
            tally.run_id = start_run(conn, kind, started_at)
    first_request = requests() if requests is not None else 0
    passing = kind in PASS_KINDS
    try:
        yield tally
    except BaseException as exc:
        if within:
            raise
        status, message, raised = (_pass_failure if passing else _job_failure)(what, exc, tally)
        if requests is not None:
            tally.requests = requests() - first_request
        _close(db, tally, status, message, finished_at)
        if raised is exc:
            raise
        if raised is not None:
            raise raised from exc
        return
    if requests is not None:
        tally.requests = requests() - first_request
    if tally.refused:
        what = f"{what}, {tally.refused} refused"
    _close(db, tally, "ok", None if passing else what, finished_at)


def _pass_failure(
    what: str, exc: BaseException, tally: Tally
) -> tuple[str, str, BaseException | None]:
    """Return the status and message a pass's failure records, and what to raise (None: nothing)."""
    if isinstance(exc, PassStopped):
        # between pages: what is stored stays stored and the checkpoint says where to resume
        tally.stopped_early = str(exc)
        return exc.status, str(exc), None
    if isinstance(exc, HashmonError):
        return "failed", str(exc), exc
    if isinstance(exc, SQLAlchemyError):
        message = f"database failure: {db_detail(exc)}"
        return (
            "failed",
            message,
            DatabaseError(
                f"{what} stopped by a {message}; what was stored stays stored and the next "
                "pass resumes: check the database"
            ),
        )
    if isinstance(exc, Exception):
        message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return "failed", message, SourceError(f"{what} failed: {message}")
    # Ctrl-C or SystemExit mid-pass: without this the run would be recorded as "ok"
    return "interrupted", f"interrupted ({type(exc).__name__}); the next pass resumes", exc


def _job_failure(
    what: str, exc: BaseException, _tally: Tally
) -> tuple[str, str, BaseException | None]:
    """Return the status and message of a failed report (or other job); it is re-raised."""
    if isinstance(exc, HashmonError):
        return "failed", f"{what}: {exc}", exc
    # one line: a database error's text would carry its SQL statement and parameters
    return "failed", f"{what}: {type(exc).__name__}: {db_detail(exc)}", exc


def _close(
    db: Engine | Connection,
    tally: Tally,
    status: str,
    message: str | None,
    finished_at: str | None = None,
) -> None:
    if tally.stopped_early and status == "ok":
        status, message = "stopped", tally.stopped_early
    if tally.skipped and message is None:
        message = f"skipped {tally.skipped} unusable item(s), first: {tally.first_problem}"
    gap = tally.gap
    counts = {
        "requests": tally.requests,
        "pages": tally.pages,
        "posts_read": tally.posts_read,
        "posts_new": tally.new,
        "posts_updated": tally.updated,
        "errors": (0 if status in ("ok", "stopped", "interrupted") else 1)
        + tally.skipped
        + tally.refused,
        "message": message,
        "gap_from": gap[0] if gap else None,
        "gap_to": gap[1] if gap else None,
        "finished_at": finished_at,
    }
    if isinstance(db, Connection):
        finish_run(db, tally.run_id, status, **counts)
        return
    with writing(db) as conn:
        finish_run(conn, tally.run_id, status, **counts)


def close_abandoned_runs(engine: Engine, now: dt.datetime | None = None) -> int:
    """Mark passes a killed process left "running" as "interrupted"; return how many.

    Call it holding the collector lease: no other collect, backfill or refresh can be
    running then, so any such row belongs to a pass whose process died.
    """
    table = CollectionRun.__table__
    with writing(engine) as conn:
        result = conn.execute(
            table.update()
            .where(table.c.status == "running", table.c.kind.in_(PASS_KINDS))
            .values(
                status="interrupted",
                finished_at=utc_text(now or dt.datetime.now(dt.UTC)),
                message="the process stopped mid-pass (killed?); the next pass resumed it",
            )
        )
    return result.rowcount


# --- checkpoints ------------------------------------------------------------------------


def read_checkpoint(engine: Engine, name: str) -> Row | None:
    """Return the checkpoint row of a source (columns as attributes), or None."""
    # a Core connection returns column rows, not ORM objects: row[0] would be the name
    with engine.connect() as conn:
        return conn.execute(select(Checkpoint.__table__).where(Checkpoint.name == name)).first()


def save_checkpoint(conn: Connection, name: str, **values: str | None) -> None:
    """Write a source's checkpoint columns in the caller's transaction."""
    table = Checkpoint.__table__
    values["updated_at"] = now_text()
    exists = conn.execute(select(table.c.name).where(table.c.name == name)).first()
    if exists:
        conn.execute(table.update().where(table.c.name == name).values(**values))
    else:
        conn.execute(table.insert().values(name=name, **values))

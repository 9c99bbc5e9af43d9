"""Refresh engagement counts: look stored posts up again and append what the API says now.

Each lookup page is one more sighting of its posts, stored through ``store_batch``,
so counts follow METRICS.md (latest observation wins, a missing count keeps its value)
and content and first-sighting followers never change. Retweets are skipped: their
counts belong to their originals. One lookup request (up to ``lookup_batch`` ids) is
committed at a time, so an interrupted refresh keeps what it read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from monitor.budget import cut
from monitor.collect import store_pages
from monitor.sources.base import Source
from monitor.store.runs import Tally, recorded_run
from monitor.store.schema import Post
from monitor.times import epoch_us, utc_text

log = logging.getLogger(__name__)


@dataclass
class RefreshResult(Tally):
    """What a refresh did; ``posts_read`` counts the posts the API returned (deleted or
    protected ones are not)."""

    candidates: int = 0  # stored posts due a refresh
    asked: int = 0  # ids sent in lookups (the budget may cut candidates)


def refresh_candidates(engine: Engine, platform: str, since: dt.datetime) -> list[str]:
    """Return ids of stored non-retweet posts created at or after ``since``, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Post.id)
            .where(
                Post.platform == platform,
                Post.kind != "retweet",
                Post.created_at_us >= epoch_us(since),
            )
            .order_by(Post.created_at_us.desc(), Post.id.desc())
        ).scalars()
        return list(rows)


def refresh_metrics(
    engine: Engine,
    source: Source,
    *,
    since: dt.datetime,
    now: dt.datetime | None = None,
    budget: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    guard: Callable[[Connection], None] | None = None,
) -> RefreshResult:
    """Re-read the counts of posts created since ``since``; return what the refresh did.

    ``budget`` caps how many ids are looked up (each returned post counts against the
    monthly cap); the newest posts go first. The run is recorded in ``collection_runs``
    as kind "refresh". ``on_batch`` is called after each committed lookup and may raise
    PassStopped. ``guard(conn)`` runs in each lookup's write transaction (the lease's
    ``confirm``). Raises SourceError when the source fails for good.
    """
    seen_at = utc_text(now or dt.datetime.now(dt.UTC))
    result = RefreshResult()
    with recorded_run(
        engine,
        "refresh",
        "refresh",
        started_at=seen_at,
        tally=result,
        requests=lambda: source.requests,
    ):
        ids = refresh_candidates(engine, source.platform, since)
        result.candidates = len(ids)
        ids, result.stopped_early = cut(ids, budget)
        batch = source.lookup_batch
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            result.asked += len(chunk)
            also = None if guard is None else (lambda conn, _page: guard(conn))
            pages = store_pages(
                engine, source.lookup(chunk), source.platform, result, seen_at, also=also
            )
            for _stored in pages:
                pass
            if on_batch is not None:
                on_batch(len(chunk))
    return result

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

from monitor.collect import usable_records
from monitor.sources.base import Source
from monitor.store.engine import writing
from monitor.store.runs import Tally, recorded_run
from monitor.store.schema import Post
from monitor.store.writes import store_batch
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
) -> RefreshResult:
    """Re-read the counts of posts created since ``since``; return what the refresh did.

    ``budget`` caps how many ids are looked up (each returned post counts against the
    monthly cap); the newest posts go first. The run is recorded in ``collection_runs``
    as kind "refresh". ``on_batch`` is called after each committed lookup and may raise
    PassStopped. Raises SourceError when the source fails for good.
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
        if budget is not None and len(ids) > budget:
            ids = ids[: max(budget, 0)]
            result.stopped_early = (
                f"refreshed the newest {len(ids)} of {result.candidates} posts: the monthly "
                "post cap allows no more"
            )
            log.warning(result.stopped_early)
        batch = source.lookup_batch
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            result.asked += len(chunk)
            for page in source.lookup(chunk):
                records, problems = usable_records(page, source.platform)
                if problems:
                    result.skipped += len(problems)
                    result.first_problem = result.first_problem or problems[0]
                    log.warning("skipped %d unusable item(s): %s", len(problems), problems[0])
                with writing(engine) as conn:
                    new, updated = store_batch(
                        conn, records.posts, records.authors, run_id=result.run_id, seen_at=seen_at
                    )
                result.pages += 1
                result.posts_read += len(records.posts)
                result.new += new
                result.updated += updated
            if on_batch is not None:
                on_batch(len(chunk))
    return result

"""Refresh engagement counts: look stored posts up again and append what the API says now.

Each lookup page is one more sighting of its posts, stored through ``store_batch``,
so counts follow METRICS.md (latest observation wins, a missing count keeps its value)
and content and first-sighting followers never change. Retweets are skipped: their
counts belong to their originals. One lookup request (up to ``lookup_batch`` ids) is
committed at a time, so an interrupted refresh keeps what it read.

The lookup's ``errors`` for the ids asked about say which posts are gone: "not found"
(deleted) or "not authorized" (protected, withheld). Such a post is marked gone and its
text erased in the page's own transaction (METRICS.md "Deleted and withheld posts");
any other error changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from monitor.budget import cut
from monitor.collect import store_pages
from monitor.sources.base import Page, Source
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
    gone: int = 0  # posts the API answered as deleted or not authorized


# the problem types of X API v2 that mean the post is no longer public, and why
GONE_TYPES = {
    "https://api.twitter.com/2/problems/resource-not-found": "deleted",
    "https://api.twitter.com/2/problems/not-authorized-for-resource": "withheld",
}


def gone_ids(page: Page, asked: Sequence[str]) -> dict[str, str]:
    """Return {id: "deleted" | "withheld"} for the asked ids the page's errors say are gone.

    An error names its post in ``resource_id`` (or ``value``); errors of any other type,
    or naming an id that was not asked about, are ignored.
    """
    wanted = set(asked)
    out: dict[str, str] = {}
    errors = page.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        reason = GONE_TYPES.get(str(error.get("type", "")))
        post_id = str(error.get("resource_id") or error.get("value") or "")
        if reason is not None and post_id in wanted:
            out[post_id] = reason
    return out


def mark_gone(conn: Connection, platform: str, gone: dict[str, str], seen_at: str) -> int:
    """Mark posts gone and erase their text; return how many were newly marked."""
    marked = 0
    for post_id, reason in sorted(gone.items()):
        marked += conn.execute(
            update(Post)
            .where(Post.platform == platform, Post.id == post_id, Post.gone_at.is_(None))
            .values(text="", gone_at=seen_at, gone_reason=reason)
        ).rowcount
    return marked


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

            def also(conn: Connection, page: Page, chunk: list[str] = chunk) -> None:
                if guard is not None:
                    guard(conn)  # still holding the lease, in this page's transaction
                result.gone += mark_gone(conn, source.platform, gone_ids(page, chunk), seen_at)

            pages = store_pages(
                engine, source.lookup(chunk), source.platform, result, seen_at, also=also
            )
            for _stored in pages:
                pass
            if on_batch is not None:
                on_batch(len(chunk))
    return result

"""One collection pass: source pages -> normalise -> store, committed page by page.

Search pages come newest first, so the checkpoint (``newest_id``) moves only when a pass
ends. While a pass runs, each page's transaction also records how far down it got
(``pass_newest_id``, ``pass_oldest_id``): a pass that dies on page 6 is resumed by the
next one, which first fetches what lies between the old checkpoint and the oldest post
stored, then what is new. Every post is stored once, whatever page the crash hit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from monitor.budget import spent
from monitor.normalize import (
    PageError,
    PageRecords,
    normalize_page,
    parse_created_at,
)
from monitor.sources.base import Page, SinceIdTooOld, Source, page_id_range
from monitor.store.engine import writing
from monitor.store.runs import Tally, read_checkpoint, recorded_run, save_checkpoint
from monitor.store.schema import Post
from monitor.store.writes import record_reads, store_batch
from monitor.times import from_epoch_us, utc_text

log = logging.getLogger(__name__)


class PassResult(Tally):
    """What a collect or backfill pass did (its run's counts)."""


def _id_key(i: str) -> tuple[int, str]:
    return (len(i), i)


def usable_records(page: Page, platform: str) -> tuple[PageRecords, list[str]]:
    """Return the records of a page from a live source, and what in it could not be used.

    A page that normalises whole gives all its records. One that does not (a post whose
    id is not a number or whose text is not a string, ``data`` of the wrong shape) gives
    the posts that normalise one by one, each with the page's includes, and the
    problems: a live pass skips what it cannot use and goes on, instead of failing on the
    same page at every pass for the rest of the week. (An import refuses such a file.)
    """
    try:
        return normalize_page(page, platform), []
    except PageError as exc:
        whole = str(exc)
    data = page.get("data") if isinstance(page, dict) else None
    if not isinstance(data, list):
        return PageRecords([], [], 0, None), [whole]
    posts, authors, problems = [], {}, []
    for item in data:
        try:
            records = normalize_page({**page, "data": [item]}, platform)
        except PageError as exc:
            problems.append(str(exc))
            continue
        posts += records.posts
        for author in records.authors:
            authors.setdefault(author.id, author)
    return PageRecords(posts, list(authors.values()), 0, None), problems


def _digit_string(value: object) -> str | None:
    """Return ``value`` if it is a string of ASCII digits (an id as the API gives it), else None."""
    return value if isinstance(value, str) and value.isascii() and value.isdigit() else None


def newer(a: str | None, b: str | None) -> str | None:
    """Return the larger of two decimal ids (None counts as smallest)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=_id_key)


def _oldest_created(page: Page) -> str | None:
    data = page.get("data") or []
    times = [
        ms
        for i in data
        if isinstance(i, dict) and (ms := parse_created_at(i.get("created_at"))) is not None
    ]
    return utc_text(from_epoch_us(min(times))) if times else None


def collect_pass(
    engine: Engine,
    source: Source,
    *,
    now: dt.datetime | None = None,
    budget: int | None = None,
    on_page: Callable[[int], None] | None = None,
    kind: str = "collect",
    guard: Callable[[Connection], None] | None = None,
) -> PassResult:
    """Run one search pass of ``source`` into the store and return what it did.

    ``budget`` is how many more posts may be read (the monthly cap); the pass asks for
    no page once it is spent. ``now`` stamps the sightings (the simulator's
    clock). ``kind`` names the run in ``collection_runs`` (collect, backfill). A
    PassStopped raised by the source or ``on_page`` ends the pass early without failing
    it. Raises SourceError when the source fails for good; pages already stored stay
    stored and the checkpoint stays where a rerun resumes correctly. ``guard(conn)`` runs
    in every write transaction of the pass (the lease's ``confirm``): raising there rolls
    that write back and ends the pass.
    """
    seen_at = utc_text(now or dt.datetime.now(dt.UTC))
    result = PassResult()
    with recorded_run(
        engine,
        kind,
        "collection",
        started_at=seen_at,
        tally=result,
        requests=lambda: source.requests,
    ):
        cp = read_checkpoint(engine, source.name)
        base = cp.newest_id if cp else None
        if cp is not None and cp.pass_oldest_id is not None:
            # an interrupted pass stored (pass_oldest_id .. pass_newest_id]; fetch the rest
            log.info("resuming an interrupted pass below id %s", cp.pass_oldest_id)
            _run_chain(
                engine,
                source,
                result,
                seen_at,
                budget,
                base,
                cp.pass_oldest_id,
                on_page,
                keep_newest=cp.pass_newest_id,
                guard=guard,
            )
            # a resume cut short (the cap) keeps its markers: the next pass resumes again
            base = newer(base, cp.pass_newest_id)
        if result.stopped_early is None:
            _run_chain(engine, source, result, seen_at, budget, base, None, on_page, guard=guard)
    return result


def _created_text(engine: Engine, platform: str, post_id: str | None) -> str | None:
    """Return when a stored post was created, as UTC text (the start of a gap)."""
    if post_id is None:
        return None
    with engine.connect() as conn:
        ms = conn.execute(
            select(Post.created_at_us).where(Post.platform == platform, Post.id == post_id)
        ).scalar()
    if ms is None:
        return None
    return utc_text(from_epoch_us(ms))


def _pages(
    engine: Engine, source: Source, since_id: str | None, until_id: str | None, result: PassResult
) -> Iterator[Page]:
    try:
        yield from source.search(since_id=since_id, until_id=until_id)
    except SinceIdTooOld:
        # an outage longer than the search window: take what it still holds, record the gap
        log.warning("checkpoint %s is beyond the search window; collecting what it holds", since_id)
        result.gap = (_created_text(engine, source.platform, since_id), None)
        yield from source.search(since_id=None, until_id=until_id)


def store_pages(
    engine: Engine,
    pages: Iterable[Page],
    platform: str,
    result: Tally,
    seen_at: str,
    *,
    also: Callable[[Connection, Page], None] | None = None,
) -> Iterator[tuple[Page, PageRecords]]:
    """Store each page's usable records in a transaction of its own; yield it once committed.

    The one page-storing loop of collect, backfill and refresh. ``also(conn, page)``
    writes more in the page's transaction (a pass's checkpoint). ``result`` counts
    pages, posts read, new and already-stored posts, and what could not be used.
    """
    for page in pages:
        records, problems = usable_records(page, platform)
        if problems:
            result.skipped += len(problems)
            result.first_problem = result.first_problem or problems[0]
            log.warning(
                "skipped %d unusable item(s) of page %d: %s",
                len(problems),
                result.pages + 1,
                problems[0],
            )
        with writing(engine) as conn:
            new, updated = store_batch(
                conn, records.posts, records.authors, run_id=result.run_id, seen_at=seen_at
            )
            record_reads(conn, records.posts, seen_at)
            if also is not None:
                also(conn, page)
        result.pages += 1
        result.posts_read += len(records.posts)
        result.new += new
        result.updated += updated
        yield page, records


def _run_chain(
    engine: Engine,
    source: Source,
    result: PassResult,
    seen_at: str,
    budget: int | None,
    since_id: str | None,
    until_id: str | None,
    on_page: Callable[[int], None] | None,
    keep_newest: str | None = None,
    guard: Callable[[Connection], None] | None = None,
) -> None:
    """Store one chain of pages (newest first), checkpointing each page with its posts.

    ``keep_newest`` is the newest id of an interrupted pass being resumed: it stays
    recorded, so a crash during the resume still ends with the right checkpoint.
    """
    chain_newest: str | None = keep_newest

    def checkpoint(conn: Connection, page: Page) -> None:
        nonlocal chain_newest
        if guard is not None:
            guard(conn)
        # a checkpoint must be an id X accepts back: never whatever a bad page claimed
        newest, oldest = (_digit_string(i) for i in page_id_range(page))
        chain_newest = newer(chain_newest, newest)
        if oldest is not None:
            save_checkpoint(
                conn,
                source.name,
                newest_id=since_id,
                pass_newest_id=chain_newest,
                pass_oldest_id=oldest,
            )

    pages = _pages(engine, source, since_id, until_id, result)
    for page, records in store_pages(
        engine, pages, source.platform, result, seen_at, also=checkpoint
    ):
        if result.gap is not None:
            # pages come newest first: the last page's oldest post closes the gap
            result.gap = (result.gap[0], _oldest_created(page) or result.gap[1])
        if on_page is not None:
            on_page(len(records.posts))
        # (XSource also shrinks its last request so it never crosses the cap)
        if (why := spent(budget, result.posts_read)) is not None:
            result.stopped_early = why
            return  # the markers stay: the next pass (next month) resumes below this page
    if chain_newest is not None or since_id is not None:
        with writing(engine) as conn:
            if guard is not None:
                guard(conn)
            save_checkpoint(
                conn,
                source.name,
                newest_id=newer(since_id, chain_newest),
                pass_newest_id=None,
                pass_oldest_id=None,
            )

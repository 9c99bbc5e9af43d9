"""The passes behind ``collect``, ``backfill`` and ``refresh-metrics``, run or scheduled.

Each API-reading job takes the collector lease (one at a time per database), works out
what is left of this calendar month's post cap, and hands a source to the pass in
``monitor``. The CLI calls these directly; the scheduler (jobs/schedule.py) calls them
from its job functions. Setting ``STOP`` (the scheduler's signal handlers do) makes a
running pass stop between pages, or during a retry wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from monitor import lease
from monitor.budget import cap_reached, new_alerts, remaining_budget
from monitor.collect import PassResult, collect_pass
from monitor.errors import HashmonError, PassStopped, UsageError
from monitor.refresh import RefreshResult
from monitor.refresh import refresh_metrics as refresh_pass
from monitor.settings import Settings
from monitor.sources.base import Source
from monitor.store.runs import close_abandoned_runs, recorded_run
from monitor.times import local_midnight, utc_text

log = logging.getLogger(__name__)

#: set to stop the pass under way at its next page (the scheduler's SIGTERM/SIGINT handler)
STOP = threading.Event()
COLLECT_WAIT_SECONDS = 60.0  # a manual pass waits this long for one in progress
RENEW_EVERY_SECONDS = 30.0  # lease renewal while sleeping out a retry or a rate limit
FULL_ARCHIVE_NEEDED = (
    "backfill needs full-archive search access (X Pro or Enterprise); "
    "set [x] full_archive = true if your account has it"
)


# --- sources and pass plumbing --------------------------------------------------------


def make_source(settings: Settings, *, sleep: Callable[[float], None] | None = None) -> Source:
    """Return the configured live source: X (token from the environment) or the simulator.

    Raises ConfigError when X is configured and ``HASHMON_X_BEARER_TOKEN`` is not set.
    """
    if settings.source.kind == "simulated":
        from monitor.sources.simulated import SimulatedSource

        # outside the demo there is no simulated clock to move: serve the campaign as it
        # stands at its end, all of it within reach, so one collect gets the whole week
        source = SimulatedSource(settings)
        source.search_reach = dt.timedelta(days=36_500)
        return source
    from monitor.sources.x import XSource

    return XSource(settings, sleep=sleep) if sleep is not None else XSource(settings)


def _interrupted(what: str) -> PassStopped:
    return PassStopped(f"stopped on request {what}; the next pass resumes", status="interrupted")


def _patient_sleep(
    held: lease.Lease, stop: threading.Event, sleep: Callable[[float], None] | None
) -> Callable[[float], None]:
    """Return a sleep that keeps the lease alive and wakes up (raising) when ``stop`` is set."""

    def wait(seconds: float) -> None:
        left = seconds
        while left > 0:
            chunk = min(left, RENEW_EVERY_SECONDS)
            if sleep is None:
                stop.wait(chunk)
            else:
                sleep(chunk)
            left -= chunk
            if stop.is_set():
                raise _interrupted("while waiting to retry")
            held.renew()

    return wait


def _lease_poll(stop: threading.Event) -> Callable[[float], None]:
    """Return the sleep between looks at a busy lease: a stop request ends the wait."""

    def poll(seconds: float) -> None:
        if stop.wait(seconds):
            raise _interrupted("while waiting for the pass in progress")

    return poll


def _between_pages(held: lease.Lease, stop: threading.Event) -> Callable[[int], None]:
    def on_page(_posts: int) -> None:
        held.renew()
        if stop.is_set():
            raise _interrupted("between pages")

    return on_page


@contextmanager
def _prepared(
    source: Source, held: lease.Lease, stop: threading.Event, budget: int | None
) -> Iterator[Source]:
    """Yield the source with this month's budget and a lease-renewing, stoppable sleep."""
    saved = {k: getattr(source, k) for k in ("sleep", "budget") if hasattr(source, k)}
    if "sleep" in saved:
        # the real sleep becomes a wait on ``stop``, so a signal cuts a long wait short
        inner = saved["sleep"]
        source.sleep = _patient_sleep(held, stop, None if inner is time.sleep else inner)
    if "budget" in saved:
        source.budget = budget
    try:
        yield source
    finally:
        for key, value in saved.items():
            setattr(source, key, value)


def _record_stopped(engine: Engine, kind: str, message: str, now: dt.datetime | None) -> int:
    started = utc_text(now or dt.datetime.now(dt.UTC))
    what = "collection" if kind == "collect" else kind
    with recorded_run(engine, kind, what, started_at=started) as run:
        run.stopped_early = message
    return run.run_id


@dataclass(frozen=True)
class _Turn:
    """A pass's hold on the collector: the lease, this month's budget, and a stop flag."""

    held: lease.Lease
    stop: threading.Event
    budget: int | None
    #: (run id, message) of the "stopped" run recorded when the cap was already reached
    capped: tuple[int, str] | None

    def prepared(self, source: Source) -> AbstractContextManager[Source]:
        return _prepared(source, self.held, self.stop, self.budget)

    @property
    def on_page(self) -> Callable[[int], None]:
        return _between_pages(self.held, self.stop)


@contextmanager
def _turn(
    settings: Settings,
    engine: Engine,
    kind: str,
    *,
    now: dt.datetime | None,
    wait_seconds: float,
    stop: threading.Event | None,
) -> Iterator[_Turn]:
    """Take the lease (waiting up to ``wait_seconds``), tidy up after killed passes and
    work out the budget; with the cap already reached, record a "stopped" run of ``kind``.
    """
    stop = stop or STOP
    with lease.held(engine, wait_seconds=wait_seconds, sleep=_lease_poll(stop)) as held:
        close_abandoned_runs(engine, now)
        budget = remaining_budget(settings, engine, now)
        capped = None
        if budget is not None and budget <= 0:
            message = cap_reached(settings, engine, kind, now)
            capped = (_record_stopped(engine, kind, message, now), message)
        yield _Turn(held, stop, budget, capped)
        # 50, 80, 100 % of the cap or budget: logged once a month (monitor.budget.new_alerts)
        new_alerts(settings, engine, now)


# --- the jobs -------------------------------------------------------------------------


def collect(
    settings: Settings,
    engine: Engine,
    *,
    source: Source | None = None,
    now: dt.datetime | None = None,
    wait_seconds: float = COLLECT_WAIT_SECONDS,
    stop: threading.Event | None = None,
) -> PassResult:
    """Run one collection pass of the configured source and return what it did.

    Waits up to ``wait_seconds`` for a pass in progress (LockedError after that). Stops,
    with a warning and a "stopped" run, before the monthly post cap would be crossed.
    Raises ConfigError without a token, SourceError when the API fails for good.
    """
    with _turn(settings, engine, "collect", now=now, wait_seconds=wait_seconds, stop=stop) as t:
        if t.capped:
            return PassResult(run_id=t.capped[0], stopped_early=t.capped[1])
        with t.prepared(source or make_source(settings)) as src:
            return collect_pass(
                engine, src, now=now, budget=t.budget, on_page=t.on_page, guard=t.held.confirm
            )


def backfill(
    settings: Settings,
    engine: Engine,
    since: dt.date,
    until: dt.date,
    *,
    source: Source | None = None,
    now: dt.datetime | None = None,
    wait_seconds: float = COLLECT_WAIT_SECONDS,
    stop: threading.Event | None = None,
) -> PassResult:
    """Collect the campaign's posts of local dates ``since``..``until`` from the full archive.

    Page by page with its own resumable checkpoint per date range, recorded as a run of
    kind "backfill". Raises UsageError (exit 2) when ``[x] full_archive`` is false or the
    dates are reversed.
    """
    if until < since:
        raise UsageError(f"--until {until} is before --since {since}; give --since first")
    if source is None and settings.source.kind != "x":
        raise UsageError('backfill reads X\'s full archive; set [source] kind = "x"')
    if source is None and not settings.x.full_archive:
        raise UsageError(FULL_ARCHIVE_NEEDED)
    with _turn(settings, engine, "backfill", now=now, wait_seconds=wait_seconds, stop=stop) as t:
        if t.capped:
            return PassResult(run_id=t.capped[0], stopped_early=t.capped[1])
        if source is None:
            from monitor.sources.x import XArchiveSource

            source = XArchiveSource(settings, since, until, now=now)
        with t.prepared(source) as src:
            return collect_pass(
                engine,
                src,
                now=now,
                budget=t.budget,
                on_page=t.on_page,
                kind="backfill",
                guard=t.held.confirm,
            )


def refresh_since(
    settings: Settings, since: dt.date | dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """Return the instant from which posts are refreshed: a local date's midnight, or the default.

    The default is ``now`` minus ``[schedule] refresh_metrics_for_hours``.
    """
    if since is None:
        return now - dt.timedelta(hours=settings.schedule.refresh_metrics_for_hours)
    if isinstance(since, dt.datetime):
        return since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    return local_midnight(since, settings.campaign.tz)


def refresh_metrics(
    settings: Settings,
    engine: Engine,
    since: dt.date | dt.datetime | None = None,
    now: dt.datetime | None = None,
    *,
    source: Source | None = None,
    wait_seconds: float = COLLECT_WAIT_SECONDS,
    stop: threading.Event | None = None,
) -> RefreshResult:
    """Re-read the engagement counts of stored non-retweet posts created since ``since``.

    ``since`` is a local date (from its midnight in the campaign time zone), an instant,
    or None for the last ``[schedule] refresh_metrics_for_hours``. 100 ids a request,
    within this month's remaining post cap; recorded as a run of kind "refresh".
    """
    start = refresh_since(settings, since, now or dt.datetime.now(dt.UTC))
    with _turn(settings, engine, "refresh", now=now, wait_seconds=wait_seconds, stop=stop) as t:
        if t.capped:
            return RefreshResult(run_id=t.capped[0], stopped_early=t.capped[1])
        with t.prepared(source or make_source(settings)) as src:
            return refresh_pass(
                engine,
                src,
                since=start,
                now=now,
                budget=t.budget,
                on_batch=t.on_page,
                guard=t.held.confirm,
            )


def refresh_before_report(
    settings: Settings,
    engine: Engine,
    which: str,
    day: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
    source: Source | None = None,
) -> RefreshResult | None:
    """With ``[schedule] refresh_before_reports``, refresh the counts a report is about to
    show: the posts of its day (daily), every campaign post (summary). None when off.

    A failure is logged, not raised: the report still goes out, with the last counts read.
    Under pay-per-use, posts first read the same UTC day are re-read for free.
    """
    if not settings.schedule.refresh_before_reports:
        return None
    since = day if which == "daily" and day is not None else settings.campaign.start
    try:
        return refresh_metrics(settings, engine, since, now, source=source)
    except HashmonError as exc:
        log.warning(
            "refresh before the %s report failed (%s); it shows the last counts", which, exc
        )
        return None


def _with_endings(line: str, result: PassResult | RefreshResult) -> str:
    """End a pass's line with what it skipped and why it stopped early, if it did."""
    if result.skipped:
        line += f"; skipped {result.skipped} unusable item(s) (hashmon status shows the first)"
    if result.stopped_early:
        line += f"; {result.stopped_early}"
    return line


def describe_pass(result: PassResult) -> str:
    """Return one line saying what a collect or backfill pass did (for the CLI)."""
    line = (
        f"{result.requests} requests, {result.pages} pages, {result.posts_read} posts read, "
        f"{result.new} new"
    )
    if result.gap is not None:
        line += f"; gap recorded from {result.gap[0] or '?'} to {result.gap[1] or '?'}"
    return _with_endings(line, result)


def describe_refresh(result: RefreshResult) -> str:
    """Return one line saying what a refresh did (for the CLI)."""
    line = (
        f"{result.requests} requests, {result.asked} of {result.candidates} posts looked up, "
        f"{result.posts_read} read"
    )
    if result.gone:
        line += f"; {result.gone} deleted or withheld since (their text erased)"
    return _with_endings(line, result)

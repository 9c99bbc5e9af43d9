"""``hashmon run``: the APScheduler 3.x scheduler in the foreground, its jobs in the database.

Jobs (fixed ids): ``collect`` at start-up and every ``collect_every_minutes``;
``refresh-metrics`` every ``refresh_metrics_every_minutes`` (none when 0);
``daily-report`` at ``daily_report_at`` campaign time on each campaign day;
``summary-report`` at ``summary_at`` on the day after ``campaign.end``; ``today-so-far``
every ``so_far_every_minutes`` on campaign days (none when 0). With
``refresh_before_reports`` each report job first refreshes the posts it shows. All
coalesce, run one instance at a time and forgive a late start up to
``misfire_grace_minutes``.

The job store (table ``apscheduler_jobs``, in the campaign database) remembers when
each job is next due, and start-up keeps a due time that has passed: a restart after
downtime runs a missed report once instead of forgetting it. Job functions are
module-level and take only strings, since the store pickles references to them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from jobs import alerts, digests, passes, reporting
from jobs.stopping import StopSafe, shutdown, wait_for_jobs
from monitor.config import DATABASE_ENV, load_settings
from monitor.errors import HashmonError, LockedError, PassStopped, db_detail
from monitor.settings import Settings, bearer_token
from monitor.store.engine import make_engine, url_has_secret
from monitor.store.schema import create_schema
from monitor.times import local_at, local_stamp

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
COLLECT, REFRESH, DAILY, SUMMARY = "collect", "refresh-metrics", "daily-report", "summary-report"
SO_FAR = "today-so-far"
# a no-op job every minute: its due time in the job store shows status that a runner is alive
HEARTBEAT = "heartbeat"
HEARTBEAT_SECONDS = 60
JOB_IDS = (COLLECT, REFRESH, DAILY, SUMMARY, SO_FAR, HEARTBEAT)
SCHEDULED_LEASE_WAIT = 30.0  # a scheduled pass waits this long for a manual one to finish
STOP_GRACE_SECONDS = 10.0  # after a signal, how long a running job gets to reach a page end


# --- job functions (pickled by reference: module level, string arguments) ---------------

# what each job's last run did, in a few words: ``hashmon run`` prints it, one line a pass
_outcomes: dict[str, str] = {}


def _open(config_path: str | None, database_url: str | None) -> tuple[Settings, Engine]:
    settings = load_settings(config_path, database_url)
    return settings, make_engine(settings.database.url)


def _run_job(name: str, config_path: str | None, database_url: str | None, work: Any) -> None:
    """Run ``work(settings, engine)``, logging a HashmonError as one line, not a traceback."""
    try:
        settings, engine = _open(config_path, database_url)
    except HashmonError as exc:
        log.error("%s: %s", name, exc)
        alerts.check_soon(config_path, database_url)  # e.g. the database unreachable
        _outcomes[name] = "failed (above)"
        return
    try:
        work(settings, engine)
    except LockedError as exc:
        log.warning("%s skipped: %s", name, exc)
        _outcomes[name] = "skipped (above)"
    except PassStopped as exc:
        log.info("%s: %s", name, exc)
        _outcomes[name] = f"stopped: {exc}"
    except HashmonError as exc:
        log.error("%s failed: %s", name, exc)
        _outcomes[name] = "failed (above)"
    except SQLAlchemyError as exc:
        # the database went away mid-job: one line (never its SQL); the next run retries
        log.error("%s failed: database failure: %s", name, db_detail(exc))
        _outcomes[name] = "failed (above)"
    finally:
        engine.dispose()
        # after the job, lease released: the check runs in its own thread, never in this one
        if settings.email is not None:
            alerts.check_soon(config_path, database_url)


def collect_job(config_path: str | None, database_url: str | None) -> None:
    """Scheduled: one collection pass."""

    def work(settings: Settings, engine: Engine) -> None:
        result = passes.collect(settings, engine, wait_seconds=SCHEDULED_LEASE_WAIT)
        _outcomes[COLLECT] = (
            f"read {result.posts_read:,} posts in {result.requests:,} requests, "
            f"stored {result.new:,} new"
            + (f" ({result.stopped_early})" if result.stopped_early else "")
        )
        log.info(
            "collect: %d requests, %d posts read, %d new%s",
            result.requests,
            result.posts_read,
            result.new,
            f" ({result.stopped_early})" if result.stopped_early else "",
        )

    _run_job(COLLECT, config_path, database_url, work)


def refresh_job(config_path: str | None, database_url: str | None) -> None:
    """Scheduled: refresh the counts of recent posts."""

    def work(settings: Settings, engine: Engine) -> None:
        result = passes.refresh_metrics(settings, engine, wait_seconds=SCHEDULED_LEASE_WAIT)
        _outcomes[REFRESH] = (
            f"refreshed the counts of {result.posts_read:,} posts in {result.requests:,} requests"
        )
        log.info("refresh-metrics: %d requests, %d posts read", result.requests, result.posts_read)

    _run_job(REFRESH, config_path, database_url, work)


def report_day(settings: Settings, now: dt.datetime) -> dt.date | None:
    """Return the campaign day whose daily report is due at ``now``, or None before the first.

    That is the local date of the latest ``daily_report_at`` at or before ``now``: a
    report run late after downtime (coalesced) reports the day it was meant for.
    """
    local = now.astimezone(settings.campaign.tz)
    day = local.date()
    if local.time() < settings.schedule.daily_report_at:
        day -= dt.timedelta(days=1)
    day = min(day, settings.campaign.end)
    return day if day >= settings.campaign.start else None


def daily_report_job(config_path: str | None, database_url: str | None) -> None:
    """Scheduled: the daily report of the day just ending (see ``report_day``)."""

    def work(settings: Settings, engine: Engine) -> None:
        day = report_day(settings, dt.datetime.now(dt.UTC))
        if day is None:
            log.warning("daily-report: no campaign day has ended yet")
            _outcomes[DAILY] = "no campaign day has ended yet"
            return
        passes.refresh_before_report(settings, engine, "daily", day)
        written = reporting.write_report(settings, engine, "daily", day=day)
        _outcomes[DAILY] = f"wrote the report of {day} ({len(written.files)} files)"
        log.info("daily-report: wrote the report of %s", day)
        digests.send_scheduled_digest(settings, engine, written.files, stop=passes.STOP)

    _run_job(DAILY, config_path, database_url, work)


def summary_report_job(config_path: str | None, database_url: str | None) -> None:
    """Scheduled: the end-of-campaign summary."""

    def work(settings: Settings, engine: Engine) -> None:
        passes.refresh_before_report(settings, engine, "summary")
        written = reporting.write_report(settings, engine, "summary")
        _outcomes[SUMMARY] = f"wrote the summary ({len(written.files)} files)"
        log.info("summary-report: written")
        digests.send_scheduled_digest(settings, engine, written.files, stop=passes.STOP)

    _run_job(SUMMARY, config_path, database_url, work)


def so_far_job(config_path: str | None, database_url: str | None) -> None:
    """Scheduled on campaign days: rewrite "today so far" (no refresh, no e-mail)."""

    def work(settings: Settings, engine: Engine) -> None:
        written = reporting.write_so_far(settings, engine)
        _outcomes[SO_FAR] = "rewrote today.html" if written else "the day's report is out"

    _run_job(SO_FAR, config_path, database_url, work)


def heartbeat_job() -> None:
    """Scheduled every minute: nothing; the job store's due time for it is the heartbeat."""


# --- triggers and the scheduler -----------------------------------------------------------


def _local(day: dt.date, at: dt.time, settings: Settings) -> dt.datetime:
    return local_at(day, at, settings.campaign.tz)


def build_triggers(settings: Settings) -> dict[str, BaseTrigger]:
    """Return each job's trigger, in the campaign time zone (summer time included)."""
    tz = settings.campaign.tz
    s = settings.schedule
    c = settings.campaign
    at = s.daily_report_at
    triggers: dict[str, BaseTrigger] = {
        COLLECT: IntervalTrigger(minutes=s.collect_every_minutes, timezone=tz),
        DAILY: CronTrigger(
            hour=at.hour,
            minute=at.minute,
            second=at.second,
            start_date=_local(c.start, dt.time(0, 0), settings),
            end_date=_local(c.end, dt.time(23, 59, 59), settings),
            timezone=tz,
        ),
        SUMMARY: DateTrigger(
            run_date=_local(c.end + dt.timedelta(days=1), s.summary_at, settings), timezone=tz
        ),
        HEARTBEAT: IntervalTrigger(seconds=HEARTBEAT_SECONDS, timezone=tz),
    }
    if s.so_far_every_minutes:  # on the clock from each campaign midnight: up to 14:00
        triggers[SO_FAR] = IntervalTrigger(
            minutes=s.so_far_every_minutes,
            start_date=_local(c.start, dt.time(0, 0), settings),
            end_date=_local(c.end, dt.time(23, 59, 59), settings),
            timezone=tz,
        )
    if s.refresh_metrics_every_minutes:  # 0: no periodic refresh (a stored one is dropped)
        triggers[REFRESH] = IntervalTrigger(minutes=s.refresh_metrics_every_minutes, timezone=tz)
    return triggers


JOB_FUNCTIONS = {
    COLLECT: collect_job,
    REFRESH: refresh_job,
    DAILY: daily_report_job,
    SUMMARY: summary_report_job,
    SO_FAR: so_far_job,
    HEARTBEAT: heartbeat_job,
}


def stored_next_run_times(engine: Engine) -> dict[str, dt.datetime | None]:
    """Return each stored job's next run time (UTC; None when paused); {} without a job store."""
    if not inspect(engine).has_table(JOBSTORE_TABLE):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE}")).all()
    return {
        str(job_id): None if ts is None else dt.datetime.fromtimestamp(float(ts), tz=dt.UTC)
        for job_id, ts in rows
    }


def job_arguments(settings: Settings) -> tuple[str | None, str | None]:
    """Return the (config path, database URL) strings the stored jobs are called with.

    A URL with a secret (a password, ``?password=``) is not written into the job store:
    it goes into this process's environment (``HASHMON_DATABASE_URL``) and the jobs read
    it from there.
    """
    origin = Path(settings.origin)
    config_path = str(origin.resolve()) if origin.is_file() else None
    url = settings.database.url
    if url_has_secret(url):
        os.environ[DATABASE_ENV] = url
        return config_path, None
    return config_path, url


def _next_run(
    job_id: str, trigger: BaseTrigger, stored: dict[str, dt.datetime | None], now: dt.datetime
) -> dt.datetime | None:
    """Return when a job should next run at start-up, or None to leave it out."""
    if job_id == COLLECT:
        return now  # collect at start-up, then every interval
    if job_id == HEARTBEAT:
        return now + dt.timedelta(seconds=HEARTBEAT_SECONDS)  # the start is the first beat
    due = trigger.get_next_fire_time(None, now)
    if job_id in stored and stored[job_id] is not None:
        previous = stored[job_id]
        if previous <= now:
            # due while we were down: keep it, so it runs once (coalesced) within the grace
            return previous
        return due  # not yet due: follow the trigger, in case the config changed
    if job_id not in stored and due is not None and due < now:
        return None  # a one-off whose time passed before this store knew it: not ours to run
    return due


def schedule_jobs(
    scheduler: BaseScheduler,
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime | None = None,
) -> dict[str, dt.datetime | None]:
    """Add the jobs to a not-yet-started scheduler; return each one's next run time.

    Stored due times that have passed are kept (see the module doc); jobs that are no
    longer due (the campaign is over) and unknown ids are removed from the store.
    """
    now = now or dt.datetime.now(settings.campaign.tz)
    stored = stored_next_run_times(engine)
    args = job_arguments(settings)
    planned: dict[str, dt.datetime | None] = {}
    for job_id, trigger in build_triggers(settings).items():
        when = _next_run(job_id, trigger, stored, now)
        planned[job_id] = when
        if when is None:
            continue
        scheduler.add_job(
            JOB_FUNCTIONS[job_id],
            trigger=trigger,
            id=job_id,
            name=job_id,
            args=() if job_id == HEARTBEAT else args,
            next_run_time=when,
            replace_existing=True,
        )
    dropped = [j for j in stored if planned.get(j) is None]
    if dropped:
        with engine.begin() as conn:
            for job_id in dropped:
                conn.execute(text(f"DELETE FROM {JOBSTORE_TABLE} WHERE id = :id"), {"id": job_id})
    return planned


def build_scheduler(
    settings: Settings,
    engine: Engine,
    *,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
    now: dt.datetime | None = None,
) -> BaseScheduler:
    """Return a scheduler with its job store in ``engine``'s database and the jobs added."""
    safe = type(scheduler_class.__name__, (StopSafe, scheduler_class), {})
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    # APScheduler creates its table at start in a plain transaction: on SQLite, a read
    # turned write there fails at once ("database is locked") if another command wrote
    # meanwhile, and the runner died. Created here in hashmon's write transaction instead.
    create_schema(engine, also=[store.jobs_t])
    scheduler = safe(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedule.misfire_grace_minutes * 60,
        },
        timezone=settings.campaign.tz,
    )
    schedule_jobs(scheduler, settings, engine, now=now)
    return scheduler


def _say(settings: Settings, line: str) -> None:
    """Print one line of what the runner does at the default verbosity, stamped local time."""
    stamp = local_stamp(dt.datetime.now(dt.UTC), settings.campaign.tz)
    print(f"{stamp} {line}", flush=True)


def pass_line(job_id: str, outcome: str | None, next_at: dt.datetime | None, tz: Any) -> str:
    """Return the line a finished pass prints: what it did, and when that job runs next."""
    after = f"next at {local_stamp(next_at, tz)}" if next_at is not None else "not due again"
    return f"{job_id}: {outcome or 'done'}; {after}"


def _say_pass(scheduler: BaseScheduler, settings: Settings, job_id: str) -> None:
    if job_id == HEARTBEAT:
        return
    job = scheduler.get_job(job_id)
    next_at = job.next_run_time if job is not None else None
    _say(settings, pass_line(job_id, _outcomes.pop(job_id, None), next_at, settings.campaign.tz))


def run(settings: Settings, *, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT; return after a clean stop.

    A signal stops the scheduler, and a pass under way stops at its next page (or retry
    wait); the lease is taken per pass, so a restart can collect at once.
    """
    if settings.source.kind == "x":
        bearer_token()  # no token: say so now (exit 2), not in a log every 15 minutes
    passes.STOP.clear()
    engine = make_engine(settings.database.url)
    scheduler = build_scheduler(settings, engine)

    def stop(signum: int, _frame: Any) -> None:
        log.warning("%s received: stopping", signal.Signals(signum).name)
        passes.STOP.set()
        # shut down from another thread: this handler may interrupt the scheduler's own loop
        threading.Thread(target=shutdown, args=(scheduler,), daemon=True).start()

    scheduler.add_listener(
        lambda event: _say_pass(scheduler, settings, event.job_id),
        EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
    )
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _say(
            settings,
            f"hashmon run: collecting every {settings.schedule.collect_every_minutes} minutes; "
            "stop with Ctrl-C or SIGTERM",
        )
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wait_for_jobs(grace_seconds)
        engine.dispose()
        _say(settings, "hashmon run: stopped")

"""``hashmon run``: fire times across summer time, missed reports after downtime, clean stops."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import responses
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from jobs import passes, schedule
from jobs.schedule import (
    COLLECT,
    DAILY,
    HEARTBEAT,
    REFRESH,
    SUMMARY,
    build_scheduler,
    build_triggers,
    pass_line,
)
from jobs.status import format_status, status_object
from monitor.config import load_settings
from monitor.errors import SourceError
from monitor.settings import Campaign, Schedule, Settings, X
from monitor.sources.x import TOKEN_ENV, XSource
from monitor.store.engine import make_engine
from monitor.store.schema import CollectionRun
from monitor.store.writes import stored_counts
from tests.xapi import TOKEN, FakeX, read_pages

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fire_times(trigger, start: dt.datetime, limit: int = 20) -> list[dt.datetime]:
    """Return successive fire times of ``trigger`` from ``start``, in UTC, without waiting."""
    out: list[dt.datetime] = []
    previous, now = None, start
    while len(out) < limit:
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None:
            break
        out.append(nxt.astimezone(UTC))
        previous = now = nxt
    return out


# --- fire times ---------------------------------------------------------------------


def test_the_daily_report_fires_at_21_00_london_which_is_20_00z_in_june() -> None:
    trigger = build_triggers(Settings())[DAILY]
    assert fire_times(trigger, utc(2017, 6, 1)) == [utc(2017, 6, d, 20) for d in range(12, 17)]


def test_a_campaign_across_the_october_change_reports_at_21_00_local_on_both_sides() -> None:
    settings = Settings(campaign=Campaign(start=dt.date(2017, 10, 27), end=dt.date(2017, 10, 31)))
    times = fire_times(build_triggers(settings)[DAILY], utc(2017, 10, 1))
    # British Summer Time ends at 01:00Z on Sunday 29 October 2017
    assert times == [
        utc(2017, 10, 27, 20),
        utc(2017, 10, 28, 20),
        utc(2017, 10, 29, 21),
        utc(2017, 10, 30, 21),
        utc(2017, 10, 31, 21),
    ]
    assert {t.astimezone(settings.campaign.tz).hour for t in times} == {21}


def test_the_summary_runs_once_at_summary_at_on_the_day_after_the_campaign() -> None:
    trigger = build_triggers(Settings())[SUMMARY]
    assert fire_times(trigger, utc(2017, 6, 1)) == [utc(2017, 6, 17, 8)]


def test_collect_runs_at_start_up_then_every_collect_every_minutes(engine: Engine) -> None:
    settings = Settings(
        schedule=Schedule(collect_every_minutes=10, refresh_metrics_every_minutes=360)
    )
    now = dt.datetime(2017, 6, 13, 10, 3, tzinfo=settings.campaign.tz)
    planned = schedule.schedule_jobs(BackgroundScheduler(), settings, engine, now=now)
    assert planned[COLLECT] == now
    trigger = build_triggers(settings)[COLLECT]
    assert trigger.get_next_fire_time(now, now) == now + dt.timedelta(minutes=10)
    assert planned[DAILY] == dt.datetime(2017, 6, 13, 21, tzinfo=settings.campaign.tz)
    assert planned[REFRESH] > now
    # by default there is no periodic refresh (the reports refresh what they show)
    planned = schedule.schedule_jobs(BackgroundScheduler(), Settings(), engine, now=now)
    assert REFRESH not in planned and REFRESH not in schedule.stored_next_run_times(engine)


def test_the_report_day_is_the_day_whose_report_time_last_passed() -> None:
    settings = Settings()
    assert schedule.report_day(settings, utc(2017, 6, 12, 20, 0, 1)) == dt.date(2017, 6, 12)
    # run late after downtime, next morning: still the 12th's report
    assert schedule.report_day(settings, utc(2017, 6, 13, 7)) == dt.date(2017, 6, 12)
    assert schedule.report_day(settings, utc(2017, 6, 17, 7)) == dt.date(2017, 6, 16)
    assert schedule.report_day(settings, utc(2017, 6, 12, 10)) is None


# --- restarts and the job store -----------------------------------------------------


def write_config(
    tmp_path: Path, db_url: str, *, at: dt.time, start: dt.date, end: dt.date, grace: int = 360
) -> Path:
    path = tmp_path / "hashmon.toml"
    path.write_text(
        f"""
[campaign]
name = "TEST"
hashtags = ["IMHAW17"]
accounts = ["first1001days"]
start = {start.isoformat()}
end = {end.isoformat()}
timezone = "Europe/London"

[database]
url = "{db_url}"

[schedule]
daily_report_at = {at.isoformat()}
misfire_grace_minutes = {grace}
# these tests count the daily reports' runs: the day so far (its own tests) stays out
so_far_every_minutes = 0

[reports]
out_dir = "{tmp_path / "out"}"
formats = ["json"]
"""
    )
    return path


def report_runs(engine: Engine) -> list:
    table = CollectionRun.__table__
    with engine.connect() as conn:
        return list(conn.execute(select(table).where(table.c.kind == "report")).all())


def restart(settings: Settings, engine: Engine, *, timeout: float = 10, quiet: float = 0.5) -> list:
    """Start the scheduler for real (now is now) and return the daily-report events seen.

    Waits up to ``timeout`` for the first event, then ``quiet`` seconds for any other.
    """
    seen: list = []
    done = threading.Event()

    def listen(event) -> None:
        if event.job_id == DAILY:
            seen.append(event)
            done.set()

    scheduler = build_scheduler(settings, engine, scheduler_class=BackgroundScheduler)
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    try:
        done.wait(timeout)
        time.sleep(quiet)  # anything more would show up now
    finally:
        scheduler.shutdown(wait=True)
    return seen


def stop_before(settings: Settings, engine: Engine, now: dt.datetime) -> None:
    """Leave the job store as a scheduler that ran until ``now`` (a fake clock) left it."""
    scheduler = build_scheduler(settings, engine, scheduler_class=BackgroundScheduler, now=now)
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)


@pytest.fixture
def downtime(tmp_path: Path, db_url: str, monkeypatch):
    """Settings whose daily report fell due an hour ago, inside a campaign around today."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)  # the start-up collect fails fast, offline
    monkeypatch.delenv("HASHMON_DATABASE_URL", raising=False)

    def make(grace: int = 360) -> tuple[Settings, Engine, dt.datetime]:
        tz = Campaign().tz
        due = (dt.datetime.now(tz) - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
        path = write_config(
            tmp_path,
            db_url,
            at=due.time(),
            start=due.date() - dt.timedelta(days=4),
            end=due.date() + dt.timedelta(days=2),
            grace=grace,
        )
        settings = load_settings(str(path))
        return settings, make_engine(settings.database.url), due

    return make


def test_a_restart_after_downtime_runs_the_missed_report_once(downtime) -> None:
    settings, engine, due = downtime()
    stop_before(settings, engine, due - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    stored = schedule.stored_next_run_times(engine)
    assert stored[DAILY] == due.astimezone(UTC)

    events = restart(settings, engine)
    assert [e.code for e in events] in ([EVENT_JOB_EXECUTED], [EVENT_JOB_ERROR])
    runs = report_runs(engine)
    assert len(runs) == 1 and f"daily report {due.date()}" in runs[0].message
    # the store moved on to tomorrow's report: a second restart runs nothing more
    assert schedule.stored_next_run_times(engine)[DAILY] > due.astimezone(UTC)
    assert restart(settings, engine, timeout=0) == []
    assert len(report_runs(engine)) == 1


def test_several_missed_reports_coalesce_into_one_run_for_the_latest_day(downtime) -> None:
    settings, engine, due = downtime()
    stop_before(settings, engine, due - dt.timedelta(days=3) + dt.timedelta(minutes=1))
    assert schedule.stored_next_run_times(engine)[DAILY] == (due - dt.timedelta(days=2)).astimezone(
        UTC
    )
    events = restart(settings, engine)
    assert len(events) == 1 and events[0].code != EVENT_JOB_MISSED
    runs = report_runs(engine)
    assert len(runs) == 1 and f"daily report {due.date()}" in runs[0].message


def test_a_report_missed_by_more_than_the_grace_time_is_skipped(downtime) -> None:
    settings, engine, due = downtime(grace=30)
    stop_before(settings, engine, due - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    events = restart(settings, engine)
    assert [e.code for e in events] == [EVENT_JOB_MISSED]
    assert report_runs(engine) == []


def test_stored_jobs_are_module_functions_called_with_strings_only(downtime) -> None:
    settings, engine, due = downtime()
    stop_before(settings, engine, due)
    scheduler = BackgroundScheduler(jobstores={"default": _store(engine)})
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {COLLECT, DAILY, SUMMARY, HEARTBEAT}  # no periodic refresh by default
    for job in jobs.values():
        assert job.func.__module__ == "jobs.schedule"
        assert all(isinstance(a, str | None) for a in job.args)
        assert job.coalesce and job.max_instances == 1
        assert job.misfire_grace_time == 360 * 60


def _store(engine: Engine):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(engine=engine, tablename=schedule.JOBSTORE_TABLE)


# --- stopping -------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_run_within_seconds_with_exit_0(tmp_path: Path, signum: int) -> None:
    """The first collect is stuck retrying an unreachable X; the signal ends it at once."""
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    today = dt.date.today()
    config = write_config(
        tmp_path, db_url, at=dt.time(21, 0), start=today, end=today + dt.timedelta(days=1)
    )
    dropped = ("no_proxy", "https_proxy", "hashmon_database_url")
    env = {k: v for k, v in os.environ.items() if k.lower() not in dropped}
    # nothing listens on port 9: every request fails at once, and the pass backs off
    env.update({TOKEN_ENV: TOKEN, "HTTPS_PROXY": "http://127.0.0.1:9", "HASHMON_CONFIG": ""})
    code = (
        "import sys\n"
        "from jobs.logs import setup_logging\n"
        "from jobs.schedule import run\n"
        "from monitor.config import load_settings\n"
        "setup_logging(1)\n"
        "run(load_settings(sys.argv[1]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(config)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    retrying = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "X API:" in line:
                retrying.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert retrying.wait(20), "".join(lines)
        proc.send_signal(signum)
        assert proc.wait(10) == 0, "".join(lines)  # the retry's wait is cut short
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    engine = make_engine(db_url)
    table = CollectionRun.__table__
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(table)).all()]
    engine.dispose()
    assert statuses == ["interrupted"]
    assert TOKEN not in "".join(lines)


# --- status -------------------------------------------------------------------------


def test_status_shows_runs_next_times_the_months_reads_and_cost_checkpoint_and_gaps(
    engine: Engine,
) -> None:
    settings = Settings(x=X(max_retries=0, price_per_post_read=0.005))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeX(read_pages(), published=100)
        fake.register(rsps)
        source = lambda: XSource(settings, TOKEN, sleep=lambda s: None)  # noqa: E731
        passes.collect(settings, engine, source=source())
        fake.publish(200)
        fake.window_floor = fake.order[150]  # a long outage: the window moved on
        passes.collect(settings, engine, source=source())
        fake.publish(150)  # 150 new: a pass of 2 pages, the second of which fails
        fake.fail(len(fake.calls) + 2, requests.exceptions.ConnectionError("reset"))
        with pytest.raises(SourceError):
            passes.collect(settings, engine, source=source())
    scheduler = build_scheduler(settings, engine, scheduler_class=BackgroundScheduler)
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)

    obj = status_object(settings, engine)
    assert [r["status"] for r in obj["runs"]] == ["failed", "ok", "ok"]
    assert [r["posts_read"] for r in obj["runs"]] == [100, 150, 100]
    assert obj["quota"]["posts_read"] == 350
    assert obj["quota"]["cost"] == pytest.approx(1.75)
    assert obj["quota"]["remaining"] == settings.x.monthly_post_cap - 350
    (checkpoint,) = obj["checkpoints"]
    assert checkpoint["interrupted"] and checkpoint["pass_oldest_id"] is not None
    (gap,) = obj["gaps"]
    assert gap["gap_from"] < gap["gap_to"]
    # the default campaign (June 2017) is over: no report is due any more
    assert [n["job"] for n in obj["next_runs"]] == [COLLECT]
    assert obj["lease"] is None
    text = "\n".join(format_status(obj))
    assert "interrupted pass" in text and "gap (run 2)" in text and "cost 1.75" in text
    assert json.loads(json.dumps(obj)) == obj


def test_status_and_the_scheduler_load_without_tweepy_or_the_drawing_libraries() -> None:
    # `hashmon status` must answer fast: only an X pass needs the X client library, and
    # only writing a report draws charts or a PDF (matplotlib alone was 0.6 s of a status)
    heavy = ("tweepy", "matplotlib", "reportlab", "pandas", "openpyxl")
    script = (
        f"import sys, jobs.status, jobs.schedule; print([m for m in {heavy} if m in sys.modules])"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- is a runner alive, and what it says --------------------------------------------------


def test_status_says_a_runner_is_alive_by_its_heartbeat_and_lists_next_runs_only_then(
    engine: Engine,
) -> None:
    settings = Settings()
    never = status_object(settings, engine)
    assert never["runner"] == {"alive": False, "last_heartbeat": None}
    text = "\n".join(format_status(never))
    assert "runner: not running (never started); start it with hashmon run" in text
    assert "next runs: none while no runner is alive" in text

    # a runner started at 10:00 UTC beats at once: the store holds its next beat, 10:01
    started = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
    stop_before(settings, engine, started)
    alive = status_object(settings, engine, now=started + dt.timedelta(seconds=30))
    assert alive["runner"]["alive"] is True
    lines = format_status(alive)
    # one time format throughout: campaign local time (London is on GMT in December)
    assert "runner: alive, last heartbeat 2026-12-03 10:00 GMT" in lines
    assert "next runs:" in lines
    assert any(line.split() == ["collect", "2026-12-03", "10:00", "GMT"] for line in lines)
    assert HEARTBEAT not in [n["job"] for n in alive["next_runs"]]

    # two minutes later with no beat, the runner is gone: no next runs are promised
    gone = status_object(settings, engine, now=started + dt.timedelta(minutes=2, seconds=1))
    assert gone["runner"]["alive"] is False
    text = "\n".join(format_status(gone))
    assert "runner: not running (last heartbeat 2026-12-03 10:00 GMT)" in text
    assert "next runs: none while no runner is alive" in text and "  collect" not in text


def test_a_pass_says_in_one_line_what_it_did_and_what_is_next() -> None:
    tz = Campaign().tz
    at = dt.datetime(2017, 6, 12, 20, 15, tzinfo=dt.UTC)
    assert pass_line(COLLECT, "read 120 posts in 2 requests, stored 30 new", at, tz) == (
        "collect: read 120 posts in 2 requests, stored 30 new; next at 2017-06-12 21:15 BST"
    )
    assert pass_line(SUMMARY, None, None, tz) == "summary-report: done; not due again"


def test_a_collect_job_records_what_it_read_and_stored(
    tmp_path: Path, db_url: str, monkeypatch
) -> None:
    monkeypatch.delenv("HASHMON_DATABASE_URL", raising=False)
    path = tmp_path / "sim.toml"
    path.write_text(
        f'[source]\nkind = "simulated"\n[database]\nurl = "{db_url}"\n', encoding="utf-8"
    )
    schedule.collect_job(str(path), None)
    outcome = schedule._outcomes.pop(COLLECT)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = stored_counts(conn)["posts"]
    finally:
        engine.dispose()
    assert outcome.endswith(f"stored {stored:,} new") and outcome.startswith("read ")


def test_the_runner_starts_while_another_command_commits_a_write(tmp_path: Path) -> None:
    """``hashmon run`` starting while another command (a status, a collect) holds the
    write lock and then commits: the runner waits its turn and starts. It used to die with
    "database is locked": APScheduler created its table in a plain transaction, and on
    SQLite a read turned write fails at once when another commit came in between."""
    path = tmp_path / "hashmon.db"
    engine = make_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE a_note_of_another_tool (x INTEGER)")
    committing = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    committing.start()
    try:
        scheduler = schedule.build_scheduler(
            Settings(), engine, scheduler_class=BackgroundScheduler
        )
        scheduler.start(paused=True)
        assert scheduler.get_job(schedule.COLLECT) is not None
        scheduler.shutdown(wait=False)
    finally:
        committing.join()
        other.close()
        engine.dispose()

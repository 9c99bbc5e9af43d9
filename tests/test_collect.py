"""Live collection passes against faked X: checkpoints, crashes, faults, the monthly cap.

Every test drives tweepy's real client over ``responses`` with recorded posts, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading

import pytest
import requests
import responses
from sqlalchemy import Engine, func, select

from jobs import passes
from monitor import lease
from monitor.budget import month_posts_read
from monitor.collect import collect_pass
from monitor.errors import SourceError, UsageError
from monitor.settings import Settings, X
from monitor.sources.simulated import SimulatedSource, simulate_campaign
from monitor.sources.x import TOKEN_ENV, XSource
from monitor.store.engine import writing
from monitor.store.runs import read_checkpoint, start_run
from monitor.store.schema import CollectionRun, Observation, Post
from monitor.store.writes import stored_counts
from tests.xapi import (
    OTHER_CHAIN_FILE,
    TOKEN,
    USAGE_CAPPED,
    FakeX,
    read_pages,
    serve_recorded_chain,
)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings(**x: object) -> Settings:
    return Settings(x=X(**{"max_retries": 3, **x}))


def x_source(**x: object) -> XSource:
    return XSource(settings(**x), TOKEN, sleep=Sleeps(), clock=lambda: 1_000_000.0)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def counts(engine: Engine) -> tuple[int, int]:
    """Return (stored posts, observations): equal when every post was read exactly once."""
    with engine.connect() as conn:
        posts = conn.execute(select(func.count()).select_from(Post)).scalar_one()
        seen = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    return posts, seen


def runs(engine: Engine) -> list:
    table = CollectionRun.__table__
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)).all())


def test_a_pass_stores_the_recorded_chain_and_the_next_asks_only_for_newer_posts(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    pages = read_pages()
    calls = serve_recorded_chain(rsps, pages)
    first = collect_pass(engine, x_source())
    assert (first.pages, first.posts_read, first.new, first.requests) == (6, 500, 500, 6)
    newest = pages[0]["meta"]["newest_id"]
    assert read_checkpoint(engine, "x:recent").newest_id == newest

    second = collect_pass(engine, x_source())
    assert calls[-1]["since_id"] == newest
    assert (second.posts_read, second.new, second.requests) == (0, 0, 1)
    assert counts(engine) == (500, 500)
    assert [(r.kind, r.status, r.requests, r.posts_read) for r in runs(engine)] == [
        ("collect", "ok", 6, 500),
        ("collect", "ok", 1, 0),
    ]


def test_a_crash_on_page_3_then_a_rerun_stores_every_post_exactly_once(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages(), published=450)
    fake.register(rsps)
    # page 3 never comes: the connection drops on every attempt (1 + 3 retries)
    for call in (3, 4, 5, 6):
        fake.fail(call, requests.exceptions.ConnectionError("connection reset by peer"))
    with pytest.raises(SourceError, match="4 times in a row"):
        collect_pass(engine, x_source())
    assert counts(engine) == (200, 200)
    cp = read_checkpoint(engine, "x:recent")
    assert cp.pass_oldest_id is not None  # the interrupted pass is on record

    fake.publish(50)  # posted while we were down
    rerun = collect_pass(engine, x_source())
    # resume below page 2 (3 pages), then what is new since the crashed pass began (1 page)
    assert rerun.requests == 4
    assert counts(engine) == (500, 500)
    assert read_checkpoint(engine, "x:recent").pass_oldest_id is None
    assert [r.status for r in runs(engine)] == ["failed", "ok"]
    assert runs(engine)[0].requests == 2 + 4


def test_posts_published_between_a_crash_and_the_rerun_are_collected_once(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages(), published=400)
    fake.register(rsps)
    fake.fail(3, KeyboardInterrupt())  # Ctrl-C while page 3 is on its way
    with pytest.raises(KeyboardInterrupt):
        collect_pass(engine, x_source())
    assert runs(engine)[0].status == "interrupted"
    fake.publish(100)
    collect_pass(engine, x_source())
    assert counts(engine) == (500, 500)
    third = collect_pass(engine, x_source())
    assert (third.requests, third.posts_read) == (1, 0)


def test_faults_in_the_middle_of_a_pass_are_ridden_out_in_that_pass(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    reset = 1_000_000 + 30
    faults = [
        503,
        (500, {"title": "Internal Server Error"}),
        (429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(reset)}),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("connection aborted"),
        "<html><body>Something is technically wrong.</body></html>",
    ]
    # one fault before each of pages 2..5, two before page 3
    for call, fault in zip((2, 4, 5, 7, 9, 10), faults, strict=True):
        fake.fail(call, fault)
    src = x_source()
    result = collect_pass(engine, src)
    assert (result.pages, result.new, result.requests) == (5, 500, 5 + 6)
    assert src.sleep == [1.0, 1.0, 31.0, 1.0, 1.0, 2.0]
    assert counts(engine) == (500, 500)
    assert [(r.status, r.requests) for r in runs(engine)] == [("ok", 11)]


def test_an_outage_longer_than_the_window_collects_what_it_holds_and_records_the_gap(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages(), published=100)
    fake.register(rsps)
    collect_pass(engine, x_source())
    # a week later: 400 new posts, the oldest 100 of which have left the 7-day window
    fake.publish(400)
    fake.window_floor = fake.order[200]
    result = collect_pass(engine, x_source())
    assert result.gap is not None and result.gap[0] is not None and result.gap[1] is not None
    assert counts(engine) == (400, 400)
    run = runs(engine)[-1]
    assert run.status == "ok" and run.gap_from is not None and run.gap_to is not None
    assert run.gap_from < run.gap_to


def test_the_usage_cap_stops_the_pass_at_once_and_says_so(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    fake.fail(2, (429, USAGE_CAPPED))
    src = x_source()
    with pytest.raises(SourceError, match="usage cap"):
        collect_pass(engine, src)
    assert src.requests == 2 and src.sleep == []
    assert counts(engine) == (100, 100)
    run = runs(engine)[-1]
    assert run.status == "failed" and "usage cap" in run.message


def test_the_monthly_post_cap_stops_a_pass_before_it_is_crossed_and_next_month_resumes(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    june = dt.datetime(2017, 6, 12, 9, tzinfo=dt.UTC)
    capped = settings(monthly_post_cap=330)
    result = passes.collect(capped, engine, source=x_source(), now=june)
    assert result.stopped_early and "monthly post cap" in result.stopped_early
    assert [c["max_results"] for c in fake.search_calls] == ["100", "100", "100", "30"]
    assert month_posts_read(engine, june) == 330
    assert runs(engine)[-1].status == "stopped"

    # still June: nothing left, so no request at all
    before = len(fake.calls)
    again = passes.collect(capped, engine, source=x_source(), now=june + dt.timedelta(hours=1))
    assert again.stopped_early and len(fake.calls) == before
    assert runs(engine)[-1].requests == 0

    # July: a fresh cap; the pass resumes below what June stored
    passes.collect(capped, engine, source=x_source(), now=dt.datetime(2017, 7, 1, tzinfo=dt.UTC))
    assert counts(engine) == (500, 500)
    assert month_posts_read(engine, june) == 330


def test_with_the_cap_used_up_every_kind_of_pass_asks_nothing_and_says_so(
    engine: Engine, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    june = dt.datetime(2017, 6, 12, 9, tzinfo=dt.UTC)
    capped = settings(monthly_post_cap=330, full_archive=True)
    assert passes.collect(capped, engine, source=x_source(), now=june).stopped_early
    asked = len(fake.calls)
    later = june + dt.timedelta(hours=1)
    day = dt.date(2017, 6, 12)
    results = {
        "backfill": passes.backfill(capped, engine, day, day, source=x_source(), now=later),
        "refresh": passes.refresh_metrics(capped, engine, now=later, source=x_source()),
        "collection": passes.collect(capped, engine, source=x_source(), now=later),
    }
    assert len(fake.calls) == asked  # not one request once the month's posts are read
    for what, result in results.items():
        assert result.stopped_early == (
            "monthly post cap reached: 330 of [x] monthly_post_cap = 330 posts read this "
            f"month; {what} resumes next month"
        )
        assert result.stopped_early in caplog.text
    stopped = [(r.kind, r.status, r.requests, r.message) for r in runs(engine)[1:]]
    assert stopped == [
        (kind, "stopped", 0, results[what].stopped_early)
        for kind, what in [
            ("backfill", "backfill"),
            ("refresh", "refresh"),
            ("collect", "collection"),
        ]
    ]
    assert month_posts_read(engine, later) == 330


@pytest.mark.slow
def test_polling_every_15_minutes_reads_each_post_once(
    sqlite_engine: Engine, rsps: responses.RequestsMock, capsys
) -> None:
    """Measure posts read per post stored over days of polling (the floor is 1.0).

    1,000 real posts arrive over ``HASHMON_MEASURE_DAYS`` days (1 in the suite, to keep
    it quick; 7 for the figures in the report) with a daily rhythm and a first-morning
    spike; ``restamp`` gives each its arrival time as ``created_at`` (the recorded posts
    are from 2021 and 2023), so the default refresh policy (every 3 h, posts of the last
    72 h) can be measured beside the search, which alone should read each post once.
    """
    days = int(os.environ.get("HASHMON_MEASURE_DAYS", "1"))
    pages = read_pages() + read_pages(OTHER_CHAIN_FILE)
    fake = FakeX(pages, published=0)
    fake.register(rsps)
    total = len(fake.order)
    rng = random.Random(42)
    polls = days * 24 * 4
    start = dt.datetime(2017, 6, 12, tzinfo=dt.UTC)
    # busy from 07:00 to 22:00 local (UTC+1), quiet at night; a spike at 09:00 on day one
    weights = [1 + 4 * (6 <= (i // 4) % 24 <= 20) for i in range(polls)]
    weights[9 * 4] = 300
    arrivals = [0] * polls
    for _ in range(total):
        arrivals[rng.choices(range(polls), weights)[0]] += 1
    created: dict[str, str] = {}
    fake.restamp = created.__getitem__
    cfg = settings(monthly_post_cap=10**6)
    requests_per_pass = []
    source = x_source()
    for i in range(polls):
        now = start + dt.timedelta(minutes=15 * i)
        for post_id in fake.order[fake.published : fake.published + arrivals[i]]:
            moment = now - dt.timedelta(seconds=rng.randrange(900))
            created[post_id] = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        fake.publish(arrivals[i])
        before = source.requests
        passes.collect(cfg, sqlite_engine, source=source, now=now)
        requests_per_pass.append(source.requests - before)
        if i % 12 == 11:  # refresh_metrics_every_minutes = 180
            passes.refresh_metrics(cfg, sqlite_engine, now=now, source=source)
    stored, _ = counts(sqlite_engine)
    read = {"collect": 0, "refresh": 0}
    lookups = 0
    for run in runs(sqlite_engine):
        read[run.kind] += run.posts_read
        lookups += run.requests if run.kind == "refresh" else 0
    assert stored == total and read["collect"] == total
    with capsys.disabled():
        print(
            f"\n[measure] {days} days, {polls} polls, {stored} posts stored: search reads "
            f"{read['collect'] / stored:.3f} per post stored; requests per pass: mean "
            f"{sum(requests_per_pass) / polls:.3f}, max {max(requests_per_pass)}, total "
            f"{sum(requests_per_pass)}; with refresh-metrics every 3 h over 72 h: "
            f"{(read['collect'] + read['refresh']) / stored:.2f} reads per post stored "
            f"({read['refresh']} lookup reads in {lookups} requests)"
        )
    assert read["collect"] / stored == 1.0


# --- stopping on request, and backfill ----------------------------------------------


def test_a_stop_request_ends_the_pass_between_pages_and_the_next_pass_resumes(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    stop = threading.Event()
    fake.before(2, stop.set)  # SIGTERM arrives while page 2 is on its way
    result = passes.collect(settings(), engine, source=x_source(), stop=stop)
    assert result.stopped_early and "between pages" in result.stopped_early
    assert counts(engine) == (200, 200)
    assert (runs(engine)[-1].status, runs(engine)[-1].errors) == ("interrupted", 0)
    assert lease.read_lease(engine) is None  # released on the way out

    passes.collect(settings(), engine, source=x_source(), stop=threading.Event())
    assert counts(engine) == (500, 500)


def test_a_long_rate_limit_wait_keeps_the_lease_and_a_stop_request_cuts_it_short(
    engine: Engine, rsps: responses.RequestsMock
) -> None:
    fake = FakeX(read_pages())
    fake.register(rsps)
    fake.fail(2, (429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "1000100"}))
    stop = threading.Event()
    expiries: list[str] = []

    def sleep(seconds: float) -> None:
        sleep.calls.append(seconds)
        expiries.append(lease.read_lease(engine).expires_at)
        if len(sleep.calls) == 3:
            stop.set()  # the signal arrives during the third half-minute of the wait

    sleep.calls = []
    source = XSource(settings(), TOKEN, sleep=sleep, clock=lambda: 1_000_000.0)
    result = passes.collect(settings(), engine, source=source, stop=stop)
    # a 101 s wait, slept in half-minutes with the lease renewed in between
    assert sleep.calls == [30.0, 30.0, 30.0]
    assert expiries == sorted(expiries) and len(set(expiries)) == 3
    assert result.stopped_early and "waiting to retry" in result.stopped_early
    assert counts(engine) == (100, 100) and runs(engine)[-1].status == "interrupted"


def test_backfill_needs_full_archive_access(engine: Engine) -> None:
    with pytest.raises(UsageError) as err:
        passes.backfill(Settings(), engine, dt.date(2017, 6, 12), dt.date(2017, 6, 16))
    assert str(err.value) == (
        "backfill needs full-archive search access (X Pro or Enterprise); "
        "set [x] full_archive = true if your account has it"
    )
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="before --since"):
        passes.backfill(Settings(), engine, dt.date(2017, 6, 16), dt.date(2017, 6, 12))


def test_backfill_reads_the_full_archive_page_by_page_and_a_rerun_only_what_is_newer(
    engine: Engine, rsps: responses.RequestsMock, monkeypatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = FakeX(read_pages())
    fake.register(rsps)
    archive = settings(full_archive=True)
    day = dt.date(2023, 4, 7)
    result = passes.backfill(archive, engine, day, day)  # the source is built from settings
    assert (result.pages, result.new) == (1, 500)  # full archive: up to 500 a page
    assert fake.calls[0][0].endswith("/search/all")
    assert fake.search_calls[0]["start_time"] == "2023-04-06T23:00:00Z"
    again = passes.backfill(archive, engine, day, day)
    assert (again.requests, again.posts_read) == (1, 0)
    assert fake.search_calls[-1]["since_id"] == fake.visible()[0]
    assert [(r.kind, r.status) for r in runs(engine)] == [("backfill", "ok")] * 2
    assert month_posts_read(engine) == 500


@pytest.mark.slow
def test_a_pass_cut_short_by_the_cap_twice_still_loses_no_post(sqlite_engine) -> None:
    # the simulator stands in for X: a budget that runs out in the first pass and again
    # while the second pass resumes it; the third pass must fetch everything left
    campaign = simulate_campaign(Settings(), seed=7)
    now = campaign.span_end_at
    reach = now - dt.timedelta(days=7)
    expected = sum(1 for i in range(len(campaign)) if reach <= campaign.created_at(i) <= now)
    source = SimulatedSource(campaign, clock=now)
    first = collect_pass(sqlite_engine, source, now=now, budget=450)
    second = collect_pass(sqlite_engine, source, now=now, budget=300)
    third = collect_pass(sqlite_engine, source, now=now)
    assert first.stopped_early and second.stopped_early and not third.stopped_early
    with sqlite_engine.connect() as conn:
        assert stored_counts(conn)["posts"] == expected
    # and nothing was read twice: every post read was new
    assert first.posts_read + second.posts_read + third.posts_read == expected


def test_a_run_left_running_by_a_killed_pass_is_closed_as_interrupted_by_the_next(
    sqlite_engine,
) -> None:
    # a SIGKILL leaves no chance to close the run: write such a row by hand, as it would be
    with writing(sqlite_engine) as conn:
        dead = start_run(conn, "collect", "2017-06-12T10:00:00.000000Z")
    settings = Settings(source={"kind": "simulated"})
    campaign = simulate_campaign(settings, seed=3)
    source = SimulatedSource(campaign, clock=campaign.span_end_at)
    passes.collect(settings, sqlite_engine, source=source, now=campaign.span_end_at)
    runs = CollectionRun.__table__
    with sqlite_engine.connect() as conn:
        statuses = dict(conn.execute(select(runs.c.id, runs.c.status)).all())
    assert statuses[dead] == "interrupted"
    assert sorted(statuses.values()) == ["interrupted", "ok"]

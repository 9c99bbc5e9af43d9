"""Cost: every post read recorded with its UTC day, charged reads under both billing
models, the budget alerts at 50, 80 and 100 %, and ``hashmon plan``'s forecast."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import Engine, func, select, text

from jobs import passes
from jobs.status import format_status, status_object
from monitor.budget import month_alerts, new_alerts, recorded_reads, usage
from monitor.plan import forecast
from monitor.settings import Campaign, Schedule, Settings, X
from monitor.store.schema import Observation, Post, create_schema
from tests.xapi import FakeX, faked_x
from tests.xapi import quiet_source as x_source

# the recorded posts were created on 2023-04-07 between 19:17 and 21:40 UTC
DAY1 = dt.datetime(2023, 4, 8, 11, 0, tzinfo=dt.UTC)
ALERT = "% of the month's cap or budget used"


@pytest.fixture
def fake():
    with faked_x() as fx:
        yield fx


def originals(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Post).where(Post.kind != "retweet")
        ).scalar_one()


def refresh(settings: Settings, engine: Engine, now: dt.datetime):
    # from the posts' local date, so posts days old are still refreshed
    return passes.refresh_metrics(
        settings, engine, dt.date(2023, 4, 7), now=now, source=x_source(settings)
    )


def test_every_read_is_recorded_by_utc_day_and_charged_reads_follow_the_billing_model(
    engine: Engine, fake: FakeX
) -> None:
    settings = Settings(x=X(monthly_post_cap=10**6))
    passes.collect(settings, engine, source=x_source(settings), now=DAY1)
    refresh(settings, engine, DAY1 + dt.timedelta(hours=1))  # the same UTC day: free
    refresh(settings, engine, DAY1 + dt.timedelta(hours=12))  # 23:00, still 2023-04-08
    refresh(settings, engine, DAY1 + dt.timedelta(hours=14))  # 01:00 on 2023-04-09
    n = originals(engine)
    assert 100 < n < 500
    # independently of post_reads: each sighting is one observation, with its time
    with engine.connect() as conn:
        pairs = conn.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT DISTINCT post_id, substr(observed_at, 1, 10) "
                "FROM observations) AS d"
            )
        ).scalar_one()
        sightings = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    assert sightings == 500 + 3 * n
    assert pairs == 500 + n  # the second day re-read the originals once
    assert recorded_reads(engine, DAY1) == (500 + 3 * n, 500 + n)

    per_use = usage(settings, engine, DAY1)
    assert (per_use.reads, per_use.charged) == (500 + 3 * n, 500 + n)
    assert per_use.spend == pytest.approx((500 + n) * 0.005)
    capped = usage(Settings(x=X(billing="cap", monthly_post_cap=10**6)), engine, DAY1)
    assert (capped.reads, capped.charged) == (500 + 3 * n, 500 + 3 * n)

    obj = status_object(settings, engine, now=DAY1)
    q = obj["quota"]
    assert (q["posts_read"], q["charged_reads"], q["billing"]) == (
        500 + 3 * n,
        500 + n,
        "pay-per-use",
    )
    assert q["cost"] == pytest.approx((500 + n) * 0.005)
    assert f"charged reads (pay-per-use): {500 + n:,}" in "\n".join(format_status(obj))
    # another month has read nothing
    assert recorded_reads(engine, DAY1 + dt.timedelta(days=30)) == (0, 0)


def test_a_database_from_before_post_reads_gains_the_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE post_reads"))
        conn.execute(text("DROP TABLE budget_alerts"))
    create_schema(engine)
    assert recorded_reads(engine) == (0, 0) and month_alerts(engine) == []


def alerts_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if ALERT in r.getMessage()]


def test_cap_alerts_at_50_80_and_100_percent_once_each_then_collection_stops(
    engine: Engine, fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = Settings(x=X(billing="cap", monthly_post_cap=1000))
    passes.collect(settings, engine, source=x_source(settings), now=DAY1)  # 500: 50 %
    assert [a.threshold for a in month_alerts(engine, DAY1)] == [50]
    assert new_alerts(settings, engine, DAY1) == []  # the pass already raised it
    n = originals(engine)
    reads = 500
    thresholds = []
    while reads + n < 1000:  # cap billing: every re-read counts, the same day too
        refresh(settings, engine, DAY1 + dt.timedelta(minutes=10))
        reads += n
        if reads >= 800 and not thresholds:
            thresholds.append(80)
        assert [a.threshold for a in month_alerts(engine, DAY1)] == [50, *thresholds]
    assert thresholds == [80]
    result = refresh(settings, engine, DAY1 + dt.timedelta(minutes=20))  # cut at the cap
    assert result.posts_read == 1000 - reads and result.stopped_early
    assert [a.threshold for a in month_alerts(engine, DAY1)] == [50, 80, 100]
    stopped = passes.collect(settings, engine, source=x_source(settings), now=DAY1)
    assert stopped.posts_read == 0 and "cap reached" in stopped.stopped_early
    logged = alerts_logged(caplog)
    assert [m.split(" ")[0] for m in logged] == ["50", "80", "100"]
    assert "collection stops" in logged[-1]
    obj = status_object(settings, engine, now=DAY1)
    assert [a["threshold"] for a in obj["quota"]["alerts"]] == [50, 80, 100]
    assert sum("alert: " in line for line in format_status(obj)) == 3
    # a new month starts with no alert
    assert new_alerts(settings, engine, DAY1 + dt.timedelta(days=30)) == []


def test_budget_alerts_under_pay_per_use_count_each_post_once_a_utc_day(
    engine: Engine, fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # 5.00 at 0.005 a read: 1,000 charged reads
    settings = Settings(x=X(monthly_post_cap=10**6, monthly_budget=5.0))
    passes.collect(settings, engine, source=x_source(settings), now=DAY1)  # 500 charged
    assert [a.threshold for a in month_alerts(engine, DAY1)] == [50]
    n = originals(engine)
    refresh(settings, engine, DAY1 + dt.timedelta(hours=2))  # the same UTC day: free
    assert usage(settings, engine, DAY1).charged == 500
    charged, day = 500, DAY1
    while charged + n < 1000:  # one re-read a day, each charged
        day += dt.timedelta(days=1)
        refresh(settings, engine, day)
        charged += n
        expected = [50] + ([80] if charged >= 800 else [])
        assert usage(settings, engine, day).charged == charged
        assert [a.threshold for a in month_alerts(engine, day)] == expected
    day += dt.timedelta(days=1)
    result = refresh(settings, engine, day)  # the budget allows only what is left
    assert result.posts_read == 1000 - charged and result.stopped_early
    assert usage(settings, engine, day).spend == pytest.approx(5.0)
    assert [a.threshold for a in month_alerts(engine, day)] == [50, 80, 100]
    stopped = passes.collect(settings, engine, source=x_source(settings), now=day)
    assert stopped.posts_read == 0 and "monthly budget reached" in stopped.stopped_early
    assert [m.split(" ")[0] for m in alerts_logged(caplog)] == ["50", "80", "100"]


def one_utc_day(**x: object) -> Settings:
    return Settings(
        campaign=Campaign(start=dt.date(2017, 6, 12), end=dt.date(2017, 6, 12), timezone="UTC"),
        schedule=Schedule(
            refresh_metrics_every_minutes=360,
            refresh_metrics_for_hours=48,
            refresh_before_reports=False,
        ),
        x=X(**x),
    )


def test_plan_counts_collection_refreshes_and_charged_reads_hour_by_hour() -> None:
    # 24 posts on one UTC day, one an hour (mid-hour), half of them retweets. Refreshes
    # every 6 h go on until the last post is 48 h old: each non-retweet is re-read by
    # the 8 refreshes of its next 48 h, so 12 * 8 = 96 refresh reads
    f = forecast(one_utc_day(monthly_post_cap=10**6), 24, "--posts", retweet_share=0.5)
    assert (f.collect_reads, f.refresh_reads, f.reads) == (24, 96, 120)
    # pay-per-use: a retweet is charged once (12 June); a non-retweet on 12, 13 and 14
    # June (its 48 h after h:30 always reach into 14 June): 12 + 12 * 3
    assert f.charged_reads == 48 and f.cost == pytest.approx(0.24)
    assert f.runs_out is None and f.advice == []
    cap = forecast(
        one_utc_day(billing="cap", monthly_post_cap=40), 24, "--posts", retweet_share=0.5
    )
    assert cap.charged_reads == 120 and cap.share == pytest.approx(120 / 40)
    # 12 June alone reads 24 + (6 + 12 + 18) * 0.5 = 42 >= 40 (refreshes at 6, 12, 18 h)
    assert cap.runs_out == "2017-06-12"
    # one refresh a post (over 6 h) reads 24 + 12 = 36: within the cap
    assert any("refresh_metrics_for_hours = 6: 36 reads" in a for a in cap.advice)


@pytest.mark.slow
def test_refresh_before_reports_rereads_the_days_posts_then_every_campaign_post(
    engine: Engine,
) -> None:
    from monitor.settings import Source
    from monitor.times import local_midnight_us

    off = Settings(source=Source(kind="simulated"), schedule=Schedule(refresh_before_reports=False))
    passes.collect(off, engine)
    assert passes.refresh_before_report(off, engine, "daily", dt.date(2017, 6, 14)) is None
    on = off.model_copy(
        update={"schedule": Schedule(refresh_before_reports=True, refresh_metrics_for_hours=24)}
    )
    tz = on.campaign.tz

    def non_retweets_since(day: dt.date) -> int:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(Post)
                .where(Post.kind != "retweet", Post.created_at_us >= local_midnight_us(day, tz))
            ).scalar_one()

    daily = passes.refresh_before_report(on, engine, "daily", dt.date(2017, 6, 16))
    assert daily is not None and daily.candidates == non_retweets_since(dt.date(2017, 6, 16))
    summary = passes.refresh_before_report(on, engine, "summary")
    assert summary is not None and summary.candidates == non_retweets_since(dt.date(2017, 6, 12))
    assert 0 < daily.candidates < summary.candidates


def test_plan_of_the_default_schedule_refreshes_before_each_report() -> None:
    # the defaults: no periodic refresh; before the 21:00 daily report the non-retweets
    # of its day (48 posts, 2 an hour: 42 created before 21:00, half retweets: 21), before
    # the 09:00 summary the next day all 24 non-retweets
    settings = Settings(
        campaign=Campaign(start=dt.date(2017, 6, 12), end=dt.date(2017, 6, 12), timezone="UTC"),
        x=X(monthly_post_cap=10**6),
    )
    assert settings.schedule.refresh_metrics_every_minutes == 0
    f = forecast(settings, 48, "--posts", retweet_share=0.5)
    assert (f.collect_reads, f.refresh_reads) == (48, 21 + 24)
    # pay-per-use: the daily refresh is on the posts' own UTC day, free; the summary's
    # on 13 June charges the 24 non-retweets once
    assert f.charged_reads == 48 + 24


def test_hashmon_plan_prints_the_forecast_as_json_and_says_what_to_change(
    tmp_path, sqlite_url: str
) -> None:
    import json

    from click.testing import CliRunner

    from jobs.cli import cli

    config = tmp_path / "hashmon.toml"
    config.write_text(
        f'[database]\nurl = "{sqlite_url}"\n[x]\nbilling = "cap"\nmonthly_post_cap = 8000\n'
    )
    args = ["--config", str(config), "plan", "--posts", "7000"]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    obj = json.loads(result.output)
    settings = Settings(x=X(billing="cap", monthly_post_cap=8000))
    expected = forecast(settings, 7000, "--posts")
    assert (obj["posts"], obj["reads"], obj["charged_reads"]) == (
        7000,
        expected.reads,
        expected.reads,  # cap billing: every read is charged
    )
    assert obj["share"] == pytest.approx(expected.reads / 8000) and obj["share"] > 1
    assert obj["runs_out"] is not None and obj["advice"]
    text_out = CliRunner().invoke(cli, args, catch_exceptions=False).output
    assert f"post reads: {expected.reads:,}" in text_out and "to stay within it:" in text_out
    bad = CliRunner().invoke(cli, [*args[:3], "--posts", "-1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


@pytest.mark.slow
def test_the_daily_reports_coverage_shows_the_months_use_and_the_thresholds_crossed(
    engine: Engine, fake: FakeX, tmp_path
) -> None:
    import html
    import json
    import re

    from pypdf import PdfReader

    from monitor.settings import Reports, Source
    from reports.build import daily_report_data, write_report

    # 800 charged reads' worth of budget; the posts' local day is 2023-04-07 (UTC)
    settings = Settings(
        campaign=Campaign(start=dt.date(2023, 4, 7), end=dt.date(2023, 4, 9), timezone="UTC"),
        x=X(monthly_post_cap=10**6, monthly_budget=4.0),
        reports=Reports(formats=("html", "pdf", "json")),
    )
    day2 = DAY1 + dt.timedelta(days=1)
    passes.collect(settings, engine, source=x_source(settings), now=DAY1)
    refresh(settings, engine, DAY1 + dt.timedelta(hours=1))  # the same UTC day: free
    refresh(settings, engine, day2)  # 2023-04-09: charged again
    # independently of monitor.budget: every sighting is an observation with its time
    with engine.connect() as conn:
        reads = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        pairs = conn.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT DISTINCT post_id, substr(observed_at, 1, 10) "
                "FROM observations) AS d"
            )
        ).scalar_one()
    n = originals(engine)
    assert (reads, pairs) == (500 + 2 * n, 500 + n)
    # 500 charged after the collect (62.5 %: 50 % crossed then), 500 + n after the second day
    crossed = ["50% on 2023-04-08 at 11:00 UTC"]
    if (500 + n) * 100 >= 80 * 800:
        crossed.append("80% on 2023-04-09 at 11:00 UTC")
    expected = (
        f"In April 2023 (UTC) hashmon had read {reads:,} posts from X when this report was "
        f"written, {reads / 10**6:.1%} of [x] monthly_post_cap (1,000,000); {pairs:,} charged "
        f"reads under pay-per-use billing cost {pairs * 0.005:,.2f} at 0.005 a post read, "
        f"{pairs * 0.005 / 4.0:.1%} of [x] monthly_budget (4.00). Alert thresholds crossed "
        f"this month: {'; '.join(crossed)}."
    )
    report = daily_report_data(
        engine, settings, dt.date(2023, 4, 7), now=day2 + dt.timedelta(hours=1)
    )
    files = {p.suffix: p for p in write_report(report, tmp_path)}
    page = html.unescape(" ".join(files[".html"].read_text(encoding="utf-8").split()))
    assert expected in page
    pdf = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(files[".pdf"]).pages)
    assert re.sub(r"\s", "", expected) in re.sub(r"\s", "", pdf)  # lines wrap anywhere
    use = json.loads(files[".json"].read_text(encoding="utf-8"))["coverage"]["month_use"]
    assert (use["posts_read"], use["charged_reads"]) == (reads, pairs)
    assert [t["threshold"] for t in use["thresholds"]] == [int(c[:2]) for c in crossed]
    assert len(crossed) == 2  # the recorded posts hold 146 originals: 646 of 800 is 80.75 %

    # the simulator costs nothing: its reports say nothing of a cap or budget
    simulated = settings.model_copy(update={"source": Source(kind="simulated")})
    quiet = daily_report_data(engine, simulated, dt.date(2023, 4, 7), now=day2)
    assert "month_use" not in quiet.coverage

"""The report data layer: every figure a report shows, on SQLite and on PostgreSQL.

Arranged with the hand-made pages of ``tests.reportdata`` (imported through the real
archive import), whose figures are worked out by hand there. The reports' ``figures``
must be ``stats_object`` exactly; the rest (top lists, hours, pace, coverage) is
checked against those hand-worked values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from monitor.settings import Baseline, Campaign, Reports, Settings
from monitor.store.engine import snapshot_pair, writing
from monitor.store.runs import finish_run, start_run
from reports.build import write_daily_report, write_summary_report
from reports.coverage import collection_coverage
from reports.pace import baseline_pace
from reports.rankings import (
    campaign_vs_others,
    hours_of_day,
    post_link,
    top_contributors,
    top_hashtags,
    top_posts,
)
from reports.report_data import daily_data, summary_data
from reports.stats import period_stats, stats_object
from tests import reportdata as rd

NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
SETTINGS = Settings(reports=Reports(formats=("json",)))
WEEK = SETTINGS.campaign.days()


@pytest.fixture
def known(engine: Engine, tmp_path: Path) -> Engine:
    """The engine with ``reportdata.known_pages()`` imported."""
    rd.build(engine, tmp_path, rd.known_pages(), "known.jsonl")
    return engine


def _json(path: Path) -> dict:
    return orjson.loads(path.read_bytes())


def test_summary_json_figures_equal_stats_object(known: Engine, tmp_path: Path) -> None:
    files = write_summary_report(known, SETTINGS, tmp_path / "out", now=NOW)
    assert [p.name for p in files] == ["summary-IMHAW17.json"]
    with known.connect() as conn:
        expected = stats_object(conn, SETTINGS)
    assert _json(files[0])["figures"] == orjson.loads(orjson.dumps(expected))


@pytest.mark.parametrize(
    "day", [dt.date(2017, 6, 12), dt.date(2017, 6, 14), dt.date(2017, 6, 17), dt.date(2017, 6, 11)]
)
def test_daily_json_figures_equal_stats_object_for_that_day(
    known: Engine, tmp_path: Path, day: dt.date
) -> None:
    (path,) = write_daily_report(known, SETTINGS, day, tmp_path / "out", now=NOW)
    assert path.name == f"daily-{day.isoformat()}.json"
    with known.connect() as conn:
        expected = stats_object(conn, SETTINGS, day, day)
    assert _json(path)["figures"] == orjson.loads(orjson.dumps(expected))


def test_known_figures_by_day_and_for_the_window(known: Engine) -> None:
    with known.connect() as conn:
        report = summary_data(conn, SETTINGS, now=NOW)
    days = {d["date"]: d for d in report.figures["days"]}
    for date, figures in rd.KNOWN.items():
        if date in days:
            for key, value in figures.items():
                assert days[date][key] == value, (date, key)
    assert report.totals["potential_reach"] == rd.KNOWN["window_reach"]
    assert report.totals["potential_impressions"] == rd.KNOWN["window_potential_impressions"]


def test_cumulative_reach_is_reach_over_the_days_so_far_not_a_sum_of_daily_reach(
    known: Engine,
) -> None:
    settings = SETTINGS.model_copy(
        update={"baseline": Baseline(label="#LAST", metric="potential_reach", value=10_000)}
    )
    with known.connect() as conn:
        period = period_stats(conn, settings, WEEK[0], WEEK[-1])
        days = period.figures["days"]
        pace = baseline_pace(settings, days, period.running)
    cumulative = [row["cumulative"] for row in pace["days"]]
    daily_sums = [sum(d["potential_reach"] for d in days[: k + 1]) for k in range(len(days))]
    # alice posted on both days: her audience counts once (1,100 from her later post)
    assert cumulative == [6200, 6300, 6300, 6300, 6300]
    assert daily_sums == [6200, 7500, 7500, 12500, 12500]
    assert pace["progress"] == pytest.approx(0.63)
    with known.connect() as conn:
        assert stats_object(conn, settings)["totals"]["potential_reach"] == cumulative[-1]


def test_pace_says_what_each_remaining_day_needs(known: Engine) -> None:
    with known.connect() as conn:
        report = daily_data(conn, SETTINGS, dt.date(2017, 6, 13), now=NOW)
    pace = report.pace
    assert pace["metric"] == "potential_impressions"
    assert [r["cumulative"] for r in pace["days"]] == [6200, 7500]
    assert pace["days_left"] == 3
    # 9,992,500 still needed over 3 days is 3,330,833.33 a day: a count, so rounded up
    assert pace["needed"] == 10_000_000 - 7500
    assert pace["needed_per_day"] == 3_330_834
    assert isinstance(pace["needed_per_day"], int)
    assert pace["needed_per_day"] * 3 >= pace["needed"] > (pace["needed_per_day"] - 1) * 3
    assert pace["progress"] == report.to_date["totals"]["baseline_progress"]
    assert not pace["passed"]
    assert pace["passed_on"] is None


def test_pace_records_the_day_the_baseline_was_passed(known: Engine) -> None:
    settings = SETTINGS.model_copy(
        update={"baseline": Baseline(label="#LAST", metric="posts", value=7)}
    )
    with known.connect() as conn:
        report = summary_data(conn, settings, now=NOW)
    assert report.pace["passed_on"] == "2017-06-13"
    assert report.pace["days"][-1]["needed_per_day"] is None  # no day left
    # 5 posts on day 1, 2 more needed over 4 days: half a post a day is 1 post a day
    assert report.pace["days"][0]["needed"] == 2
    assert report.pace["days"][0]["needed_per_day"] == 1
    assert report.pace["days"][-1]["needed"] == 0


@pytest.mark.parametrize("metric", ["potential_reach", "contributors"])
def test_a_metric_that_does_not_add_up_by_day_has_a_total_still_needed_not_a_daily_one(
    known: Engine, tmp_path: Path, metric: str
) -> None:
    settings = SETTINGS.model_copy(
        update={
            "baseline": Baseline(label="#LAST", metric=metric, value=1_000_000.5),
            "reports": Reports(formats=("html", "json")),
        }
    )
    with known.connect() as conn:
        report = daily_data(conn, settings, dt.date(2017, 6, 13), now=NOW)
    so_far = report.to_date["totals"][metric]
    assert report.pace["needed_per_day"] is None
    assert report.pace["needed"] == 1_000_001 - so_far  # whole, rounded up
    files = write_daily_report(known, settings, dt.date(2017, 6, 13), tmp_path, now=NOW)
    page = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    words = " ".join(page.split())
    assert "needs <strong" in words and f"{1_000_001 - so_far:,}</strong> more" in words
    assert "each of the" not in words and "no target per day" in words


def test_without_a_baseline_pace_tracks_potential_impressions_and_compares_nothing(
    known: Engine,
) -> None:
    settings = SETTINGS.model_copy(update={"baseline": None})
    with known.connect() as conn:
        report = summary_data(conn, settings, now=NOW)
    assert report.pace["baseline"] is None
    assert report.pace["progress"] is None
    assert report.pace["cumulative"] == rd.KNOWN["window_potential_impressions"]


def test_a_daily_report_before_the_campaign_has_no_campaign_to_date(known: Engine) -> None:
    with known.connect() as conn:
        report = daily_data(conn, SETTINGS, dt.date(2017, 6, 10), now=NOW)
    assert report.to_date is None
    assert report.pace["days"] == []
    assert report.totals["posts"] == 0


def test_top_posts_rank_non_retweets_by_engagements_with_links(known: Engine) -> None:
    with known.connect() as conn:
        posts = top_posts(conn, SETTINGS, WEEK[0], WEEK[-1], 10)
    # the retweet 1003 has the most likes but its counts belong to its original
    assert [p["id"] for p in posts] == ["1008", "1001", "1006", "1002", "1007", "1004", "1005"]
    assert [p["engagements"] for p in posts] == [31, 17, 6, 3, 2, 1, 0]
    first = posts[1]
    assert first["username"] == "first1001days"
    assert first["name"] == "1001 Critical Days"
    assert first["created_at"] == "2017-06-11T23:30:00.000000Z"
    assert first["created_at_local"] == "2017-06-12 00:30 BST"
    assert first["url"] == "https://x.com/first1001days/status/1001"
    assert posts[-1]["url"] == "https://x.com/i/web/status/1005"  # no author known
    with known.connect() as conn:
        assert len(top_posts(conn, SETTINGS, WEEK[0], WEEK[-1], 2)) == 2


def test_a_post_link_keeps_any_username_inside_one_https_path_segment() -> None:
    assert post_link("x", "1", "javascript:alert(1)") == (
        "https://x.com/javascript%3Aalert%281%29/status/1"
    )
    assert post_link("x", "1", "a/../b?c") == "https://x.com/a%2F..%2Fb%3Fc/status/1"
    assert post_link("x", "1", None) == "https://x.com/i/web/status/1"
    assert post_link("bluesky", "1", "a") is None


def test_top_contributors_rank_by_potential_impressions(known: Engine) -> None:
    with known.connect() as conn:
        rows = top_contributors(conn, SETTINGS, WEEK[0], WEEK[-1], 10)
    assert [(r["username"], r["posts"], r["potential_impressions"]) for r in rows] == [
        ("first1001days", 2, 10_000),
        ("alice", 2, 2_100),  # 1,000 + 1,100: each post keeps its first-sighting count
        ("bob", 2, 400),
        ("carol", 1, 0),
    ]
    assert rows[0]["name"] == "1001 Critical Days"
    assert rows[0]["engagements"] == 48


def test_top_hashtags_leave_out_the_campaign_tag(known: Engine) -> None:
    with known.connect() as conn:
        tags = top_hashtags(conn, SETTINGS, WEEK[0], WEEK[-1], 10)
        one = top_hashtags(conn, SETTINGS, WEEK[0], WEEK[-1], 1)
    assert tags == [
        {"rank": 1, "hashtag": "perinatal", "posts": 2},
        {"rank": 2, "hashtag": "maternalmentalhealth", "posts": 1},
    ]
    assert one == tags[:1]


def test_the_campaign_accounts_own_posts_are_counted_apart(known: Engine) -> None:
    settings = SETTINGS.model_copy(
        update={"campaign": SETTINGS.campaign.model_copy(update={"accounts": ("@First1001Days",)})}
    )
    with known.connect() as conn:
        own, others = campaign_vs_others(conn, settings, WEEK[0], WEEK[-1])
    assert (own["group"], own["label"]) == ("campaign", "@First1001Days")
    assert (own["posts"], own["potential_impressions"], own["engagements"]) == (2, 10_000, 48)
    assert (others["posts"], others["potential_impressions"], others["engagements"]) == (
        6,
        2_500,
        12,
    )
    assert own["posts"] + others["posts"] == 8


def test_hours_are_campaign_time_hours(known: Engine) -> None:
    with known.connect() as conn:
        hours = hours_of_day(period_stats(conn, SETTINGS, WEEK[0], WEEK[-1]).hours)
    busy = {h["hour"]: h["posts"] for h in hours if h["posts"]}
    # 23:30Z on the 11th is 00:30 BST; 08:15Z and 08:40Z are 09:xx BST; 22:59:59Z is 23:59
    assert busy == {0: 1, 9: 2, 10: 1, 11: 1, 13: 1, 14: 1, 23: 1}
    assert len(hours) == 24


def test_hours_follow_the_summer_time_change_exactly(engine: Engine, tmp_path: Path) -> None:
    # Europe/London moved to BST at 01:00Z on 26 March 2017: 00:30Z is 00:30 GMT and
    # 01:30Z is 02:30 BST; the local day is the 26th for both
    pages = [
        rd.page(
            [
                rd.post("1", "102", "2017-03-26T00:30:00Z", "before #IMHAW17"),
                rd.post("2", "102", "2017-03-26T00:59:59.999Z", "just before #IMHAW17"),
                rd.post("3", "102", "2017-03-26T01:30:00Z", "after #IMHAW17"),
            ],
            {"102": rd.USERS["102"]},
        )
    ]
    rd.build(engine, tmp_path, pages, "dst.jsonl")
    settings = Settings(
        campaign=Campaign(start=dt.date(2017, 3, 25), end=dt.date(2017, 3, 27)),
    )
    day = dt.date(2017, 3, 26)
    with engine.connect() as conn:
        hours = hours_of_day(period_stats(conn, settings, day, day).hours)
        figures = stats_object(conn, settings, day, day)
    assert {h["hour"]: h["posts"] for h in hours if h["posts"]} == {0: 2, 2: 1}
    assert figures["totals"]["posts"] == 3


@pytest.mark.parametrize("timezone", ["Europe/London", "Asia/Kathmandu", "Pacific/Apia"])
def test_a_period_over_400_hours_still_has_every_post_in_its_hour_table(
    known: Engine, timezone: str
) -> None:
    settings = Settings(campaign=Campaign(timezone=timezone), reports=Reports(formats=("json",)))
    with known.connect() as conn:
        week = period_stats(conn, settings, WEEK[0], WEEK[-1])
        long = period_stats(conn, settings, WEEK[0] - dt.timedelta(days=30), WEEK[-1])
    # over 400 hours the hours are summed in several statements: each post still once
    for period in (week, long):
        hours = hours_of_day(period.hours)
        assert len(hours) == 24
        assert sum(h["posts"] for h in hours) == period.figures["totals"]["posts"]
    assert long.figures["days"][-len(WEEK) :] == week.figures["days"]


def test_coverage_counts_runs_failures_gaps_and_hours_without_a_pass(known: Engine) -> None:
    runs = [
        ("collect", "2017-06-11T23:05:00.000000Z", "ok", None, None),
        ("collect", "2017-06-12T01:10:00.000000Z", "failed", None, None),
        ("collect", "2017-06-12T02:20:00.000000Z", "ok", "2017-06-12T01:00:00.000000Z", None),
        ("refresh", "2017-06-12T02:40:00.000000Z", "ok", None, None),
        ("collect", "2017-06-13T10:00:00.000000Z", "ok", None, None),  # the next day
    ]
    with writing(known) as conn:
        for kind, started_at, status, gap_from, gap_to in runs:
            run_id = start_run(conn, kind, started_at)
            finish_run(
                conn, run_id, status, gap_from=gap_from, gap_to=gap_to, finished_at=started_at
            )
    day = dt.date(2017, 6, 12)
    now = dt.datetime(2017, 6, 12, 6, 0, tzinfo=dt.UTC)
    with known.connect() as conn:
        totals = stats_object(conn, SETTINGS, day, day)["totals"]
        cov = collection_coverage(conn, SETTINGS, day, day, totals, now)
    assert cov["runs"] == 4
    assert cov["runs_by_kind"] == {"collect": 3, "refresh": 1}
    assert cov["runs_failed"] == 1
    assert [(g["gap_from"], g["gap_to"]) for g in cov["gaps"]] == [
        ("2017-06-12T01:00:00.000000Z", None)
    ]
    # local midnight is 23:00Z; up to 06:00Z: 7 hours, passes started in 23h, 01h, 02h
    assert cov["hours_checked"] == 7
    assert cov["hours_without_collect_run"] == 4
    assert cov["hours_without_collect_run_list"][0] == "2017-06-12T00:00Z"
    assert cov["posts_without_followers"] == 2
    assert cov["posts"] == 5


def test_coverage_without_collect_passes_checks_no_hours(known: Engine) -> None:
    with known.connect() as conn:
        report = summary_data(conn, SETTINGS, now=NOW)
    cov = report.coverage
    assert cov["runs"] == 0  # the import ran today, not during the campaign
    assert cov["hours_checked"] == 0
    assert cov["stored_posts"] == 9
    assert cov["impressions_coverage"] == pytest.approx(0.25)


def test_kind_shares_come_from_the_totals(known: Engine) -> None:
    with known.connect() as conn:
        report = summary_data(conn, SETTINGS, now=NOW)
    assert {k["kind"]: k["posts"] for k in report.kinds} == {
        "original": 5,
        "retweet": 1,
        "reply": 1,
        "quote": 1,
    }
    assert sum(k["share"] for k in report.kinds) == pytest.approx(1.0)


def test_rankings_run_beside_the_figures_give_the_same_report(known: Engine) -> None:
    with known.connect() as conn:
        alone = summary_data(conn, SETTINGS, now=NOW)
        daily_alone = daily_data(conn, SETTINGS, WEEK[0], now=NOW)
    with snapshot_pair(known) as (conn, side):
        assert conn is not side or known.dialect.name != "sqlite"
        beside = summary_data(conn, SETTINGS, now=NOW, side=side)
        daily_beside = daily_data(conn, SETTINGS, WEEK[0], now=NOW, side=side)
    assert beside == alone
    assert daily_beside == daily_alone

"""The day so far: ``today.html`` rewritten by ``hashmon run`` during campaign days,
worded as true mid-day, linked first from the index, gone once the day's report is out.

Arranged with the hand-made pages of ``tests.reportdata`` (figures worked out by hand
there); the day-1 posts all fall before 20:00 BST, the time the page is written at.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from jobs import reporting
from jobs.schedule import SO_FAR, build_triggers, schedule_jobs
from monitor.settings import Reports, Schedule, Settings
from monitor.store.schema import CollectionRun
from reports.html import write_index
from tests import reportdata as rd

LONDON = dt.timezone(dt.timedelta(hours=1))  # BST, the campaign's June offset
DAY1_20H = dt.datetime(2017, 6, 12, 20, 0, tzinfo=LONDON)
SETTINGS = Settings(reports=Reports(formats=("html", "json")))


@pytest.fixture
def known(engine: Engine, tmp_path: Path) -> Engine:
    rd.build(engine, tmp_path, rd.known_pages(), "known.jsonl")
    return engine


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{re.escape(name)}" data-value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def _links(index: Path) -> list[str]:
    return re.findall(r'<a href="([^"]+\.html)">', index.read_text(encoding="utf-8"))


def test_the_day_so_far_says_up_to_when_and_is_linked_first(known: Engine, tmp_path) -> None:
    out = tmp_path / "reports"
    reporting.write_report(SETTINGS, known, "daily", day=dt.date(2017, 6, 11), out_dir=out)
    written = reporting.write_so_far(SETTINGS, known, now=DAY1_20H, out_dir=out)

    assert written is not None
    page = out / "today.html"
    assert written.files == [page]
    # HTML only: nothing else of the day so far in the folder
    assert sorted(p.name for p in out.iterdir() if "2017-06-12" in p.name) == []
    html = page.read_text(encoding="utf-8")
    assert "<title>IMHAW17 today so far: Monday 12 June 2017, up to 20:00 BST</title>" in html
    assert "So far today, up to 20:00 BST: these figures cover Monday 12 June 2017" in html
    assert "The day so far, up to 20:00 BST" in html
    assert "Top posts of the day so far" in html
    assert "Daily report" not in html
    expected = rd.KNOWN["2017-06-12"]
    assert _figure(html, "figures.totals.posts") == str(expected["posts"])
    assert _figure(html, "figures.totals.potential_impressions") == str(
        expected["potential_impressions"]
    )
    # the day is under way: what the days after it need is conditional, never a target
    per_day = math.ceil((10_000_000 - expected["potential_impressions"]) / 4)
    assert "Were today to end at its 20:00 BST figure, each of the 4 campaign" in html
    assert _figure(html, "pace.needed_per_day") == str(per_day)
    assert "remaining campaign" not in html

    index = out / "index.html"
    assert _links(index)[0] == "today.html"
    text = index.read_text(encoding="utf-8")
    assert "Today so far</strong> · Monday 12 June 2017, up to 20:00 BST" in text
    with known.connect() as conn:
        runs = conn.execute(
            select(CollectionRun.kind, CollectionRun.status, CollectionRun.message)
        ).all()
    assert ("report", "ok") in {(k, s) for k, s, m in runs if "today so far" in (m or "")}


@pytest.mark.slow
def test_the_days_report_removes_the_stale_page_and_stops_its_rewriting(
    known: Engine, tmp_path
) -> None:
    out = tmp_path / "reports"
    assert reporting.write_so_far(SETTINGS, known, now=DAY1_20H, out_dir=out) is not None
    reporting.write_report(SETTINGS, known, "daily", day=dt.date(2017, 6, 12), out_dir=out)

    assert not (out / "today.html").exists()
    assert _links(out / "index.html")[0] == "daily-2017-06-12.html"
    assert "today.html" not in (out / "index.html").read_text(encoding="utf-8")
    later = DAY1_20H + dt.timedelta(hours=2)
    assert reporting.write_so_far(SETTINGS, known, now=later, out_dir=out) is None
    assert not (out / "today.html").exists()
    # the next campaign day starts a page of its own
    next_day = DAY1_20H + dt.timedelta(hours=14)
    assert reporting.write_so_far(SETTINGS, known, now=next_day, out_dir=out) is not None
    assert "up to 10:00 BST" in (out / "today.html").read_text(encoding="utf-8")


def test_no_page_outside_the_campaign_days(known: Engine, tmp_path) -> None:
    out = tmp_path / "reports"
    after = dt.datetime(2017, 6, 17, 10, 0, tzinfo=LONDON)
    assert reporting.write_so_far(SETTINGS, known, now=after, out_dir=out) is None
    assert not (out / "today.html").exists()


def test_a_stray_today_page_neither_breaks_the_index_nor_is_removed(tmp_path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "today.html").write_text("<p>my own notes</p>", encoding="utf-8")
    (out / "today-notes.html").write_text("x", encoding="utf-8")
    (out / "daily-2017-06-12.html").write_text("<p>a report</p>", encoding="utf-8")
    (out / "today.html.bak").write_text("x", encoding="utf-8")
    index = write_index(out)
    assert _links(index) == ["daily-2017-06-12.html"]
    assert (out / "today.html").read_text(encoding="utf-8") == "<p>my own notes</p>"


def test_the_so_far_job_fires_on_the_hour_on_campaign_days_only() -> None:
    trigger = build_triggers(Settings())[SO_FAR]
    tz = Settings().campaign.tz
    start = dt.datetime(2017, 6, 11, 12, 0, tzinfo=tz)
    first = trigger.get_next_fire_time(None, start)
    assert first == dt.datetime(2017, 6, 12, 0, 0, tzinfo=tz)
    mid = trigger.get_next_fire_time(None, dt.datetime(2017, 6, 14, 13, 20, tzinfo=tz))
    assert mid == dt.datetime(2017, 6, 14, 14, 0, tzinfo=tz)
    last = trigger.get_next_fire_time(None, dt.datetime(2017, 6, 16, 22, 30, tzinfo=tz))
    assert last == dt.datetime(2017, 6, 16, 23, 0, tzinfo=tz)
    assert trigger.get_next_fire_time(None, dt.datetime(2017, 6, 16, 23, 30, tzinfo=tz)) is None
    assert SO_FAR not in build_triggers(Settings(schedule=Schedule(so_far_every_minutes=0)))


def test_after_the_campaign_the_so_far_job_is_not_scheduled(sqlite_engine: Engine) -> None:
    settings = Settings()
    after = dt.datetime(2017, 6, 17, 10, 0, tzinfo=settings.campaign.tz)
    during = dt.datetime(2017, 6, 13, 10, 5, tzinfo=settings.campaign.tz)
    scheduler = BackgroundScheduler(timezone=settings.campaign.tz)
    planned = schedule_jobs(scheduler, settings, sqlite_engine, now=during)
    assert planned[SO_FAR] == dt.datetime(2017, 6, 13, 11, 0, tzinfo=settings.campaign.tz)
    scheduler = BackgroundScheduler(timezone=settings.campaign.tz)
    assert schedule_jobs(scheduler, settings, sqlite_engine, now=after)[SO_FAR] is None

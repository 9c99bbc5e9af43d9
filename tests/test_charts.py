"""Charts: each distinct chart drawn once per process, and drawn as matplotlib would.

Two things make drawing cheaper and must not change a pixel: a chart of data already
drawn is the chart drawn before (``reports.chart_cache``), and the title's height is
fixed instead of measured (``axes.titley`` in ``reports.charts.STYLE``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.settings import Settings
from reports import chart_cache
from reports import charts as ch
from reports.build import daily_report_data, summary_report_data
from tests import reportdata as rd

TZ = "Europe/London"


def hours(peak: int, posts: int) -> list[dict[str, int]]:
    return [{"hour": h, "posts": posts if h == peak else h % 3} for h in range(24)]


@pytest.fixture(autouse=True)
def nothing_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no chart drawn (and leaves the process's charts alone)."""
    monkeypatch.setattr(chart_cache, "_kept", type(chart_cache._kept)())


def test_a_chart_of_the_same_data_is_the_chart_drawn_before() -> None:
    first = ch.hourly_chart(hours(14, 40), TZ)
    # equal data in new objects (a report read again): the same drawing, not a new one
    assert ch.hourly_chart(hours(14, 40), TZ) is first


@pytest.mark.parametrize(
    "changed",
    [
        lambda: ch.hourly_chart(hours(14, 41), TZ),  # one bar one post taller
        lambda: ch.hourly_chart(hours(15, 40), TZ),  # the peak an hour later
        lambda: ch.hourly_chart(hours(14, 40), "America/New_York"),  # another time zone
    ],
    ids=["a-value", "another-hour", "another-zone"],
)
def test_a_chart_of_other_data_is_drawn_anew(changed) -> None:
    first = ch.hourly_chart(hours(14, 40), TZ)
    other = changed()
    assert other is not first
    assert other.png != first.png and other.alt != first.alt


def test_only_the_last_charts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_cache, "KEPT", 2)
    a = ch.hourly_chart(hours(1, 9), TZ)
    b = ch.hourly_chart(hours(2, 9), TZ)
    assert ch.hourly_chart(hours(1, 9), TZ) is a  # a is now the most recently used
    ch.hourly_chart(hours(3, 9), TZ)  # a third: b, the least recently used, goes
    assert len(chart_cache._kept) == 2
    assert ch.hourly_chart(hours(1, 9), TZ) is a
    again = ch.hourly_chart(hours(2, 9), TZ)
    assert again is not b and again.png == b.png  # drawn anew, to the same bytes


@pytest.fixture
def known(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    rd.build(sqlite_engine, tmp_path, rd.known_pages(), "known.jsonl")
    return sqlite_engine


def _drawn(engine: Engine, settings: Settings) -> list[bytes]:
    """Every chart of the summary, the first day's report and a day without posts,
    drawn now (no chart kept)."""
    reports = [
        summary_report_data(engine, settings),
        daily_report_data(engine, settings, settings.campaign.start),
        daily_report_data(engine, settings, dt.date(2017, 1, 1)),  # no posts: no ticks
    ]
    out = []
    for r in reports:
        if r.pace["days"]:
            out.append(ch.pace_chart.__wrapped__(r.pace, settings.campaign.days()))
        out.append(ch.daily_posts_chart.__wrapped__(r.window_days or r.figures["days"]))
        out.append(ch.hourly_chart.__wrapped__(r.hours, settings.campaign.timezone))
        out.append(ch.contributors_chart.__wrapped__(r.top_contributors))
    return [c.png for c in out]


@pytest.mark.slow
def test_the_fixed_title_height_draws_the_pixels_matplotlib_measures(
    known: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    fixed = _drawn(known, settings)
    monkeypatch.delitem(ch.STYLE, "axes.titley")  # matplotlib measures the ticks again
    measured = _drawn(known, settings)
    assert len(fixed) == 11  # pace, days, hours, contributors; no pace outside
    assert fixed == measured


def test_a_chart_is_opaque_rgb_with_the_pixels_savefig_draws() -> None:
    import io

    import matplotlib
    from matplotlib.figure import Figure
    from PIL import Image

    with matplotlib.rc_context(ch.STYLE):
        fig = Figure(figsize=(ch.WIDTH, ch.HEIGHT), dpi=ch.DPI)
        ax = fig.add_subplot()
        ax.bar(range(24), [h % 5 for h in range(24)], hatch="///", label="Posts")
        ax.set_title("Posts by hour — café ☕")
        ax.legend()
        ours = Image.open(io.BytesIO(ch.png_bytes(fig)))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=ch.DPI, facecolor="white")
    drawn = Image.open(buf)
    assert ours.mode == "RGB" and drawn.mode == "RGBA"
    assert ours.size == drawn.size == (round(ch.WIDTH * ch.DPI), round(ch.HEIGHT * ch.DPI))
    assert set(drawn.getchannel("A").tobytes()) == {255}  # nothing lost with the alpha
    assert ours.tobytes() == drawn.convert("RGB").tobytes()
    assert ours.info["dpi"] == pytest.approx((ch.DPI, ch.DPI), abs=0.01)

"""How reports write things: file names, numbers, days, titles and the names of figures."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from monitor.settings import Settings
from reports.figure_keys import METRIC_NAMES
from reports.report_data import ReportData

SIMULATED_BANNER = "Simulated data — not real posts"

# the "-part" of a report's file names beside its page: charts, then tables
FILE_PARTS = (
    "pace",
    "daily-posts",
    "hours",
    "contributors",
    "days",
    "top-posts",
    "top-contributors",
    "hashtags",
    "supporters",
    "decision-makers",
)

# the day so far, rewritten during campaign days (``hashmon run``): HTML only, one file
SO_FAR_FILE = "today.html"


def count(value: float) -> str:
    """Return a figure with thousands separators: 10,000,000."""
    return f"{value:,.0f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return ``1 post`` or ``2 posts`` (``many`` for an irregular plural), with separators."""
    return f"{count(n)} {word if n == 1 else many or word + 's'}"


def day_label(day: dt.date | str) -> str:
    """Return a short date people read: ``Mon 12 Jun``."""
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return f"{d:%a} {d.day} {d:%b}"


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(value: str, fallback: str = "campaign") -> str:
    """Return ``value`` as a file-name part: ASCII letters, digits, ``.``, ``_``, ``-`` only."""
    cleaned = _UNSAFE_NAME.sub("-", value).strip("-._")[:60].strip("-._")
    return cleaned or fallback


def report_stem(report: ReportData) -> str:
    """Return the file stem of a report: ``daily-2017-06-12`` or ``summary-IMHAW17``
    (``-shareable`` after it for the shareable version, so both sit side by side)."""
    tail = "-shareable" if report.shareable else ""
    if report.kind == "daily":
        assert report.day is not None
        return f"daily-{report.day.isoformat()}{tail}"
    return f"summary-{safe_name(report.settings.campaign.name)}{tail}"


def shareable_notice(settings: Settings) -> str:
    """Return the line every shareable output carries: what it is and what it hides."""
    return (
        "Shareable version: posts, names and links of private individuals (accounts "
        f"with fewer than {settings.shareable.min_followers:,} followers that are neither "
        "the campaign's, nor listed stakeholders, nor verified) are left out or shown as "
        "@…; every figure is unchanged."
    )


def report_title(report: ReportData) -> str:
    """Return the headline title of a report."""
    name = report.settings.campaign.name
    if report.kind == "daily":
        assert report.day is not None
        return f"{name} daily report: {long_day(report.day)}"
    return f"{name} impact summary"


def day_position(report: ReportData) -> str | None:
    """Return ``day 2 of 5`` for a daily report on a campaign day, else None."""
    days = report.settings.campaign.days()
    if report.day in days:
        return f"day {days.index(report.day) + 1} of {len(days)}"
    return None


def num(value: Any) -> str:
    """Return a figure as people read it: ``12,345``; ``n/a`` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return count(value)


def pct(value: float | None) -> str:
    """Return a share as a percentage with the precision small values need; ``n/a`` for None."""
    if value is None:
        return "n/a"
    if value == 0:
        return "0%"
    if abs(value) < 0.01:
        return f"{value:.2%}"
    return f"{value:.1%}"


def long_day(day: dt.date | str) -> str:
    """Return ``Monday 12 June 2017``."""
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return f"{d:%A} {d.day} {d:%B %Y}"


def short_day(day: dt.date | str) -> str:
    """Return ``Mon 12 Jun``."""
    return day_label(day)


def metric_name(metric: str) -> str:
    """Return a figure's key in words: ``potential impressions``."""
    return METRIC_NAMES.get(metric, metric.replace("_", " "))

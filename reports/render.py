"""What every report format shares: file names, number formats, the metric definitions,
safe file writing, and the JSON file.

The definitions follow METRICS.md in plain words; the HTML Methodology section, the
"Definitions" sheet and the JSON all read them from here, so they never drift apart.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson

from monitor.config import Settings
from reports.charts import Chart, count, day_label
from reports.figures import METRIC_NAMES, ReportData

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
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# --- names ------------------------------------------------------------------------------


def safe_name(value: str, fallback: str = "campaign") -> str:
    """Return ``value`` as a file-name part: ASCII letters, digits, ``.``, ``_``, ``-`` only."""
    cleaned = _UNSAFE_NAME.sub("-", value).strip("-._")[:60].strip("-._")
    return cleaned or fallback


def report_stem(report: ReportData) -> str:
    """Return the file stem of a report: ``daily-2017-06-12`` or ``summary-IMHAW17``."""
    if report.kind == "daily":
        assert report.day is not None
        return f"daily-{report.day.isoformat()}"
    return f"summary-{safe_name(report.settings.campaign.name)}"


def tags_text(settings: Settings) -> str:
    """Return the campaign hashtags and accounts as written: ``#IMHAW17 @first1001days``."""
    c = settings.campaign
    tags = [f"#{t.strip().lstrip('#')}" for t in c.hashtags]
    accounts = [f"@{a.strip().lstrip('@')}" for a in c.accounts]
    return " ".join(tags + accounts)


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


# --- numbers and dates ------------------------------------------------------------------


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


# --- definitions ------------------------------------------------------------------------


def definitions(settings: Settings) -> list[tuple[str, str, str]]:
    """Return (key, name, plain-words definition) for every figure, after METRICS.md."""
    c = settings.campaign
    tags = ", ".join(f"#{t.strip().lstrip('#')}" for t in c.hashtags) or "(none configured)"
    accounts = ", ".join(f"@{a.strip().lstrip('@')}" for a in c.accounts) or "(none configured)"
    b = settings.baseline
    baseline = (
        f"The period's {metric_name(b.metric)} divided by {b.label}'s {num(b.value)}."
        if b is not None
        else "No baseline is configured, so there is nothing to compare against."
    )
    return [
        (
            "day",
            "Day",
            f"A local date in the campaign's time zone ({c.timezone}, summer time "
            "included). A post's day is when it was created, in that zone.",
        ),
        (
            "posts",
            "Posts",
            "Posts collected in the period, each counted once however often "
            "it was seen: originals, retweets, replies and quotes.",
        ),
        ("originals", "Originals", "Posts that neither retweet, reply to nor quote another."),
        ("retweets", "Retweets", "Posts that retweet another."),
        ("replies", "Replies", "Posts that reply to another (a reply that quotes is a reply)."),
        ("quotes", "Quotes", "Posts that quote another."),
        ("hashtag_posts", "Hashtag posts", f"Posts tagged {tags}, in any letter case."),
        ("mention_posts", "Mention posts", f"Posts mentioning {accounts}, in any letter case."),
        (
            "contributors",
            "Contributors",
            "Distinct accounts that posted in the period. Over "
            "several days each account counts once, so daily figures do not add up to the week's.",
        ),
        (
            "potential_impressions",
            "Potential impressions",
            "The sum, over every post "
            "(retweets included), of its author's followers when the post was first collected: "
            "how many times the posts could have been delivered to someone's timeline. It counts "
            "deliveries, not people, and is the 'exposure' figure of tools like TweetReach.",
        ),
        (
            "potential_reach",
            "Potential reach",
            "The sum of the followers of the distinct "
            "accounts that posted, each account counted once (from its latest post in the "
            "period). It is an upper bound on the people who could have seen a post: audiences "
            "overlap, and someone who follows two contributors is counted twice. It is never "
            "added up across days: the week's reach counts each account once over the week.",
        ),
        (
            "like_count",
            "Likes",
            "Likes of the period's posts as last reported, retweets left "
            "out (a retweet's counts belong to its original).",
        ),
        (
            "retweet_count",
            "Retweets received",
            "Times the period's posts were retweeted, as "
            "last reported, retweets' own counts left out.",
        ),
        ("reply_count", "Replies received", "Replies to the period's posts, as last reported."),
        ("quote_count", "Quotes received", "Quotes of the period's posts, as last reported."),
        (
            "engagements",
            "Engagements",
            "Likes + retweets + replies + quotes received by posts "
            "that are not retweets, so no engagement is counted twice through a retweet's copy.",
        ),
        (
            "engagement_rate",
            "Engagement rate",
            "Engagements divided by potential impressions; "
            "n/a when there are no potential impressions.",
        ),
        (
            "impressions",
            "Impressions",
            "Views X itself reported (it has done so since 2022), "
            "summed over the posts that reported them; n/a when no post did.",
        ),
        (
            "impressions_coverage",
            "Impressions coverage",
            "The share of the period's posts that "
            "reported an impression count: read 'impressions' with this in mind.",
        ),
        (
            "posts_without_followers",
            "Posts lacking a follower count",
            "Posts whose author's "
            "follower count was missing from the data that delivered them first; they add "
            "nothing to potential impressions or potential reach.",
        ),
        ("baseline_progress", "Progress against the baseline", baseline),
    ]


# --- files ------------------------------------------------------------------------------


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file); return path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def report_json(report: ReportData, charts: list[Chart], files: dict[str, str]) -> dict[str, Any]:
    """Return the JSON object of a report: ``figures`` is stats_object for its dates."""
    settings = report.settings
    return {
        "report": {
            "kind": report.kind,
            "title": report_title(report),
            "day": report.day.isoformat() if report.day else None,
            "dates": [d.isoformat() for d in report.days],
            "generated_at": report.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "simulated": report.simulated,
            "top_n": settings.reports.top_n,
        },
        "figures": report.figures,
        "to_date": report.to_date,
        "pace": report.pace,
        "kinds": report.kinds,
        "hours": report.hours,
        "top_posts": report.top_posts,
        "top_contributors": report.top_contributors,
        "top_hashtags": report.top_hashtags,
        "campaign_vs_others": report.campaign_vs_others,
        "coverage": report.coverage,
        "stakeholders": report.stakeholders,
        "charts": [
            {"name": c.name, "title": c.title, "alt": c.alt, "file": files.get(c.name)}
            for c in charts
        ],
        "definitions": {key: text for key, _, text in definitions(settings)},
    }


def write_json(path: Path, obj: dict[str, Any]) -> Path:
    """Write ``obj`` as indented UTF-8 JSON and return the path."""
    return write_file(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")

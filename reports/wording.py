"""Sentences whose truth depends on when they are written: the same words in every format.

A report written before the campaign window ends speaks of "so far" and of the days
still to come; after it, of the campaign as a whole. Days still to come are counted
from the last day a report's figures cover (a daily report's day), and that day is
named, so a report of a past day read later says nothing untrue. "Before the window ends" is the
report's ``generated_at`` against local midnight after ``campaign.end`` in the campaign
time zone. The HTML page and the PDF both take their sentences from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reports.format import long_day, metric_name, num, pct
from reports.periods import local_today, window_over


def _days(n: int) -> str:
    return "day" if n == 1 else "days"


def summary_lead(report: Any) -> str:
    """Return the summary's opening paragraph, true at ``report.generated_at``."""
    settings = report.settings
    c = settings.campaign
    t = report.totals
    now = report.generated_at
    n = len(c.days())
    today = local_today(settings, now)
    if window_over(settings, now):
        opening = f"Over the {n} {_days(n)} of the campaign, "
        reached = "this campaign reached"
    elif today < c.start:
        opening = f"The campaign starts on {long_day(c.start)}; until then, "
        reached = "it stands at"
    else:
        done = (today - c.start).days + 1
        left = n - done
        to_come = f"{left} more {_days(left)} to come" if left else "today is its last day"
        opening = (
            f"So far, {done} of the campaign's {n} {_days(n)} in ({long_day(c.start)} to "
            f"{long_day(today)}; {to_come}), "
        )
        reached = "this campaign has reached"
    posts = t["posts"]
    lead = (
        f"{opening}{num(posts)} {'post' if posts == 1 else 'posts'} joined the conversation "
        f"({c.display_terms()}), from {num(t['contributors'])} different "
        f"{'account' if t['contributors'] == 1 else 'accounts'}. They could have been "
        f"delivered {num(t['potential_impressions'])} times to followers' timelines "
        f"(potential impressions), reaching up to {num(t['potential_reach'])} followers of "
        "the accounts that took part (potential reach, an upper bound), and drew "
        f"{num(t['engagements'])} likes, retweets, replies and quotes."
    )
    pace = report.pace
    if pace["baseline"] is not None:
        lead += (
            f" Against {pace['label']}'s {num(pace['baseline'])} {metric_name(pace['metric'])}, "
            f"{reached} {pct(pace['progress'])}"
        )
        if pace["passed_on"]:
            lead += f", passing it on {long_day(pace['passed_on'])}"
        lead += "." if window_over(settings, now) else " so far."
    return lead


def progress_when(report: Any) -> str:
    """Return how the cumulative figure is qualified, true at ``report.generated_at``:
    "so far" while its last day is under way (or before the campaign starts), "by the
    end of <day>" once that day is over, "over the campaign" for a summary after it."""
    if report.kind == "summary" and window_over(report.settings, report.generated_at):
        return "over the campaign"
    day = finished_day(report.pace, report.generated_at, report.settings.campaign.tz)
    return "so far" if day is None else f"by the end of {long_day(day)}"


def finished_day(pace: dict[str, Any], written: dt.datetime, tz: dt.tzinfo) -> dt.date | None:
    """Return the last day ``pace`` covers if that day was over when the report was
    ``written``; None while it is under way, or before the campaign (figures "so far")."""
    rows = pace["days"]
    if not rows:
        return None
    last = dt.date.fromisoformat(rows[-1]["date"])
    if pace["in_progress"] and last >= written.astimezone(tz).date():
        return None
    return last


def target_days(pace: dict[str, Any], each: bool = True) -> str:
    """Return the days still to come after the last day the pace covers, named so that the
    sentence stays true whenever it is read: they are counted from the day reported (its
    pace's last day), not from the day the report is written, and that day is named."""
    left = pace["days_left"]
    rows = pace["days"]
    if not rows:  # before the campaign: every day of it is to come
        return f"{'each of ' if each else ''}the campaign's {left} {_days(left)}"
    last = dt.date.fromisoformat(rows[-1]["date"])
    if left == 1:
        return f"{long_day(last + dt.timedelta(days=1))}, the campaign's last day"
    return f"{'each of ' if each else ''}the {left} campaign days after {long_day(last)}"


def progress_lines(pace: dict[str, Any], when: str) -> list[str]:
    """Return the sentences on progress against the baseline (plain text; the HTML page
    says the same, with markup); an empty list when no baseline is configured.

    ``pace["in_progress"]`` says whether the window was still open when the report was
    written: only then is there a last day "under way".
    """
    if pace["baseline"] is None:
        return []
    metric = metric_name(pace["metric"])
    label = pace["label"]
    lines = [
        f"{num(pace['cumulative'])} {metric} {when}, against {label}: {num(pace['baseline'])}. "
        f"The comparison is on {metric}, the metric last year's figure was given in."
    ]
    left = pace["days_left"]
    if pace["passed_on"]:
        lines.append(f"{label} was passed on {long_day(pace['passed_on'])}.")
    elif pace["needed_per_day"] is not None:
        lines.append(
            f"To pass it by the last day, {num(pace['needed_per_day'])} {metric} are needed "
            f"on {target_days(pace)}."
        )
    elif pace.get("needed") and left:
        lines.append(
            f"To pass it by the last day, the campaign needs {num(pace['needed'])} more "
            f"{metric} in all over {target_days(pace, each=False)}. "
            f"{metric.capitalize()} counts each account once however many days it posts, "
            "so there is no target per day."
        )
    elif pace["days"] and pace.get("in_progress"):
        lines.append(
            f"The campaign's last day is under way; {num(pace.get('needed'))} short of "
            f"{label} so far."
        )
    elif pace["days"]:
        lines.append(f"The campaign days are over; {num(pace.get('needed'))} short of {label}.")
    return lines


def report_notices(report: Any) -> list[str]:
    """Return what a reader must know before trusting a report of nothing: a day outside
    the campaign window, a period without posts, a database without any. The page and
    the PDF show them on their face; ``hashmon report`` says them on the terminal.
    """
    c = report.settings.campaign
    window = f"{long_day(c.start)} to {long_day(c.end)}"
    notes = []
    if report.kind == "daily" and not c.start <= report.day <= c.end:
        notes.append(
            f"{long_day(report.day)} is outside the campaign window ({window}): "
            "this report is not part of the campaign's figures."
        )
    if report.figures["stored"]["posts"] == 0:
        notes.append(
            "The database holds no posts at all, so every figure is zero: collect or import "
            "posts first (hashmon collect, hashmon import)."
        )
    elif report.totals["posts"] == 0:
        period = (
            long_day(report.day) if report.kind == "daily" else f"the campaign window ({window})"
        )
        notes.append(f"No posts were collected for {period}.")
    return notes

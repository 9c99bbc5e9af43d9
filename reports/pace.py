"""The pace against the baseline: the cumulative baseline metric day by day."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from monitor.settings import Settings
from reports.periods import local_today, window_over

# additive metrics: the window's value is the sum of its days; the others count authors once
ADDITIVE_METRICS = ("posts", "potential_impressions", "engagements")


def baseline_pace(
    settings: Settings,
    window_days: Sequence[dict[str, Any]],
    running: Sequence[dict[str, int]],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the cumulative baseline metric for each campaign day reported so far.

    ``window_days`` are stats_object days from ``campaign.start`` on, in order. Posts,
    potential impressions and engagements add up day by day; contributors and potential
    reach count each author once, so their value on day k is taken over days 1..k as one
    period (METRICS.md never sums reach across days): ``running`` holds those values, one
    per day (``PeriodStats.running``, from the same read as the figures). Each day carries
    its share of the baseline and what is still needed to pass it: ``needed``, the whole
    count still missing (rounded up: counts are whole), and for a metric that adds up
    across days ``needed_per_day``, what each remaining campaign day must bring (rounded
    up). Contributors and potential reach do not add up across days (each account counts
    once), so they have no per-day target: ``needed_per_day`` is None for them.

    Given ``now`` (when the report is written) before the window ends, days still to
    come are left out (the pace is so far) and ``in_progress`` is True.
    """
    b = settings.baseline
    metric = b.metric if b is not None else "potential_impressions"
    campaign_days = settings.campaign.days()
    in_progress = now is not None and not window_over(settings, now)
    if in_progress:
        today = local_today(settings, now)
        window_days = [d for d in window_days if dt.date.fromisoformat(d["date"]) <= today]
        running = running[: len(window_days)]
    dates = [dt.date.fromisoformat(d["date"]) for d in window_days]
    cumulative: list[int] = []
    total = 0
    for k, day in enumerate(window_days):
        if metric in ADDITIVE_METRICS:
            total += day[metric]
            cumulative.append(total)
        else:
            cumulative.append(running[k][metric])
    rows = []
    for day, value in zip(dates, cumulative, strict=True):
        days_left = sum(1 for d in campaign_days if d > day)
        row: dict[str, Any] = {
            "date": day.isoformat(),
            "cumulative": value,
            "progress": None,
            "days_left": days_left,
            "needed": None,
            "needed_per_day": None,
        }
        if b is not None:
            # counts are whole: what is still missing, and each day's share, round up
            remaining = max(0, math.ceil(b.value - value))
            row["progress"] = value / b.value
            row["needed"] = remaining
            if days_left and remaining and metric in ADDITIVE_METRICS:
                row["needed_per_day"] = math.ceil(remaining / days_left)
        rows.append(row)
    last = rows[-1] if rows else None
    per_day = None  # before the campaign every day is to come; a target per day if additive
    if last is None and b is not None and metric in ADDITIVE_METRICS and campaign_days:
        per_day = math.ceil(math.ceil(b.value) / len(campaign_days))
    passed_on = next(
        (r["date"] for r in rows if b is not None and r["cumulative"] >= b.value), None
    )
    return {
        "metric": metric,
        "label": b.label if b is not None else None,
        "baseline": b.value if b is not None else None,
        "days": rows,
        "cumulative": last["cumulative"] if last else 0,
        "progress": last["progress"] if last else (0.0 if b is not None else None),
        "passed": bool(b is not None and last is not None and last["cumulative"] >= b.value),
        "passed_on": passed_on,
        "days_left": last["days_left"] if last else len(campaign_days),
        "needed": last["needed"] if last else (math.ceil(b.value) if b is not None else None),
        "needed_per_day": last["needed_per_day"] if last else per_day,
        "in_progress": in_progress,
    }

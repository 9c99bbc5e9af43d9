"""What the campaign will cost: post reads, charged reads and spend forecast for the window.

The model (``forecast``), hour by hour over the campaign's local days:
- collection reads each post once (``since_id`` polling, whatever the interval);
- with ``refresh_before_reports``, the refresh before each daily report re-reads the
  non-retweets of its day, and the one before the summary every campaign non-retweet;
- each refresh (every ``refresh_metrics_every_minutes`` from the window's start, and on
  after its end while any post is younger than ``refresh_metrics_for_hours``, as
  ``hashmon run`` keeps refreshing) re-reads every non-retweet post created in the last
  ``refresh_metrics_for_hours``; retweets are never refreshed;
- pay-per-use charges a post once per UTC day it is read; a cap counts every read.
Posts are spread evenly over the window unless an hourly profile is given. Without
``--posts``, N is the stored posts' daily volume over the days begun (the week has
started), else ``ESTIMATE_POSTS_PER_DAY`` (``BASELINE_NOTE`` says where it comes from).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from monitor.settings import Settings
from monitor.store.schema import Post
from monitor.times import day_bounds_us, local_at, local_midnight

# Posts a campaign day when nothing is stored and no --posts is given: the simulated
# week's volume (7,113 posts over the IMHAW17 week, ~1,000 a day, issue 16).
ESTIMATE_POSTS_PER_DAY = 1_000
BASELINE_NOTE = "estimate: ~1,000 posts a day (the simulated IMHAW17 week); pass --posts N"
RETWEET_SHARE = 0.5  # share of posts that are retweets (never refreshed) without stored data


@dataclass(frozen=True)
class Forecast:
    posts: int
    posts_source: str
    reads: int  # every post read
    collect_reads: int
    refresh_reads: int
    charged_reads: int  # under the billing model
    billing: str
    cost: float
    cap: int
    budget: float | None
    share: float  # of the cap or budget, the larger
    runs_out: str | None  # UTC day the cap or budget would be reached, if it is
    advice: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _window(settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    c = settings.campaign
    return local_midnight(c.start, c.tz), local_midnight(c.end + dt.timedelta(days=1), c.tz)


def refresh_times(settings: Settings) -> list[tuple[dt.datetime, dt.datetime]]:
    """Return each planned refresh as (when, posts created from): the periodic ones, then
    those right before each daily report and the summary (``refresh_before_reports``)."""
    s, c = settings.schedule, settings.campaign
    start, end = _window(settings)
    out = []
    if s.refresh_metrics_every_minutes:
        every = dt.timedelta(minutes=s.refresh_metrics_every_minutes)
        keep = dt.timedelta(hours=s.refresh_metrics_for_hours)
        t = start + every
        while t <= end + keep:
            out.append((t, t - keep))
            t += every
    if s.refresh_before_reports:
        for day in c.days():
            out.append((local_at(day, s.daily_report_at, c.tz), local_midnight(day, c.tz)))
        summary = local_at(c.end + dt.timedelta(days=1), s.summary_at, c.tz)
        out.append((summary, start))
    return out


def read_events(
    posts: float,
    start: dt.datetime,
    end: dt.datetime,
    refreshes: list[tuple[dt.datetime, dt.datetime]],
    *,
    retweet_share: float = RETWEET_SHARE,
    profile: list[float] | None = None,
) -> tuple[float, float, dict[str, float], dict[tuple[int, str], float]]:
    """Return (collect reads, refresh reads, reads per UTC day, charged pairs per creation
    hour and UTC day) for ``posts`` spread over [start, end).

    ``refreshes``: (when, posts created from) of each refresh. ``profile`` weights the
    window's hours (evenly without one).
    """
    hours = max(1, math.ceil((end - start) / dt.timedelta(hours=1)))
    weights = profile if profile and len(profile) == hours else [1.0] * hours
    total = sum(weights) or 1.0
    per_day: dict[str, float] = {}
    pairs: dict[tuple[int, str], float] = {}
    collect = refresh = 0.0
    for h in range(hours):
        n = posts * weights[h] / total
        if not n:
            continue
        created = start + dt.timedelta(hours=h, minutes=30)  # mid-hour
        day = created.astimezone(dt.UTC).strftime("%Y-%m-%d")
        collect += n
        per_day[day] = per_day.get(day, 0.0) + n
        pairs[(h, day)] = n
        for r, since in refreshes:
            if since <= created < r:
                rday = r.astimezone(dt.UTC).strftime("%Y-%m-%d")
                m = n * (1 - retweet_share)
                refresh += m
                per_day[rday] = per_day.get(rday, 0.0) + m
                if (h, rday) not in pairs:  # a first read that day is charged
                    pairs[(h, rday)] = m
    return collect, refresh, per_day, pairs


def forecast(
    settings: Settings,
    posts: int,
    posts_source: str,
    *,
    retweet_share: float = RETWEET_SHARE,
    profile: list[float] | None = None,
    advise: bool = True,
) -> Forecast:
    """Return the window's forecast for ``posts`` expected posts under the configured
    schedule and billing model (see the module's docstring for the model)."""
    x = settings.x
    start, end = _window(settings)
    collect, refresh, per_day, pairs = read_events(
        posts,
        start,
        end,
        refresh_times(settings),
        retweet_share=retweet_share,
        profile=profile,
    )
    charged_per_day: dict[str, float] = {}
    if x.billing == "cap":
        charged_per_day = dict(per_day)
    else:
        for (_h, day), n in pairs.items():
            charged_per_day[day] = charged_per_day.get(day, 0.0) + n
    reads = round(collect + refresh)
    charged = reads if x.billing == "cap" else round(sum(charged_per_day.values()))
    cost = round(charged * x.price_per_post_read, 2)
    shares = [reads / x.monthly_post_cap]
    if x.monthly_budget is not None:
        shares.append(cost / x.monthly_budget)
    runs_out = None
    used_reads = used_charged = 0.0
    for day in sorted(per_day):
        used_reads += per_day[day]
        used_charged += charged_per_day.get(day, 0.0)
        over_cap = used_reads >= x.monthly_post_cap
        over_budget = (
            x.monthly_budget is not None
            and used_charged * x.price_per_post_read >= x.monthly_budget
        )
        if over_cap or over_budget:
            runs_out = day
            break
    result = Forecast(
        posts=posts,
        posts_source=posts_source,
        reads=reads,
        collect_reads=round(collect),
        refresh_reads=round(refresh),
        charged_reads=charged,
        billing=x.billing,
        cost=cost,
        cap=x.monthly_post_cap,
        budget=x.monthly_budget,
        share=max(shares),
        runs_out=runs_out,
    )
    return _with_advice(settings, result, retweet_share, profile) if advise else result


def _with_advice(
    settings: Settings, f: Forecast, retweet_share: float, profile: list[float] | None
) -> Forecast:
    """Add what to change to stay within the cap or budget, and what it costs in freshness."""
    if f.share <= 1.0:
        return f
    s = settings.schedule
    advice: list[str] = []

    def trial(**schedule: Any) -> Forecast:
        """The forecast with these [schedule] settings changed."""
        changed = settings.model_copy(update={"schedule": s.model_copy(update=schedule)})
        return forecast_quiet(changed, f.posts, retweet_share, profile)

    # fewer refreshes first (counts are fresher only between refreshes), then a shorter
    # refresh window (older posts' counts stop moving when they stop being refreshed)
    periodic = s.refresh_metrics_every_minutes
    for every in (periodic * m for m in (2, 3, 4, 6) if periodic):
        g = trial(refresh_metrics_every_minutes=every)
        if g.share <= 1.0:
            advice.append(
                f"set [schedule] refresh_metrics_every_minutes = {every}: {g.reads:,} reads, "
                f"{g.charged_reads:,} charged, cost {g.cost:,.2f} ({g.share:.0%}); counts up "
                f"to {every / 60:g} h old between refreshes instead of "
                f"{s.refresh_metrics_every_minutes / 60:g} h"
            )
            break
    if s.refresh_before_reports and not advice:
        g = trial(refresh_before_reports=False, refresh_metrics_every_minutes=0)
        if g.share <= 1.0:
            advice.append(
                f"set [schedule] refresh_before_reports = false (and no periodic refresh): "
                f"{g.reads:,} reads, cost {g.cost:,.2f} ({g.share:.0%}); the reports show "
                "counts as first collected, far below the truth"
            )
    for hours in (24, 12, 6):
        if not periodic or hours >= s.refresh_metrics_for_hours:
            continue
        g = trial(refresh_metrics_for_hours=hours)
        if g.share <= 1.0:
            advice.append(
                f"set [schedule] refresh_metrics_for_hours = {hours}: {g.reads:,} reads, "
                f"{g.charged_reads:,} charged, cost {g.cost:,.2f} ({g.share:.0%}); engagement "
                f"after a post's first {hours} h is no longer counted"
            )
            break
    if not advice and f.collect_reads >= f.cap:
        advice.append(
            "even collection alone exceeds the cap: raise [x] monthly_post_cap or "
            "[x] monthly_budget, or narrow the campaign's terms"
        )
    elif not advice:
        advice.append(
            "no single refresh setting is enough: lower both [schedule] "
            "refresh_metrics_every_minutes and refresh_metrics_for_hours (hashmon plan again "
            "to check), or raise [x] monthly_post_cap or [x] monthly_budget"
        )
    return Forecast(**{**asdict(f), "advice": advice})


def forecast_quiet(
    settings: Settings, posts: int, retweet_share: float, profile: list[float] | None
) -> Forecast:
    return forecast(settings, posts, "", retweet_share=retweet_share, profile=profile, advise=False)


def expected_posts(
    settings: Settings, stored_in_window: int, now: dt.datetime, posts: int | None
) -> tuple[int, str]:
    """Return the posts expected in the window and where the number comes from."""
    days = len(settings.campaign.days())
    if posts is not None:
        return posts, "--posts"
    start, end = _window(settings)
    if stored_in_window and now > start:
        begun = min((now - start) / dt.timedelta(days=1), days)
        per_day = stored_in_window / max(begun, 1 / 24)
        return round(per_day * days), f"stored: {stored_in_window:,} posts over {begun:.1f} days"
    return ESTIMATE_POSTS_PER_DAY * days, BASELINE_NOTE


def stored_forecast(
    settings: Settings, engine: Engine, now: dt.datetime, posts: int | None = None
) -> Forecast:
    """Return the forecast with N from ``posts``, else the stored posts' daily volume, and
    the retweet share of the stored posts (the estimate's without any)."""
    c = settings.campaign
    lo, hi = day_bounds_us(c.start, c.end, c.tz)
    with engine.connect() as conn:
        stored, retweets = conn.execute(
            select(func.count(), func.count().filter(Post.kind == "retweet")).where(
                Post.created_at_us >= lo, Post.created_at_us < hi
            )
        ).one()
    n, origin = expected_posts(settings, int(stored), now, posts)
    share = retweets / stored if stored else RETWEET_SHARE
    return forecast(settings, n, origin, retweet_share=share)


def format_forecast(f: Forecast) -> list[str]:
    """Return the forecast as readable lines (``hashmon plan``)."""
    limit = f"[x] monthly_post_cap {f.cap:,}"
    if f.budget is not None:
        limit += f", [x] monthly_budget {f.budget:,.2f}"
    lines = [
        f"expected posts in the window: {f.posts:,} ({f.posts_source})",
        f"post reads: {f.reads:,} (collection {f.collect_reads:,}, refreshes "
        f"{f.refresh_reads:,}), {f.reads / max(f.posts, 1):.2f} per post",
        f"charged reads ({f.billing}): {f.charged_reads:,}, cost {f.cost:,.2f}",
        f"share of {limit}: {f.share:.0%}"
        + (f"; runs out on {f.runs_out} (UTC)" if f.runs_out else ""),
    ]
    lines += [f"to stay within it: {a}" for a in f.advice]
    return lines

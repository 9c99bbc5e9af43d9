"""``python -m bench.cost``: what the simulated week costs under the old and new refresh
schedules, and how close each report's engagements are to the truth at its time.

Each schedule runs ``hashmon demo`` (the same passes as ``hashmon run``, on the
simulated clock) into a fresh folder. Reads come from ``post_reads``; a report's
engagements at time T are what the database held at T (each post's latest observation
at or before T, non-retweets, as reports/sums.py sums them), against what the
simulator's lookup returns at T (the truth). ``hashmon plan``'s forecast, with N the
stored posts, is printed beside the reads measured.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine, text

from jobs.demo import run_demo
from monitor.config import Schedule, Settings
from monitor.plan import stored_forecast
from monitor.sources.simulated import simulate_campaign
from monitor.store.engine import make_engine
from monitor.times import day_bounds_us, epoch_us, local_at, utc_text

PRICE = 0.005
COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")
SCHEDULES = {
    "old default (every 6 h over 48 h)": Schedule(
        refresh_metrics_every_minutes=360, refresh_before_reports=False
    ),
    "new default (before each report)": Schedule(),
}


def _reads(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        posts = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
        reads, pairs = conn.execute(
            text("SELECT COALESCE(SUM(reads), 0), COUNT(*) FROM post_reads")
        ).one()
    return int(posts), int(reads), int(pairs)


def report_errors(settings: Settings, engine: Engine, summary_at: dt.datetime) -> list[str]:
    """Return one line per daily report and the summary: engagements shown against truth."""
    c = settings.campaign
    campaign = simulate_campaign(settings, seed=42)
    with engine.connect() as conn:
        posts = conn.execute(
            text("SELECT id, created_at_us FROM posts WHERE kind != 'retweet'")
        ).all()
        seen = conn.execute(
            text(f"SELECT post_id, observed_at, {', '.join(COUNTS)} FROM observations ORDER BY seq")
        ).all()
    history = defaultdict(list)
    for row in seen:
        history[row[0]].append(row)

    def shown(pid: str, when: str) -> int:
        counts: list[int | None] = [None] * len(COUNTS)
        for row in history[pid]:
            if row[1] > when:
                break
            for k, value in enumerate(row[2:]):
                if value is not None:
                    counts[k] = value
        return sum(v or 0 for v in counts)

    def truth(ids: list[str], moment: dt.datetime) -> int:
        total = 0
        for i in range(0, len(ids), 100):
            page = campaign.lookup_page(ids[i : i + 100], epoch_us(moment) // 1000)
            for post in page.get("data", []):
                metrics = post.get("public_metrics", {})
                total += sum(metrics.get(k, 0) for k in COUNTS)
        return total

    def line(label: str, first: dt.date, last: dt.date, moment: dt.datetime) -> str:
        lo, hi = day_bounds_us(first, last, c.tz)
        when = utc_text(moment)
        ids = [p for p, at in posts if lo <= at < hi and history[p] and history[p][0][1] <= when]
        got, true = sum(shown(p, when) for p in ids), truth(ids, moment)
        error = (got - true) / true if true else 0.0
        return f"  {label}: shown {got:,}, true {true:,}, error {error:+.1%}"

    out = [
        line(f"daily {d}", d, d, local_at(d, settings.schedule.daily_report_at, c.tz))
        for d in c.days()
    ]
    out.append(line("summary", c.start, c.end, summary_at))
    return out


def main(out: str = "bench-cost") -> int:
    for label, schedule in SCHEDULES.items():
        settings = Settings(schedule=schedule)
        folder = Path(out) / ("old" if "old" in label else "new")
        result = run_demo(settings, folder)
        engine = make_engine(f"sqlite:///{result.database}")
        try:
            posts, reads, pairs = _reads(engine)
            c = settings.campaign
            summary_at = local_at(c.end + dt.timedelta(days=1), settings.schedule.summary_at, c.tz)
            plan = stored_forecast(settings, engine, summary_at, posts)
            print(f"{label}:")
            print(f"  posts stored {posts:,}; post reads {reads:,} ({reads / posts:.2f} a post)")
            print(
                f"  charged pay-per-use {pairs:,} ({pairs / posts:.2f} a post, "
                f"${pairs * PRICE:,.2f}); cap {reads:,} (${reads * PRICE:,.2f})"
            )
            print(
                f"  hashmon plan (N = {posts:,}): {plan.reads:,} reads "
                f"({(plan.reads - reads) / reads:+.1%}), {plan.charged_reads:,} charged "
                f"pay-per-use ({(plan.charged_reads - pairs) / pairs:+.1%})"
            )
            for text_line in report_errors(settings, engine, summary_at):
                print(text_line)
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))

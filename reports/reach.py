"""Contributors and potential reach: each author's latest post, per day and over a period.

Neither adds up across days, so they come from one ordered read of the period's posts
rather than from the sums (``reports.sums``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from monitor.store.engine import stream_rows
from monitor.times import DAY_US
from reports.moderation import Rules, kept_sql
from reports.periods import Segment, unit_ranges

# Rows of the period's posts fetched at a time by the author pass: a few MB of tuples.
_AUTHOR_BATCH = 20_000

# The author pass: one span's posts with an author, in "latest post last" order (time,
# then the id as a number: its length, then its digits, since ids have no leading
# zeros). ``ix_posts_created_at_author`` holds exactly this order and these columns.
_LATEST_FOLLOWERS = (
    "SELECT p.author_id, COALESCE(p.author_followers, 0) FROM posts p "
    "WHERE p.created_at_us >= :lo AND p.created_at_us < :hi AND p.author_id IS NOT NULL "
    "AND {kept} "
    "ORDER BY p.created_at_us, p.platform, p.author_id, LENGTH(p.id), p.id"
)


def author_figures(
    conn: Connection, rules: Rules, segments: Sequence[Segment], day_numbers: Sequence[int]
) -> dict[str, Any]:
    """Return contributors and potential reach per day and over the period.

    Both need each author's latest post, per day and over the period. In SQL that is a
    GROUP BY (author, day) and another by author: two sorts of every post, 1.4 s at a
    million posts (docs/PERFORMANCE.md). Instead the period's posts are read in time
    order, span by span, and a dict per day keeps the last follower count it saw for
    each author: the latest post's, by construction. Only two narrow columns cross into
    Python, a batch at a time, and memory grows with the number of authors, not posts.
    Since days are read in order, the period so far after each day gives the figures of
    that prefix of days at no extra cost (the pace of non-additive metrics needs them).
    Result: ``days`` {day number: (contributors, reach)}, ``contributors``, ``reach``,
    ``running`` [(contributors, reach) of days[0..k] for each k].
    """
    days: dict[int, tuple[int, int]] = dict.fromkeys(day_numbers, (0, 0))
    period: dict[str, int] = {}
    reach = 0
    so_far: dict[int, tuple[int, int]] = {}
    latest: dict[str, int] = {}
    spans = unit_ranges(segments, DAY_US)
    kept, kept_params = kept_sql(rules)
    sql = _LATEST_FOLLOWERS.format(kept=kept)
    for i, (key, lo, hi) in enumerate(spans):
        params = {"lo": lo, "hi": hi} | kept_params
        for batch in stream_rows(conn, sql, params, _AUTHOR_BATCH):
            latest.update(batch)
        if i + 1 == len(spans) or spans[i + 1][0] != key:  # a day can have two spans
            if key in days:
                days[key] = (len(latest), sum(latest.values()))
            # days come in time order: a later day's latest wins
            for author, followers in latest.items():
                reach += followers - period.get(author, 0)
                period[author] = followers
            so_far[key] = (len(period), reach)
            latest = {}
    running = []
    last = (0, 0)
    for number in day_numbers:
        last = so_far.get(number, last)
        running.append(last)
    return {"days": days, "contributors": len(period), "reach": reach, "running": running}

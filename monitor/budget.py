"""The monthly post cap: what this month has read, what is left, and where a pass stops.

X counts every post a search or lookup returns against the app's monthly cap (a
calendar month, UTC); ``[x] monthly_post_cap`` says what it is. A pass's job works out
what is left when the pass starts (``remaining_budget``) and hands that number to the
pass and its source: the pass stops after the page that spends it (``spent``), a refresh
looks up no more ids than it allows (``cut``), and the X source never asks for more
than is left (``allowance``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from monitor.config import Settings
from monitor.errors import PassStopped
from monitor.store.runs import PASS_KINDS
from monitor.store.schema import CollectionRun, Observation
from monitor.times import month_start, utc_text

log = logging.getLogger(__name__)


def month_posts_read(engine: Engine, now: dt.datetime | None = None) -> int:
    """Return the posts read from the API this calendar month (UTC), by every kind of pass.

    A run still marked ``running`` (its process was killed) has no total yet; its
    observations, one per post read, stand in for it.
    """
    runs = CollectionRun
    first = month_start(now)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    in_month = (
        runs.kind.in_(PASS_KINDS),
        runs.started_at >= utc_text(first),
        runs.started_at < utc_text(following),
    )
    with engine.connect() as conn:
        finished = conn.execute(
            select(func.coalesce(func.sum(runs.posts_read), 0)).where(
                *in_month, runs.status != "running"
            )
        ).scalar_one()
        running = list(conn.execute(select(runs.id).where(*in_month, runs.status == "running")))
        unfinished = 0
        if running:  # rare (a killed pass), so the scan of observations is rare too
            unfinished = conn.execute(
                select(func.count())
                .select_from(Observation)
                .where(Observation.run_id.in_([r.id for r in running]))
            ).scalar_one()
    return int(finished) + int(unfinished)


def remaining_budget(
    settings: Settings, engine: Engine, now: dt.datetime | None = None
) -> int | None:
    """Return how many more posts may be read this month under ``[x] monthly_post_cap``.

    None for the simulated source: it costs nothing, and the demo must not stop half-way.
    """
    if settings.source.kind != "x":
        return None
    return settings.x.monthly_post_cap - month_posts_read(engine, now)


def cap_reached(settings: Settings, engine: Engine, kind: str, now: dt.datetime | None) -> str:
    """Return (and log) why a pass of ``kind`` does not start: the cap is already reached."""
    used = month_posts_read(engine, now)
    what = "collection" if kind == "collect" else kind
    message = (
        f"monthly post cap reached: {used:,} of [x] monthly_post_cap = "
        f"{settings.x.monthly_post_cap:,} posts read this month; {what} resumes next month"
    )
    log.warning(message)
    return message


def spent(budget: int | None, read: int) -> str | None:
    """Return why a pass that has read ``read`` posts stops now (its budget is spent), or None.

    A fetched page is paid for, so it is stored; asking for another is not.
    """
    if budget is None or read < budget:
        return None
    message = f"stopped at the monthly post cap: {read} posts read this pass"
    log.warning(message)
    return message


def cut(ids: Sequence[str], budget: int | None) -> tuple[Sequence[str], str | None]:
    """Return the ids a refresh may look up (the first ones, newest first) and, when the
    budget cut any, why."""
    if budget is None or len(ids) <= budget:
        return ids, None
    kept = ids[: max(budget, 0)]
    message = (
        f"refreshed the newest {len(kept)} of {len(ids)} posts: the monthly post cap allows no more"
    )
    log.warning(message)
    return kept, message


def allowance(budget: int | None, read: int, wanted: int, least: int, cap: int) -> int:
    """Return how many of ``wanted`` posts a source's next request may ask for.

    ``budget`` is what the source may read this pass and ``read`` what it has read.
    Raises PassStopped when fewer than ``least`` are left (X's smallest page), before a
    request that could cross the cap ``cap``.
    """
    if budget is None:
        return wanted
    left = budget - read
    if left < least:
        raise PassStopped(
            f"stopped before the monthly post cap ([x] monthly_post_cap = "
            f"{cap}): {read} posts read this pass, "
            f"{max(left, 0)} left this month"
        )
    return min(wanted, left)

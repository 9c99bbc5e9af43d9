"""The monthly post cap and budget: what this month has read and cost, what is left,
the alerts at 50, 80 and 100 %, and where a pass stops.

X counts every post a search or lookup returns (a calendar month, UTC). ``[x] billing``
says how it charges: "pay-per-use" charges a post once a UTC day however often it is
read (``price_per_post_read`` each; ``post_reads`` records every read with its day),
"cap" counts every read against the plan's cap. ``[x] monthly_post_cap`` is a ceiling
on every read under both (under pay-per-use a safety stop), and ``[x] monthly_budget``,
when set, a ceiling on the month's spend. A pass's job works out
what is left when the pass starts (``remaining_budget``) and hands that number to the
pass and its source: the pass stops after the page that spends it (``spent``), a refresh
looks up no more ids than it allows (``cut``), and the X source never asks for more
than is left (``allowance``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select

from monitor.errors import PassStopped
from monitor.settings import Settings
from monitor.store.engine import writing
from monitor.store.runs import PASS_KINDS
from monitor.store.schema import BudgetAlert, CollectionRun, Observation, PostRead
from monitor.times import month_start, utc_text

log = logging.getLogger(__name__)


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    """Yield a connection: the one given (a report's snapshot), or a new one of the engine."""
    with bind.connect() if isinstance(bind, Engine) else nullcontext(bind) as conn:
        yield conn


def month_posts_read(engine: Engine | Connection, now: dt.datetime | None = None) -> int:
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
    with _connected(engine) as conn:
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


THRESHOLDS = (50, 80, 100)  # percent of the cap or budget that raise an alert, once a month


def _month_days(now: dt.datetime | None) -> tuple[str, str]:
    first = month_start(now)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first.strftime("%Y-%m-%d"), following.strftime("%Y-%m-%d")


def recorded_reads(engine: Engine | Connection, now: dt.datetime | None = None) -> tuple[int, int]:
    """Return (post reads, distinct post and UTC day pairs) this month, from ``post_reads``."""
    first, following = _month_days(now)
    with _connected(engine) as conn:
        reads, pairs = conn.execute(
            select(func.coalesce(func.sum(PostRead.reads), 0), func.count()).where(
                PostRead.read_day >= first, PostRead.read_day < following
            )
        ).one()
    return int(reads), int(pairs)


def charged(billing: str, reads: int, day_pairs: int) -> int:
    """Return the reads a billing model charges: every read ("cap"), or each post once a
    UTC day ("pay-per-use")."""
    return reads if billing == "cap" else day_pairs


@dataclass(frozen=True)
class Usage:
    """This month's reads and spend against the cap and the budget."""

    month: str  # YYYY-MM (UTC)
    billing: str
    reads: int  # every post read this month
    charged: int  # the reads the billing model charges
    price: float
    cap: int
    budget: float | None

    @property
    def spend(self) -> float:
        return round(self.charged * self.price, 6)

    @property
    def cap_share(self) -> float:
        return self.reads / self.cap

    @property
    def budget_share(self) -> float | None:
        return None if self.budget is None else self.spend / self.budget

    @property
    def share(self) -> float:
        """The larger share used: of the cap, or of the budget where one is set."""
        return max(self.cap_share, self.budget_share or 0.0)

    @property
    def remaining(self) -> int:
        """Posts that may still be read this month (the budget's left at its price)."""
        left = self.cap - self.reads
        if self.budget is not None and self.price > 0:
            # under pay-per-use a re-read the same day is free: this errs on the safe side
            left = min(left, int((self.budget - self.spend) / self.price + 1e-9))
        return left


def usage(settings: Settings, engine: Engine | Connection, now: dt.datetime | None = None) -> Usage:
    """Return this month's usage. Reads are the runs' totals (as the cap has always
    counted them); charged reads come from ``post_reads``, recorded with every page."""
    reads = month_posts_read(engine, now)
    recorded, pairs = recorded_reads(engine, now)
    x = settings.x
    return Usage(
        month=month_start(now).strftime("%Y-%m"),
        billing=x.billing,
        reads=reads,
        charged=charged(x.billing, reads, pairs),
        price=x.price_per_post_read,
        cap=x.monthly_post_cap,
        budget=x.monthly_budget,
    )


def remaining_budget(
    settings: Settings, engine: Engine, now: dt.datetime | None = None
) -> int | None:
    """Return how many more posts may be read this month under ``[x] monthly_post_cap``
    and ``[x] monthly_budget``.

    None for the simulated source: it costs nothing, and the demo must not stop half-way.
    """
    if settings.source.kind != "x":
        return None
    return usage(settings, engine, now).remaining


def cap_reached(settings: Settings, engine: Engine, kind: str, now: dt.datetime | None) -> str:
    """Return (and log) why a pass of ``kind`` does not start: the cap or budget is reached."""
    u = usage(settings, engine, now)
    what = "collection" if kind == "collect" else kind
    if u.reads >= u.cap:
        message = (
            f"monthly post cap reached: {u.reads:,} of [x] monthly_post_cap = "
            f"{u.cap:,} posts read this month; {what} resumes next month"
        )
    else:
        message = (
            f"monthly budget reached: {u.spend:,.2f} of [x] monthly_budget = "
            f"{u.budget:,.2f} spent this month ({u.charged:,} charged reads); "
            f"{what} resumes next month"
        )
    log.warning(message)
    return message


@dataclass(frozen=True)
class Alert:
    month: str
    threshold: int  # percent
    message: str
    crossed_at: str = ""  # UTC, when a pass found it crossed


def _alert_message(u: Usage, threshold: int) -> str:
    what = [f"{u.reads:,} of [x] monthly_post_cap = {u.cap:,} posts read ({u.cap_share:.0%})"]
    if u.budget is not None:
        what.append(
            f"{u.spend:,.2f} of [x] monthly_budget = {u.budget:,.2f} spent "
            f"({u.budget_share:.0%}, {u.charged:,} charged reads, {u.billing})"
        )
    stop = "; collection stops until next month" if threshold >= 100 else ""
    return (
        f"{threshold} % of the month's cap or budget used in {u.month}: " + "; ".join(what) + stop
    )


def new_alerts(settings: Settings, engine: Engine, now: dt.datetime | None = None) -> list[Alert]:
    """Record and return the thresholds (50, 80, 100 %) crossed this month and not yet
    alerted; each is logged as a warning. Every later call returns none of them again, so
    whoever sends them (the log, an e-mail) sends each once a month.

    Nothing for the simulated source: it costs nothing.
    """
    if settings.source.kind != "x":
        return []
    u = usage(settings, engine, now)
    crossed = [t for t in THRESHOLDS if u.share * 100 >= t]
    if not crossed:
        return []
    fresh: list[Alert] = []
    with writing(engine) as conn:
        done = set(
            conn.execute(
                select(BudgetAlert.threshold).where(BudgetAlert.month == u.month)
            ).scalars()
        )
        for t in crossed:
            if t in done:
                continue
            alert = Alert(
                u.month, t, _alert_message(u, t), utc_text(now or dt.datetime.now(dt.UTC))
            )
            conn.execute(
                insert(BudgetAlert).values(
                    month=u.month,
                    threshold=t,
                    crossed_at=alert.crossed_at,
                    message=alert.message,
                )
            )
            fresh.append(alert)
    for alert in fresh:
        log.warning(alert.message)
    return fresh


def month_alerts(engine: Engine | Connection, now: dt.datetime | None = None) -> list[Alert]:
    """Return the alerts recorded this month, lowest threshold first (for ``status``, the
    reports and the e-mail alerts)."""
    month = month_start(now).strftime("%Y-%m")
    with _connected(engine) as conn:
        rows = conn.execute(
            select(BudgetAlert.threshold, BudgetAlert.message, BudgetAlert.crossed_at)
            .where(BudgetAlert.month == month)
            .order_by(BudgetAlert.threshold)
        ).all()
    return [Alert(month, r.threshold, r.message, r.crossed_at) for r in rows]


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

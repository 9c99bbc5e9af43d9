"""How complete a report's data is: collection runs, failures, gaps, hours without a run,
and (for X) the month's use of the post cap or budget, with the alert thresholds crossed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from monitor.budget import month_alerts, usage
from monitor.settings import Settings
from monitor.times import (
    HOUR_US,
    day_bounds_us,
    epoch_us,
    from_epoch_us,
    utc_text,
)
from reports.moderation import kept_sql, moderation_reasons, moderation_rules


def collection_coverage(
    conn: Connection,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    totals: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    """Return how complete the period's data is: runs, failures, gaps, idle hours, counts.

    Runs count when they started within the period. Gaps are those that collect passes
    recorded (``gap_from``/``gap_to``) and that overlap the period. Hours with no
    collect pass are counted over the period up to ``now``, and only when at least one
    collect pass ran in it (an imported archive has no passes to miss).
    """
    lo_us, hi_us = day_bounds_us(first, last, settings.campaign.tz)
    lo, hi = utc_text(from_epoch_us(lo_us)), utc_text(from_epoch_us(hi_us))
    bounds = {"lo": lo, "hi": hi}
    kinds: dict[str, int] = {}
    failed = 0
    for kind, status, n in conn.execute(
        text(
            "SELECT kind, status, COUNT(*) FROM collection_runs "
            "WHERE started_at >= :lo AND started_at < :hi GROUP BY kind, status"
        ),
        bounds,
    ):
        kinds[kind] = kinds.get(kind, 0) + int(n)
        if status == "failed":
            failed += int(n)
    gaps = []
    for run_id, started_at, gap_from, gap_to in conn.execute(
        text(
            "SELECT id, started_at, gap_from, gap_to FROM collection_runs "
            "WHERE gap_from IS NOT NULL OR gap_to IS NOT NULL ORDER BY started_at, id"
        )
    ):
        # an open end is unknown: bound it by the run that found the gap
        start, end = gap_from or started_at, gap_to or started_at
        if start < hi and end >= lo:
            gaps.append({"run_id": int(run_id), "gap_from": gap_from, "gap_to": gap_to})
    hours_checked = hours_missing = 0
    missing: list[str] = []
    if kinds.get("collect"):
        # UTC text sorts as it reads, so its first 13 characters name the hour
        active = {
            h
            for (h,) in conn.execute(
                text(
                    "SELECT DISTINCT SUBSTR(started_at, 1, 13) FROM collection_runs "
                    "WHERE kind = 'collect' AND started_at >= :lo AND started_at < :hi"
                ),
                bounds,
            )
        }
        stop = min(hi_us, epoch_us(now))
        hour = lo_us - lo_us % HOUR_US
        while hour + HOUR_US <= stop:
            hours_checked += 1
            label = utc_text(from_epoch_us(hour))[:13]
            if label not in active:
                hours_missing += 1
                missing.append(label + ":00Z")
            hour += HOUR_US
    gone = conn.execute(
        text(
            "SELECT COUNT(*) FROM posts WHERE gone_at IS NOT NULL "
            "AND created_at_us >= :lo AND created_at_us < :hi"
        ),
        {"lo": lo_us, "hi": hi_us},
    ).scalar_one()
    out: dict[str, Any] = {
        "posts": totals["posts"],
        "gone_posts": int(gone),
        "stored_posts": None,
        "posts_without_followers": totals["posts_without_followers"],
        "impressions_coverage": totals["impressions_coverage"],
        "runs": sum(kinds.values()),
        "runs_by_kind": dict(sorted(kinds.items())),
        "runs_failed": failed,
        "gaps": gaps,
        "hours_checked": hours_checked,
        "hours_without_collect_run": hours_missing,
        "hours_without_collect_run_list": missing[:48],
        "hidden_posts": totals["hidden_posts"],
        "excluded_posts": totals["excluded_posts"],
        "moderation_lists": moderation_reasons(settings),
    }
    if settings.moderation.hidden_ids or settings.moderation.hidden_usernames:
        # counted retweets stored before hashmon kept what a retweet retweets: whether
        # they are retweets of a hidden post is unknown, and they count as not hidden
        kept, kept_params = kept_sql(moderation_rules(conn, settings))
        out["retweets_of_unknown_post"] = int(
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM posts p WHERE p.kind = 'retweet' "
                    "AND p.retweeted_id IS NULL AND p.created_at_us >= :lo "
                    f"AND p.created_at_us < :hi AND {kept}"
                ),
                {"lo": lo_us, "hi": hi_us} | kept_params,
            ).scalar_one()
        )
    if settings.source.kind == "x":  # the simulator costs nothing: no key, the demo unchanged
        out["month_use"] = month_use(conn, settings, hi_us, now)
    return out


def month_use(conn: Connection, settings: Settings, hi_us: int, now: dt.datetime) -> dict[str, Any]:
    """Return the month's reads and spend against the cap and budget, and the thresholds
    crossed, as recorded when the report is written.

    The month is the report's period's (UTC) if it has ended, else the current one: a
    summary written in July about June shows June's use.
    """
    moment = min(now, from_epoch_us(hi_us - 1))
    u = usage(settings, conn, moment)
    return {
        "month": u.month,
        "billing": u.billing,
        "posts_read": u.reads,
        "monthly_post_cap": u.cap,
        "share_of_cap": u.cap_share,
        "charged_reads": u.charged,
        "price_per_post_read": u.price,
        "cost": u.spend,
        "monthly_budget": u.budget,
        "share_of_budget": u.budget_share,
        "thresholds": [
            {"threshold": a.threshold, "crossed_at": a.crossed_at}
            for a in month_alerts(conn, moment)
        ],
    }


def month_use_lines(c: dict[str, Any]) -> list[str]:
    """Return what the coverage says of the month's use of the cap or budget (X only)."""
    m = c.get("month_use")
    if not m:
        return []
    month = dt.date.fromisoformat(m["month"] + "-01").strftime("%B %Y")
    budget = (
        f", {m['share_of_budget']:.1%} of [x] monthly_budget ({m['monthly_budget']:,.2f})"
        if m["monthly_budget"] is not None
        else ""
    )
    line = (
        f"In {month} (UTC) hashmon had read {m['posts_read']:,} posts from X when this report "
        f"was written, {m['share_of_cap']:.1%} of [x] monthly_post_cap "
        f"({m['monthly_post_cap']:,}); {m['charged_reads']:,} charged reads under "
        f"{m['billing']} billing cost {m['cost']:,.2f} at {m['price_per_post_read']:g} a "
        f"post read{budget}."
    )
    crossed = [
        f"{t['threshold']}% on {t['crossed_at'][:10]} at {t['crossed_at'][11:16]} UTC"
        for t in m["thresholds"]
    ]
    if crossed:
        line += f" Alert thresholds crossed this month: {'; '.join(crossed)}."
    else:
        line += " No alert threshold (50%, 80%, 100% of the cap or budget) was crossed this month."
    return [line]


def _entries(n: int, what: str, key: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'} in {key}"


def moderation_lines(c: dict[str, Any]) -> list[str]:
    """Return what the coverage says of hidden and excluded posts, and why: how many
    entries each [moderation] list of the config holds. No post or account is named."""
    lists = c["moderation_lists"]
    hidden, excluded = c["hidden_posts"], c["excluded_posts"]
    if not any(lists.values()):
        return ["No posts are hidden or excluded: the config's [moderation] lists are empty."]
    lines = []
    hide_why = [
        _entries(lists["hide_posts"], "post", "hide_posts"),
        _entries(lists["hide_accounts"], "account", "hide_accounts"),
    ]
    lines.append(
        f"{hidden:,} {'post is' if hidden == 1 else 'posts are'} hidden: counted in every "
        "figure, but never shown or quoted in any list, chart or file, because the config's "
        f"[moderation] lists name {' and '.join(hide_why)} (retweets of a hidden post "
        "are hidden too)."
    )
    unknown = c.get("retweets_of_unknown_post") or 0
    if unknown:
        lines.append(
            f"{unknown:,} {'retweet was' if unknown == 1 else 'retweets were'} stored by an "
            "earlier hashmon that did not keep which post a retweet retweets: "
            f"{'it is' if unknown == 1 else 'they are'} counted as not hidden, whether or not "
            "the post retweeted is hidden."
        )
    exclude_why = [
        _entries(lists["exclude_posts"], "post", "exclude_posts"),
        _entries(lists["exclude_accounts"], "account", "exclude_accounts"),
    ]
    lines.append(
        f"{excluded:,} {'post is' if excluded == 1 else 'posts are'} excluded: counted in no "
        "figure and never shown, because the config's [moderation] lists name "
        f"{' and '.join(exclude_why)}. Excluded posts stay stored; excluding wins over "
        "hiding."
    )
    return lines

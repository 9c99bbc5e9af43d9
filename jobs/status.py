"""``hashmon status``: what ran, what is next, what the month's reads cost, where collection stands.

``status_object`` returns plain JSON-ready data (``status --json`` prints it);
``format_status`` turns it into readable lines. Neither shows a secret: the token is
reported as set or missing, by the name of its variable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_, select

from jobs.schedule import HEARTBEAT, HEARTBEAT_SECONDS, stored_next_run_times
from monitor import lease
from monitor.budget import month_alerts, usage
from monitor.plan import stored_forecast
from monitor.settings import TOKEN_ENV, Settings
from monitor.store.engine import display_url
from monitor.store.schema import Checkpoint, CollectionRun
from monitor.store.sends import sends_summary
from monitor.times import local_stamp, month_start, utc_text

LAST_RUNS = 10


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


def _next_runs(
    settings: Settings, engine: Engine, scheduler_jobs: Iterable[Any] | None
) -> list[dict[str, Any]]:
    if scheduler_jobs is not None:
        times = {str(job.id): job.next_run_time for job in scheduler_jobs}
    else:
        times = stored_next_run_times(engine)
    tz = settings.campaign.tz
    out = []
    times.pop(HEARTBEAT, None)
    for job_id, when in sorted(times.items(), key=lambda kv: (kv[1] is None, kv[1] or 0, kv[0])):
        out.append(
            {
                "job": job_id,
                "next_run_at": _iso(when),
                "local": None if when is None else when.astimezone(tz).isoformat(),
            }
        )
    return out


def runner_state(engine: Engine, now: dt.datetime) -> dict[str, Any]:
    """Return whether a ``hashmon run`` is alive: its heartbeat job is due again within a
    minute of its last beat, so a due time more than a beat in the past means none runs."""
    due = stored_next_run_times(engine).get(HEARTBEAT)
    if due is None:
        return {"alive": False, "last_heartbeat": None}
    beat = dt.timedelta(seconds=HEARTBEAT_SECONDS)
    return {"alive": now < due + beat, "last_heartbeat": _iso(min(due - beat, now))}


def status_object(
    settings: Settings,
    engine: Engine,
    scheduler_jobs: Iterable[Any] | None = None,
    *,
    now: dt.datetime | None = None,
    last: int = LAST_RUNS,
) -> dict[str, Any]:
    """Return the status as a JSON-ready dict.

    Keys: ``database``, ``source``, ``runs`` (the last ``last``, newest first),
    ``next_runs`` (from ``scheduler_jobs`` if given, else the job store table),
    ``quota`` (this calendar month's post reads against ``[x] monthly_post_cap`` and
    their cost at ``price_per_post_read``), ``checkpoints`` (with any interrupted pass),
    ``gaps`` (outages longer than the search window), ``lease`` (a pass in progress),
    ``runner`` (whether a ``hashmon run`` is alive, by its heartbeat) and ``timezone``
    (the campaign's, in which the text shows every time).
    """
    now = now or dt.datetime.now(dt.UTC)
    runs_t = CollectionRun
    with engine.connect() as conn:
        runs = conn.execute(
            select(runs_t.__table__)
            .order_by(runs_t.started_at.desc(), runs_t.id.desc())
            .limit(last)
        ).all()
        run_rows = [
            {
                "id": r.id,
                "kind": r.kind,
                "status": r.status,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "requests": r.requests,
                "posts_read": r.posts_read,
                "posts_new": r.posts_new,
                "errors": r.errors,
                "message": r.message,
            }
            for r in runs
        ]
        gaps = [
            {"run_id": r.id, "started_at": r.started_at, "gap_from": r.gap_from, "gap_to": r.gap_to}
            for r in conn.execute(
                select(runs_t.__table__)
                .where(or_(runs_t.gap_from.is_not(None), runs_t.gap_to.is_not(None)))
                .order_by(runs_t.started_at)
            ).all()
        ]
        checkpoints = [
            {
                "name": c.name,
                "newest_id": c.newest_id,
                "interrupted": c.pass_oldest_id is not None,
                "pass_newest_id": c.pass_newest_id,
                "pass_oldest_id": c.pass_oldest_id,
                "updated_at": c.updated_at,
            }
            for c in conn.execute(select(Checkpoint.__table__).order_by(Checkpoint.name)).all()
        ]
    u = usage(settings, engine, now)
    used, cap, price = u.reads, u.cap, u.price
    forecast = None
    end = settings.campaign.end.isoformat()
    if settings.source.kind == "x" and now.date() <= settings.campaign.end:
        f = stored_forecast(settings, engine, now)
        forecast = {"end": end, "reads": f.reads, "charged_reads": f.charged_reads, "cost": f.cost}
    held = lease.read_lease(engine)
    active = held is not None and held.expires_at >= utc_text(now)
    return {
        "database": display_url(settings.database.url),
        "source": {
            "kind": settings.source.kind,
            "token": ("set" if os.environ.get(TOKEN_ENV, "").strip() else "missing")
            if settings.source.kind == "x"
            else "not needed",
            "token_variable": TOKEN_ENV,
        },
        "query": settings.campaign.query(),
        "runs": run_rows,
        "next_runs": _next_runs(settings, engine, scheduler_jobs),
        "quota": {
            "month": month_start(now).strftime("%Y-%m"),
            "posts_read": used,
            "monthly_post_cap": cap,
            "remaining": max(cap - used, 0),
            "share_of_cap": used / cap,
            "price_per_post_read": price,
            "billing": u.billing,
            "charged_reads": u.charged,
            "cost": u.spend,
            "monthly_budget": u.budget,
            "share_of_budget": u.budget_share,
            "forecast": forecast,
            "alerts": [
                {"threshold": a.threshold, "message": a.message} for a in month_alerts(engine, now)
            ],
        },
        "checkpoints": checkpoints,
        "gaps": gaps,
        "lease": {"holder": held.holder, "expires_at": held.expires_at} if active else None,
        "email": sends_summary(engine) if settings.email is not None else None,
        "runner": runner_state(engine, now),
        "timezone": settings.campaign.timezone,
    }


def _when(text: str | None, tz: ZoneInfo) -> str:
    """Return a stored UTC time as every line of status shows time: campaign local time."""
    if not text:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return local_stamp(moment, tz)


def format_status(obj: dict[str, Any]) -> list[str]:
    """Return the status object as readable lines (``hashmon status`` without ``--json``).

    Every time is in the campaign's time zone, in one form: ``2017-06-12 21:00 BST``.
    """
    tz = ZoneInfo(obj["timezone"])
    lines = [f"database: {obj['database']}"]
    runner = obj["runner"]
    last_beat = _when(runner["last_heartbeat"], tz)
    if runner["alive"]:
        lines.append(f"runner: alive, last heartbeat {last_beat}")
    elif runner["last_heartbeat"]:
        lines.append(f"runner: not running (last heartbeat {last_beat}); start it with hashmon run")
    else:
        lines.append("runner: not running (never started); start it with hashmon run")
    src = obj["source"]
    token = (
        "" if src["token"] == "not needed" else f" (token {src['token_variable']}: {src['token']})"
    )
    lines.append(f"source: {src['kind']}{token}")
    lines.append(f"search query: {obj['query']}")
    q = obj["quota"]
    if src["kind"] != "x":
        lines.append(f"posts read in {q['month']}: {q['posts_read']:,} (simulated: no cap applies)")
    else:
        lines.append(
            f"posts read in {q['month']}: {q['posts_read']:,} of {q['monthly_post_cap']:,} "
            f"({q['share_of_cap']:.1%}), {q['remaining']:,} left"
        )
        lines.append(
            f"charged reads ({q['billing']}): {q['charged_reads']:,}, "
            f"cost {q['cost']:,.2f} at {q['price_per_post_read']:g} a post"
            + (
                f" of [x] monthly_budget {q['monthly_budget']:,.2f} ({q['share_of_budget']:.1%})"
                if q["monthly_budget"] is not None
                else ""
            )
        )
        f = q["forecast"]
        if f is not None:
            lines.append(
                f"forecast to the campaign's end ({f['end']}): {f['charged_reads']:,} charged "
                f"reads, cost {f['cost']:,.2f}"
            )
        for a in q["alerts"]:
            lines.append(f"alert: {a['message']}")
    if obj["lease"]:
        held = obj["lease"]
        lines.append(
            f"a pass is running: {held['holder']} (lease until {_when(held['expires_at'], tz)})"
        )
    for c in obj["checkpoints"]:
        line = f"checkpoint {c['name']}: newest id {c['newest_id'] or '-'}"
        if c["interrupted"]:
            line += (
                f"; interrupted pass stored ids {c['pass_oldest_id']}..{c['pass_newest_id']}, "
                "the next pass resumes below it"
            )
        lines.append(line)
    for g in obj["gaps"]:
        lines.append(
            f"gap (run {g['run_id']}): posts from {_when(g['gap_from'], tz)} "
            f"to {_when(g['gap_to'], tz)} "
            "may be missing (beyond the search window); hashmon backfill can fill it"
        )
    if not runner["alive"]:
        lines.append("next runs: none while no runner is alive")
    elif obj["next_runs"]:
        lines.append("next runs:")
        for n in obj["next_runs"]:
            lines.append(
                f"  {n['job']:<16} {_when(n['next_run_at'], tz) if n['next_run_at'] else 'paused'}"
            )
    else:
        lines.append("next runs: none scheduled")
    lines += format_email(obj.get("email"), tz)
    if obj["runs"]:
        lines.append("last runs:")
        for r in obj["runs"]:
            line = (
                f"  {_when(r['started_at'], tz)} {r['kind']:<8} {r['status']:<11} "
                f"{r['requests']:>4} requests {r['posts_read']:>6} read {r['posts_new']:>6} new"
            )
            if r["errors"]:
                line += f" {r['errors']} errors"
            if r["message"]:
                line += f": {r['message']}"
            lines.append(line)
    else:
        lines.append("last runs: none yet")
    return lines


def format_email(sends: dict[str, Any] | None, tz: ZoneInfo) -> list[str]:
    """Return the lines about e-mail: the last digest and alert sent, the failed sends."""
    if sends is None:
        return ["e-mail: not configured (no [email] section)"]
    lines = []
    for key, what in (("last_digest", "digest"), ("last_alert", "alert")):
        s = sends[key]
        lines.append(
            f"last {what} sent: {_when(s['sent_at'], tz)} {s['subject']}"
            if s
            else f"last {what} sent: none yet"
        )
    for f in sends["failed"]:
        lines.append(f"e-mail FAILED {_when(f['sent_at'], tz)} ({f['kind']}): {f['message']}")
    return lines

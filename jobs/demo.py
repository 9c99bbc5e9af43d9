"""``hashmon demo``: the whole campaign, simulated offline, through the live pipeline.

A fresh embedded SQLite database, the seeded simulated source, and a clock that moves
through the campaign hour by hour: every hour a collect pass (the same ``passes.collect``
that ``hashmon run`` calls; ``since_id`` polling reads each post once whatever the
interval), a metrics refresh every ``[schedule] refresh_metrics_every_minutes`` (over
``refresh_metrics_for_hours``, as ``hashmon run`` does), then every daily report and the
summary, each marked as simulated.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobs import passes
from jobs.reporting import write_campaign_reports, write_impact_pack
from monitor.errors import UsageError
from monitor.settings import Database, Reports, Settings, Stakeholders
from monitor.settings import Source as SourceSettings
from monitor.sources.simulated import SimulatedSource, simulate_campaign
from monitor.store.engine import make_engine
from monitor.store.writes import stored_counts
from monitor.times import local_at
from reports.html import real_reports

DEMO_DB = "hashmon-demo.db"
COLLECT_EVERY = dt.timedelta(hours=1)


@dataclass
class DemoResult:
    database: Path
    index: Path
    reports: list[Path] = field(default_factory=list)
    passes: int = 0
    refreshes: int = 0
    posts: int = 0
    seconds: float = 0.0


# invented supporters and decision makers, some of them accounts of the simulated week
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_stakeholders(settings: Settings) -> Stakeholders:
    """Return the settings' stakeholder lists, or the example lists (when this is a
    checkout that has them) if none is configured."""
    s = settings.stakeholders
    if s.supporters or s.decision_makers or s.supporter_handles:
        return s
    if not (EXAMPLES / "supporters.csv").is_file():
        return s
    return Stakeholders(
        supporters=str(EXAMPLES / "supporters.csv"),
        decision_makers=str(EXAMPLES / "decision_makers.csv"),
    )


def demo_settings(settings: Settings, out_dir: Path, seed: int) -> Settings:
    """Return ``settings`` turned to the simulated source, the demo database and ``out_dir``
    (with the example stakeholder lists when it names none)."""
    return settings.model_copy(
        update={
            "stakeholders": example_stakeholders(settings),
            "source": SourceSettings(kind="simulated", seed=seed),
            "database": Database(url=f"sqlite:///{out_dir / DEMO_DB}"),
            "reports": Reports(
                out_dir=str(out_dir),
                formats=settings.reports.formats,
                top_n=settings.reports.top_n,
            ),
        }
    )


def _fresh_database(path: Path) -> None:
    # only the demo's own file (and SQLite's companions) is removed, nothing else in DIR
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_demo(
    settings: Settings,
    out_dir: str | Path,
    *,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
    reports: bool = True,
) -> DemoResult:
    """Simulate the configured campaign into a fresh SQLite file and write every report
    (``reports=False``: the database alone, for what measures its reads and figures).

    Returns where everything went. Deterministic for a ``seed`` (the reports' "generated"
    stamps use the simulated clock, not the wall clock). Raises OSError when ``out_dir``
    cannot be written, UsageError when it holds reports that are not simulated (real
    ones, which the demo would overwrite).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    real = real_reports(out)
    if real:
        more = f" and {len(real) - 1} more" if len(real) > 1 else ""
        raise UsageError(
            f"{out} holds reports that are not simulated ({real[0]}{more}); the demo would "
            "overwrite them: give --out an empty folder, or one the demo wrote"
        )
    out.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(settings, out, seed)
    _fresh_database(out / DEMO_DB)
    engine = make_engine(settings.database.url)
    campaign = simulate_campaign(settings, seed=seed)
    clock = campaign.span_start_at
    source = SimulatedSource(campaign, clock=clock)
    result = DemoResult(database=out / DEMO_DB, index=out / "index.html")
    say = progress or (lambda _message: None)
    say(f"simulating {settings.campaign.name} from {clock:%Y-%m-%d} (seed {seed})")
    every = settings.schedule.refresh_metrics_every_minutes  # 0: no periodic refresh
    refresh_every = dt.timedelta(minutes=every or 10**9)
    next_refresh = clock + refresh_every
    end = campaign.span_end_at
    c = settings.campaign
    # the refreshes a live run makes right before its reports (refresh_before_reports),
    # at the first hour of the demo's clock at or after each report's time
    before_reports: list[tuple[dt.datetime, str, dt.date | None]] = [
        (local_at(d, settings.schedule.daily_report_at, c.tz), "daily", d) for d in c.days()
    ]
    summary_at = local_at(c.end + dt.timedelta(days=1), settings.schedule.summary_at, c.tz)
    before_reports.append((summary_at, "summary", None))
    try:
        while clock <= end:
            source.now = clock
            passes.collect(settings, engine, source=source, now=clock)
            result.passes += 1
            if clock >= next_refresh:
                passes.refresh_metrics(settings, engine, now=clock, source=source)
                result.refreshes += 1
                next_refresh += refresh_every
            while before_reports and before_reports[0][0] <= clock:
                _due, which, day = before_reports.pop(0)
                if passes.refresh_before_report(
                    settings, engine, which, day, now=clock, source=source
                ):
                    result.refreshes += 1
            if clock.astimezone(settings.campaign.tz).hour == 0:
                say(f"collected up to {clock.astimezone(settings.campaign.tz):%a %d %b}")
            clock += COLLECT_EVERY
        # the evening reports of a live run, written once the week's counts are in
        if reports:
            written = write_campaign_reports(settings, engine, out, simulated=True, now=end)
            result.reports += written.files
            result.index = written.index
            # the impact pack a funder would get, so verify-pack can be tried on it
            result.reports.append(write_impact_pack(settings, engine, out, now=end))
        with engine.connect() as conn:
            result.posts = stored_counts(conn)["posts"]
    finally:
        engine.dispose()
    result.seconds = time.perf_counter() - started
    return result

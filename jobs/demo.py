"""``hashmon demo``: the whole campaign, simulated offline, through the live pipeline.

A fresh embedded SQLite database, the seeded simulated source, and a clock that moves
through the campaign hour by hour: every hour a collect pass (the same ``passes.collect``
that ``hashmon run`` calls), every few hours a metrics refresh, then every daily report
and the summary, each marked as simulated.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobs import passes
from jobs.reporting import write_campaign_reports
from monitor.config import Database, Reports, Settings
from monitor.config import Source as SourceSettings
from monitor.errors import UsageError
from monitor.sources.simulated import SimulatedSource, simulate_campaign
from monitor.store.engine import make_engine
from monitor.store.writes import stored_counts
from reports.html import real_reports

DEMO_DB = "hashmon-demo.db"
COLLECT_EVERY = dt.timedelta(hours=1)
REFRESH_EVERY = dt.timedelta(hours=6)


@dataclass
class DemoResult:
    database: Path
    index: Path
    reports: list[Path] = field(default_factory=list)
    passes: int = 0
    refreshes: int = 0
    posts: int = 0
    seconds: float = 0.0


def demo_settings(settings: Settings, out_dir: Path, seed: int) -> Settings:
    """Return ``settings`` turned to the simulated source, the demo database and ``out_dir``."""
    return settings.model_copy(
        update={
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
) -> DemoResult:
    """Simulate the configured campaign into a fresh SQLite file and write every report.

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
    next_refresh = clock + REFRESH_EVERY
    end = campaign.span_end_at
    try:
        while clock <= end:
            source.now = clock
            passes.collect(settings, engine, source=source, now=clock)
            result.passes += 1
            if clock >= next_refresh:
                passes.refresh_metrics(settings, engine, now=clock, source=source)
                result.refreshes += 1
                next_refresh += REFRESH_EVERY
            if clock.astimezone(settings.campaign.tz).hour == 0:
                say(f"collected up to {clock.astimezone(settings.campaign.tz):%a %d %b}")
            clock += COLLECT_EVERY
        # the evening reports of a live run, written once the week's counts are in
        written = write_campaign_reports(settings, engine, out, simulated=True, now=end)
        result.reports += written.files
        result.index = written.index
        with engine.connect() as conn:
            result.posts = stored_counts(conn)["posts"]
    finally:
        engine.dispose()
    result.seconds = time.perf_counter() - started
    return result

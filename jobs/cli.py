"""The ``hashmon`` command line: a thin click shell over library functions.

Library code raises HashmonError subclasses; only ``main`` catches them and prints one
line (exit 1 at run time, 2 for bad usage or config). ``-v`` shows tracebacks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from jobs.inert import echo, inert_json
from monitor import archive
from monitor.config import Settings, load_settings
from monitor.errors import HashmonError, UsageError, db_detail
from monitor.store.engine import display_url, make_engine, snapshot

log = logging.getLogger("hashmon")


@dataclass
class App:
    config_path: str | None
    database_url: str | None
    verbose: int
    _settings: Settings | None = None
    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path, self.database_url)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
        return self._engine

    def close(self) -> None:
        # closed now, not whenever the collector runs: SQLite removes its -wal and -shm
        # files when the last connection closes, and a caller may be reading the folder
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_app = click.make_pass_decorator(App)


class DateParam(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date like 2017-06-12", param, ctx)


DATE = DateParam()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $HASHMON_CONFIG, else ./hashmon.toml, else built-in #IMHAW17).",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Database URL (default: $HASHMON_DATABASE_URL, else [database] url).",
)
@click.option("-v", "--verbose", count=True, help="More logging; -v also shows tracebacks.")
@click.version_option(package_name="hashmon")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, database_url: str | None, verbose: int
) -> None:
    """Monitor a campaign hashtag: collect posts, store them, report reach honestly.

    Example: hashmon import collection.jsonl && hashmon stats
    """
    from jobs.logs import setup_logging

    setup_logging(verbose)
    ctx.obj = App(config_path, database_url, verbose)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create the database schema (every command does this on first use).

    Example: hashmon --database sqlite:///imhaw17.db init
    """
    app.engine  # noqa: B018 - creating the engine creates the schema
    click.echo(f"database ready: {display_url(app.settings.database.url)}")


@cli.command("import")
@click.option("--skip-bad-lines", is_flag=True, help="Import the usable lines; report the rest.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@pass_app
def import_(app: App, skip_bad_lines: bool, paths: tuple[str, ...]) -> None:
    """Import twarc2 JSONL or API v2 response files (.gz too).

    A file with a line it cannot use is refused whole and nothing is stored; with
    --skip-bad-lines the rest is imported and the bad lines are listed.

    Example: hashmon import imhaw17-search.jsonl imhaw17-stream.jsonl.gz
    """
    from jobs.progress import byte_progress

    with byte_progress(paths) as tick:
        result = archive.import_files(
            app.engine, paths, skip_bad_lines=skip_bad_lines, progress=tick
        )
    for line in archive.describe(result):
        echo(line)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The METRICS.md object, as JSON.")
@click.option("--from", "date_from", type=DATE, help="First local date (default: campaign.start).")
@click.option("--to", "date_to", type=DATE, help="Last local date (default: campaign.end).")
@pass_app
def stats(app: App, as_json: bool, date_from: dt.date | None, date_to: dt.date | None) -> None:
    """Print the campaign's figures, per day and for the window (see METRICS.md).

    Example: hashmon stats --json --from 2017-06-12 --to 2017-06-14
    """
    from reports.stats import stats_object

    try:
        with snapshot(app.engine) as conn:
            obj = stats_object(conn, app.settings, date_from, date_to)
    except ValueError as exc:
        raise UsageError(f"{exc}; give --from on or before --to") from None
    if as_json:
        click.echo(inert_json(json.dumps(obj, indent=2, ensure_ascii=False)))
    else:
        from jobs.terminal import stats_table  # rich: only for the terminal table

        stats_table(obj)


@cli.command()
@click.option(
    "--out",
    metavar="DIR",
    default="hashmon-demo",
    show_default=True,
    help="Folder for the demo database and its reports.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Simulation seed.")
@pass_app
def demo(app: App, out: str, seed: int) -> None:
    """Simulate the whole campaign offline and write every report, marked as simulated.

    No account and no server needed: a fresh SQLite file in DIR, the simulated source
    collected hour by hour through the same pipeline as live data, then the five daily
    reports and the summary. The campaign (dates, hashtags, baseline) comes from your
    config; the database and source settings are the demo's own.

    Example: hashmon demo --out hashmon-demo
    """
    from jobs.demo import run_demo

    try:
        result = run_demo(app.settings, out, seed=seed, progress=lambda m: log.info(m))
    except OSError as exc:
        raise HashmonError(
            f"cannot write the demo to {out}: {exc.strerror or exc}; choose another --out"
        ) from None
    pages = [p for p in result.reports if p.suffix == ".html"]
    click.echo(
        f"simulated {result.posts:,} posts in {result.passes} collect passes and "
        f"{result.refreshes} refreshes ({result.seconds:.1f} s); SIMULATED DATA, not real posts"
    )
    click.echo(f"database: {result.database}")
    for page in pages:
        click.echo(f"report:   {page}")
    click.echo(f"open:     {result.index}  ({len(result.reports)} files in {out})")


@cli.command()
@pass_app
def collect(app: App) -> None:
    """Collect new posts from the configured source once (one pass), then exit.

    Waits for a pass already in progress (up to a minute) rather than running beside it.

    Example: hashmon collect   (with HASHMON_X_BEARER_TOKEN set in the environment)
    """
    from jobs import passes

    echo(passes.describe_pass(passes.collect(app.settings, app.engine)))


@cli.command()
@click.option("--since", type=DATE, required=True, help="First local date to fetch.")
@click.option("--until", type=DATE, required=True, help="Last local date to fetch.")
@pass_app
def backfill(app: App, since: dt.date, until: dt.date) -> None:
    """Fetch older posts with full-archive search (needs [x] full_archive = true).

    Example: hashmon backfill --since 2017-06-05 --until 2017-06-11
    """
    from jobs import passes

    echo(passes.describe_pass(passes.backfill(app.settings, app.engine, since, until)))


@cli.command("refresh-metrics")
@click.option(
    "--since",
    type=DATE,
    help="Refresh posts created since this local date (default: [schedule] "
    "refresh_metrics_for_hours).",
)
@pass_app
def refresh_metrics(app: App, since: dt.date | None) -> None:
    """Re-read engagement counts of stored posts (100 per request), keeping their history.

    Example: hashmon refresh-metrics --since 2017-06-12
    """
    from jobs import passes

    echo(passes.describe_refresh(passes.refresh_metrics(app.settings, app.engine, since)))


@cli.command()
@pass_app
def run(app: App) -> None:
    """Run the week unattended: collect, refresh counts, write reports on schedule.

    Collects at start and every [schedule] collect_every_minutes; writes the daily report
    at daily_report_at on each campaign day and the summary the day after. Jobs persist in
    the database, so a restart runs a missed report once. SIGTERM or Ctrl-C stops it.

    Example: hashmon --config hashmon.toml run
    """
    from jobs import schedule

    app.engine  # noqa: B018 - the schema (and a clear error for a bad URL) before starting
    schedule.run(app.settings)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="As a JSON object.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show recent runs, the next scheduled times, this month's reads against the cap, gaps.

    Example: hashmon status --json
    """
    from jobs.status import format_status, status_object

    obj = status_object(app.settings, app.engine)
    if as_json:
        click.echo(inert_json(json.dumps(obj, indent=2, ensure_ascii=False)))
    else:
        for line in format_status(obj):
            echo(line)


def campaign_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    """Return today's date in the campaign's time zone."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(settings.campaign.tz).date()


def _write_report(app: App, which: str, out: str | None, day: dt.date | None = None) -> None:
    """Write one report into ``out`` (default ``[reports] out_dir``) and say where it went."""
    from jobs.reporting import CLI_HINT, write_report

    written = write_report(app.settings, app.engine, which, day=day, out_dir=out, hint=CLI_HINT)
    main_page = next((p for p in written.files if p.suffix == ".html"), None)
    click.echo(f"wrote {len(written.files)} files to {Path(out or app.settings.reports.out_dir)}")
    if main_page is not None:
        click.echo(f"report: {main_page}")
    click.echo(f"index:  {written.index}")


@cli.group()
def report() -> None:
    """Write the daily report or the end-of-week summary (HTML, PNG, CSV, XLSX, PDF, JSON).

    Example: hashmon report daily --date 2017-06-12
    """


@report.command()
@click.option("--date", "day", type=DATE, help="Local date (default: today in campaign time).")
@click.option("--out", metavar="DIR", help="Output folder (default: [reports] out_dir).")
@pass_app
def daily(app: App, day: dt.date | None, out: str | None) -> None:
    """Write the daily report: the day, the week to date, progress against the baseline.

    Example: hashmon report daily --date 2017-06-14 --out reports/
    """
    _write_report(app, "daily", out, day or campaign_today(app.settings))


@report.command()
@click.option("--out", metavar="DIR", help="Output folder (default: [reports] out_dir).")
@pass_app
def summary(app: App, out: str | None) -> None:
    """Write the end-of-week impact summary: the whole window against the baseline.

    Example: hashmon report summary --out reports/
    """
    _write_report(app, "summary", out)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every failure into one line and an exit status."""
    verbose = any(
        a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"})
        for a in (argv if argv is not None else sys.argv[1:])
    )
    try:
        cli.main(args=argv, prog_name="hashmon", standalone_mode=False)
    except click.exceptions.Abort:
        echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # one line, like every other error: what is wrong, and where the help is
        where = exc.ctx.command_path if exc.ctx else "hashmon"
        echo(f"Error: {exc.format_message()}; see '{where} --help'", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except HashmonError as exc:
        if verbose:
            traceback.print_exc()
        echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except sa_exc.SQLAlchemyError as exc:
        # never str(exc): it carries the SQL statement and its parameters (post text)
        if verbose:
            traceback.print_exc()
        echo(
            f"Error: database failure: {db_detail(exc)}; check the database and try again",
            err=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if verbose:
            traceback.print_exc()
        said = " ".join(str(exc).split())[:300]  # one line, whatever the exception holds
        echo(
            f"Error: unexpected failure ({type(exc).__name__}: {said}); "
            "rerun with -v for details and report it",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)

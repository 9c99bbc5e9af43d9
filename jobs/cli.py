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
from monitor.config import BUILT_IN, DEFAULTS_NOTICE, Settings, load_settings
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
            if self._settings.origin == BUILT_IN:
                click.echo(f"note: {DEFAULTS_NOTICE}", err=True)  # once: settings are cached
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

    A file with a line it cannot use is refused whole and nothing of it is stored (the
    other files are imported; exit 1); with --skip-bad-lines the rest is imported and the
    bad lines are listed. A pipe or stdin (/dev/stdin) is read once, as it comes.

    Example: hashmon import imhaw17-search.jsonl imhaw17-stream.jsonl.gz
    """
    from jobs.progress import byte_progress

    with byte_progress(paths) as tick:
        result = archive.import_files(
            app.engine,
            paths,
            skip_bad_lines=skip_bad_lines,
            progress=tick,
            campaign=app.settings.campaign,
        )
    for line in archive.describe(result):
        echo(line)
    if result.refused:
        for f in result.refused:
            click.echo(f"Error: {f.refused}", err=True)
        click.echo(
            f"Error: {len(result.refused)} of {len(result.files)} files refused (nothing "
            "stored from them); the others were imported",
            err=True,
        )
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Every figure as one JSON object.")
@click.option("--from", "date_from", type=DATE, help="First local date (default: campaign.start).")
@click.option("--to", "date_to", type=DATE, help="Last local date (default: campaign.end).")
@pass_app
def stats(app: App, as_json: bool, date_from: dt.date | None, date_to: dt.date | None) -> None:
    """Print the campaign's figures, per day and for the window.

    Each figure is defined in docs/METHODOLOGY.md (in the repository) and in every
    report's Methodology section.

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


def _moderate(app: App, action: str, refs: tuple[str, ...]) -> None:
    from monitor.config_file import add_to_moderation, classify, config_file

    posts, accounts = classify(refs)  # every argument checked before anything is written
    path = config_file(app.config_path)
    said = []
    for key, entries in ((f"{action}_posts", posts), (f"{action}_accounts", accounts)):
        if entries:
            added = add_to_moderation(path, key, entries)
            said.append(f"{len(added)} added to {key}")
            if len(added) < len(entries):
                said[-1] += f" ({len(entries) - len(added)} already listed)"
    click.echo(f"[moderation] in {path}: {'; '.join(said)}")
    effect = (
        "counted in every figure, never shown"
        if action == "hide"
        else "counted in no figure, never shown"
    )
    click.echo(f"their posts are {effect} in reports written from now on")


@cli.command()
@click.argument("refs", nargs=-1, required=True, metavar="ACCOUNT|POST...")
@pass_app
def hide(app: App, refs: tuple[str, ...]) -> None:
    """Hide accounts or posts: still counted, never shown in any list, chart or file.

    Adds to [moderation] hide_accounts / hide_posts in the config file. An account is a
    handle (@name, name, x.com/name); a post is its id or address (digits alone are a
    post id: write an all-digit account as @1234).

    Example: hashmon hide @spammer https://x.com/someone/status/874583463395364864
    """
    _moderate(app, "hide", refs)


@cli.command()
@click.argument("refs", nargs=-1, required=True, metavar="ACCOUNT|POST...")
@pass_app
def exclude(app: App, refs: tuple[str, ...]) -> None:
    """Exclude accounts or posts: counted in no figure and never shown (still stored).

    Adds to [moderation] exclude_accounts / exclude_posts in the config file; forms as
    for hide. Excluding wins over hiding.

    Example: hashmon exclude @botnet 874583463395364864
    """
    _moderate(app, "exclude", refs)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The METRICS.md object, as JSON.")
@click.option("--from", "date_from", type=DATE, help="First local date (default: campaign.start).")
@click.option("--to", "date_to", type=DATE, help="Last local date (default: campaign.end).")
@pass_app
def stakeholders(
    app: App, as_json: bool, date_from: dt.date | None, date_to: dt.date | None
) -> None:
    """Show which supporters posted, who is silent, and which decision makers joined in.

    Example: hashmon stakeholders --json --from 2017-06-12 --to 2017-06-13
    """
    from reports.stakeholders import stakeholders_object

    try:
        with snapshot(app.engine) as conn:
            obj = stakeholders_object(conn, app.settings, date_from, date_to)
    except ValueError as exc:
        raise UsageError(f"{exc}; give --from on or before --to") from None
    if as_json:
        click.echo(json.dumps(obj, indent=2, ensure_ascii=False))
    else:
        from jobs.terminal import stakeholders_table  # rich: only for the terminal

        stakeholders_table(obj)


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


@cli.command("email-test")
@pass_app
def email_test(app: App) -> None:
    """Send a short test message to the [email] recipients and say whether it worked.

    A failure names the server and the fault: DNS, connection, TLS, login, recipient
    refused or timeout (exit 1). The password comes from HASHMON_SMTP_PASSWORD only.

    Example: hashmon email-test   (with HASHMON_SMTP_PASSWORD set if [email] username is)
    """
    from jobs.delivery import email_test as send_test
    from monitor.errors import DatabaseError

    try:
        engine = app.engine  # to record the send; a test needs no database to work
    except DatabaseError:
        engine = None
    click.echo(send_test(app.settings, engine).describe() + "; it worked")


@cli.command()
@click.option(
    "--posts", type=click.IntRange(min=0), help="Expected posts in the window (default: estimated)."
)
@click.option("--json", "as_json", is_flag=True, help="As a JSON object.")
@pass_app
def plan(app: App, posts: int | None, as_json: bool) -> None:
    """Forecast the window's post reads, charged reads and cost under the configured schedule.

    Example: hashmon plan --posts 7000
    """
    from monitor.plan import format_forecast, stored_forecast

    f = stored_forecast(app.settings, app.engine, dt.datetime.now(dt.UTC), posts)
    if as_json:
        click.echo(json.dumps(f.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in format_forecast(f):
            click.echo(line)


def _write_report(
    app: App,
    which: str,
    out: str | None,
    day: dt.date | None = None,
    email: bool = False,
    shareable: bool = False,
) -> None:
    """Write one report into ``out`` (default ``[reports] out_dir``) and say where it went.

    With ``email`` the report's digest is sent after the files are written: a failed send
    costs no file, and ends in one line naming the server and the fault (exit 1). The
    digest of a shareable report is the shareable version.
    """
    from jobs.reporting import CLI_HINT, write_report

    if email:
        from jobs.delivery import check_can_email_reports

        check_can_email_reports(app.settings)  # before writing: a config error is exit 2
    written = write_report(
        app.settings,
        app.engine,
        which,
        day=day,
        out_dir=out,
        hint=CLI_HINT,
        shareable=shareable or app.settings.reports.shareable,
    )
    main_page = next((p for p in written.files if p.suffix == ".html"), None)
    click.echo(f"wrote {len(written.files)} files to {Path(out or app.settings.reports.out_dir)}")
    if main_page is not None:
        click.echo(f"report: {main_page}")
    click.echo(f"index:  {written.index}")
    if email:
        from jobs.delivery import email_report

        report_json = next(p for p in written.files if p.suffix == ".json")
        click.echo(email_report(app.settings, app.engine, report_json).describe())
    for note in written.notices:
        click.echo(f"note: {note}", err=True)


@cli.group()
def report() -> None:
    """Write the daily report or the end-of-week summary (HTML, PNG, CSV, XLSX, PDF, JSON).

    Example: hashmon report daily --date 2017-06-12
    """


@report.command()
@click.option(
    "--date",
    "day",
    type=DATE,
    help="Local date (default: today during the campaign, its last day after it).",
)
@click.option("--out", metavar="DIR", help="Output folder (default: [reports] out_dir).")
@click.option("--email", is_flag=True, help="Then e-mail its digest to [email] to and cc.")
@click.option(
    "--shareable",
    is_flag=True,
    help="The shareable version: private individuals neither named nor quoted.",
)
@pass_app
def daily(app: App, day: dt.date | None, out: str | None, email: bool, shareable: bool) -> None:
    """Write the daily report: the day, the week to date, progress against the baseline.

    With --email the digest (figures, top posts, charts, PDF and XLSX) is then sent.

    Example: hashmon report daily --date 2017-06-14 --out reports/ --email
    """
    from reports.periods import default_report_day

    if day is None:
        day = default_report_day(app.settings, dt.datetime.now(dt.UTC))
    _write_report(app, "daily", out, day, email, shareable)


@report.command()
@click.option("--out", metavar="DIR", help="Output folder (default: [reports] out_dir).")
@click.option("--email", is_flag=True, help="Then e-mail its digest to [email] to and cc.")
@click.option("--pack", is_flag=True, help="Also write the impact pack: a zip a funder can verify.")
@click.option(
    "--shareable",
    is_flag=True,
    help="The shareable version: private individuals neither named nor quoted.",
)
@pass_app
def summary(app: App, out: str | None, email: bool, pack: bool, shareable: bool) -> None:
    """Write the end-of-week impact summary: the whole window against the baseline.

    Example: hashmon report summary --out reports/ --pack
    """
    _write_report(app, "summary", out, email=email, shareable=shareable)
    if pack:
        from jobs.reporting import CLI_HINT, write_impact_pack

        shareable = shareable or app.settings.reports.shareable
        path = write_impact_pack(app.settings, app.engine, out, shareable=shareable, hint=CLI_HINT)
        click.echo(f"pack:   {path}")


@cli.command("verify-pack")
@click.argument("pack", metavar="PACK.zip")
def verify_pack(pack: str) -> None:
    """Check an impact pack: its checksums, then every figure recomputed from its posts.

    Example: hashmon verify-pack hashmon-reports/summary-IMHAW17-pack.zip
    """
    from reports.pack_verify import EQUAL, verify_pack

    verdict = verify_pack(pack)
    if verdict.ok:
        click.echo(verdict.note or f"{EQUAL} ({verdict.figures_checked} figures)")
        return
    for line in verdict.problems:
        click.echo(line)
    raise SystemExit(1)


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

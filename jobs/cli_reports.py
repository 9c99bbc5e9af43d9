"""``hashmon report daily|summary`` and ``hashmon verify-pack``: the commands that write
or check report files. Registered on the group in ``jobs.cli``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from jobs.cli_app import DATE, App, pass_app

# the options both report commands take
OUT = click.option("--out", metavar="DIR", help="Output folder (default: [reports] out_dir).")
EMAIL = click.option("--email", is_flag=True, help="Then e-mail its digest to [email] to and cc.")
SHAREABLE = click.option(
    "--shareable",
    is_flag=True,
    help="The shareable version: private individuals neither named nor quoted.",
)


def _write_report(
    app: App,
    which: str,
    out: str | None,
    day: dt.date | None = None,
    email: bool = False,
    shareable: bool = False,
    pack: bool = False,
) -> None:
    """Write one report into ``out`` (default ``[reports] out_dir``) and say where it went;
    with ``pack`` (the summary), then its impact pack, from the same reading.

    With ``email`` the report's digest is sent after the files are written (before the
    pack): a failed send costs no file, and ends in one line naming the server and the
    fault (exit 1). The digest of a shareable report is the shareable version.
    """
    from jobs.reporting import CLI_HINT, Written, write_report, write_summary_and_pack

    if email:
        from jobs.delivery import check_can_email_reports

        check_can_email_reports(app.settings)  # before writing: a config error is exit 2

    def tell(written: Written) -> None:
        main_page = next((p for p in written.files if p.suffix == ".html"), None)
        where = Path(out or app.settings.reports.out_dir)
        click.echo(f"wrote {len(written.files)} files to {where}")
        if main_page is not None:
            click.echo(f"report: {main_page}")
        click.echo(f"index:  {written.index}")
        if email:
            from jobs.delivery import email_report

            report_json = next(p for p in written.files if p.suffix == ".json")
            click.echo(email_report(app.settings, app.engine, report_json).describe())
        for note in written.notices:
            click.echo(f"note: {note}", err=True)

    shareable = shareable or app.settings.reports.shareable
    if pack:
        _, path = write_summary_and_pack(
            app.settings, app.engine, out, shareable=shareable, hint=CLI_HINT, then=tell
        )
        click.echo(f"pack:   {path}")
        return
    tell(
        write_report(
            app.settings,
            app.engine,
            which,
            day=day,
            out_dir=out,
            hint=CLI_HINT,
            shareable=shareable,
        )
    )


@click.group()
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
@OUT
@EMAIL
@SHAREABLE
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
@OUT
@EMAIL
@click.option("--pack", is_flag=True, help="Also write the impact pack: a zip a funder can verify.")
@SHAREABLE
@pass_app
def summary(app: App, out: str | None, email: bool, pack: bool, shareable: bool) -> None:
    """Write the end-of-week impact summary: the whole window against the baseline.

    Example: hashmon report summary --out reports/ --pack
    """
    _write_report(app, "summary", out, email=email, shareable=shareable, pack=pack)


@click.command("verify-pack")
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

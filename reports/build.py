"""Entry points: write a daily report, the end-of-week summary, and the folder's index.

Each report is computed once (``reports.report_data``), its charts drawn once, then written
in every format ``settings.reports.formats`` names, all beside each other in ``out_dir``:

    daily-2017-06-12.html   .json  .xlsx  .pdf
    daily-2017-06-12-pace.png  -daily-posts.png  -hours.png  -contributors.png
    daily-2017-06-12-days.csv  -top-posts.csv  -top-contributors.csv  -hashtags.csv

(``summary-IMHAW17...`` likewise, named after the campaign).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import Engine

from monitor.settings import Settings
from monitor.store.engine import snapshot_pair
from reports import charts as ch
from reports.files import report_json, write_file, write_json
from reports.format import SO_FAR_FILE, report_stem
from reports.html import report_html, write_index, write_report_html
from reports.pdf import write_pdf
from reports.report_data import ReportData, daily_data, summary_data
from reports.shareable import shareable_report
from reports.spreadsheets import write_csvs, write_xlsx

__all__ = [
    "daily_report_data",
    "summary_report_data",
    "write_daily_report",
    "write_index",
    "write_report",
    "write_reports",
    "write_so_far",
    "write_summary_report",
]


def report_charts(report: ReportData) -> list[ch.Chart]:
    """Return the report's charts: pace, posts per day, hours, top contributors."""
    settings = report.settings
    out = []
    if report.pace["days"]:
        out.append(ch.pace_chart(report.pace, settings.campaign.days()))
    out.append(ch.daily_posts_chart(report.window_days or report.figures["days"]))
    out.append(ch.hourly_chart(report.hours, settings.campaign.timezone))
    out.append(ch.contributors_chart(report.top_contributors))
    return out


def write_report(report: ReportData, out_dir: str | Path) -> list[Path]:
    """Write ``report`` in each configured format into ``out_dir``; return the files written.

    The HTML page is written last, so the downloads it lists all exist.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    formats = set(report.settings.reports.formats)
    stem = report_stem(report)
    charts = report_charts(report) if formats & {"html", "png", "pdf"} else []
    written: list[Path] = []
    chart_files: dict[str, str] = {}
    if "png" in formats:
        for chart in charts:
            path = write_file(out_dir / f"{stem}-{chart.name}.png", chart.png)
            chart_files[chart.name] = path.name
            written.append(path)
    if "csv" in formats:
        written += write_csvs(report, out_dir, stem)
    if "xlsx" in formats:
        written.append(write_xlsx(report, out_dir / f"{stem}.xlsx"))
    if "pdf" in formats:
        written.append(write_pdf(report, charts, out_dir / f"{stem}.pdf"))
    if "json" in formats:
        obj = report_json(report, charts, chart_files)
        written.append(write_json(out_dir / f"{stem}.json", obj))
    if "html" in formats:
        # downloads first, charts last: the page already shows them
        files = [p.name for p in written if p.suffix != ".png"] + list(chart_files.values())
        written.append(
            write_report_html(report, charts, chart_files, files, out_dir / f"{stem}.html")
        )
    return written


def write_so_far(report: ReportData, out_dir: str | Path, up_to: str) -> Path:
    """Write the day so far (``report``, a daily report of today) as ``today.html``, worded
    as covering the day up to ``up_to`` ("14:00 BST"); return it.

    HTML only, charts inside the page: it is rewritten within the hour, so a PDF,
    workbook and CSVs each time would be work and clutter nobody keeps.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = report_html(report, report_charts(report), {}, [], up_to=up_to)
    return write_file(out_dir / SO_FAR_FILE, html.encode("utf-8"))


def write_daily_report(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    out_dir: str | Path,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
) -> list[Path]:
    """Return the files of the daily report for local date ``day``, written into ``out_dir``.

    The report shows the day and the campaign to date against the baseline; its JSON
    holds under ``figures`` the ``hashmon stats --json`` object for that one day.
    ``simulated`` puts the "Simulated data" banner on every page; ``now`` stamps it.
    Does not rewrite ``index.html``: call ``write_index`` after.
    """
    return write_report(
        daily_report_data(engine, settings, day, simulated=simulated, now=now), out_dir
    )


def write_summary_report(
    engine: Engine,
    settings: Settings,
    out_dir: str | Path,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
) -> list[Path]:
    """Return the files of the end-of-week summary (the campaign window), written into ``out_dir``.

    Its JSON holds under ``figures`` the ``hashmon stats --json`` object of the window.
    Does not rewrite ``index.html``: call ``write_index`` after.
    """
    return write_report(
        summary_report_data(engine, settings, simulated=simulated, now=now), out_dir
    )


def daily_report_data(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    shareable: bool = False,
) -> ReportData:
    """Return the data of the daily report for ``day``, read in one snapshot (its
    shareable version with ``shareable``)."""
    with snapshot_pair(engine) as (conn, side):
        report = daily_data(
            conn, settings, day, simulated=simulated, now=now, side=None if side is conn else side
        )
        return shareable_report(conn, report) if shareable else report


def summary_report_data(
    engine: Engine,
    settings: Settings,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    shareable: bool = False,
) -> ReportData:
    """Return the data of the end-of-week summary, read in one snapshot (its shareable
    version with ``shareable``)."""
    with snapshot_pair(engine) as (conn, side):
        report = summary_data(
            conn, settings, simulated=simulated, now=now, side=None if side is conn else side
        )
        return shareable_report(conn, report) if shareable else report


def write_reports(reports: Sequence[ReportData], out_dir: str | Path) -> list[Path]:
    """Write several reports (``write_report`` each) and return every file, in order.

    Drawing the charts is matplotlib's pure-Python work, one core a report: where the
    system can fork, two reports are drawn at once in worker processes, which inherit
    the loaded libraries and touch no database (each gets its data whole).
    """
    workers = min(2, os.cpu_count() or 1, len(reports))
    pool = None
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        try:
            pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_ctrl_c)
        except (OSError, NotImplementedError):  # no sem_open (a container without /dev/shm)
            pool = None
    if pool is None:
        return [path for report in reports for path in write_report(report, out_dir)]
    try:
        done = list(pool.map(write_report, reports, [Path(out_dir)] * len(reports)))
    except BaseException:
        pool.shutdown(cancel_futures=True)  # Ctrl-C or a failure: draw nothing more
        raise
    pool.shutdown()
    return [path for paths in done for path in paths]


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group: the caller stops the workers, and a worker
    # waiting for work must not print a KeyboardInterrupt traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)

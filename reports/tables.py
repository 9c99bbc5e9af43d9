"""A report's tables as rows, and their CSV files and Excel workbook.

Every cell that reaches a spreadsheet passes through ``spreadsheet_cell``: text a
spreadsheet would run as a formula is neutralised there, once, for both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.figures import ReportData
from reports.metrics import PERIOD_KEYS
from reports.render import definitions, metric_name, report_title, write_file
from reports.stakeholders import stakeholder_tables

# a spreadsheet reads a cell starting with one of these as a formula (or a DDE command)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL = 32_767  # Excel's limit on characters in one cell


def neutralise(value: Any) -> Any:
    """Return a cell value a spreadsheet shows as text, never runs.

    A string starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading single quote; numbers, None and other text pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_cell(value: Any, *, xlsx: bool = False) -> Any:
    """Return ``value`` ready for a CSV or XLSX cell: neutralised, and legal in XLSX.

    For XLSX, control characters the file format cannot hold are dropped and text is cut
    at Excel's cell limit first, so what is checked for a formula is what gets written.
    """
    if xlsx and isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CELL]
    return neutralise(value)


@dataclass(frozen=True)
class Table:
    """Rows under named columns; ``text_columns`` hold ids and must stay text in Excel."""

    name: str  # file-name part and sheet name
    title: str
    columns: list[str]
    rows: list[list[Any]]
    text_columns: frozenset[str] = frozenset()


# --- views ------------------------------------------------------------------------------


def days_table(report: ReportData) -> Table:
    """Return one row per campaign day reported, then the period's totals row.

    Totals are over the period as one (contributors and reach count each author once),
    never the sum of the rows above them.
    """
    if report.kind == "summary":
        days, totals, label = report.figures["days"], report.figures["totals"], "campaign total"
    elif report.to_date is not None:
        days, totals = report.to_date["days"], report.to_date["totals"]
        label = "campaign to date"
    else:
        days, totals, label = report.figures["days"], report.figures["totals"], "day total"
    pace = {row["date"]: row for row in report.pace["days"]}
    metric = report.pace["metric"]
    columns = [
        "date",
        *PERIOD_KEYS,
        f"cumulative_{metric}",
        "baseline_progress",
        "needed_per_remaining_day",
    ]
    rows = []
    for day in days:
        p = pace.get(day["date"], {})
        rows.append(
            [
                day["date"],
                *(day[k] for k in PERIOD_KEYS),
                p.get("cumulative"),
                p.get("progress"),
                p.get("needed_per_day"),
            ]
        )
    rows.append(
        [label, *(totals[k] for k in PERIOD_KEYS), None, totals.get("baseline_progress"), None]
    )
    return Table("days", "Days", columns, rows)


def posts_table(report: ReportData) -> Table:
    """Return the top posts with their text, author and times in UTC and campaign time."""
    columns = [
        "rank",
        "id",
        "created_at_utc",
        "created_at_local",
        "username",
        "name",
        "author_id",
        "kind",
        "text",
        "like_count",
        "retweet_count",
        "reply_count",
        "quote_count",
        "engagements",
        "impression_count",
        "author_followers",
        "url",
    ]
    rows = [
        [
            p["rank"],
            p["id"],
            p["created_at"],
            p["created_at_local"],
            p["username"],
            p["name"],
            p["author_id"],
            p["kind"],
            p["text"],
            p["like_count"],
            p["retweet_count"],
            p["reply_count"],
            p["quote_count"],
            p["engagements"],
            p["impression_count"],
            p["author_followers"],
            p["url"],
        ]
        for p in report.top_posts
    ]
    return Table("top-posts", "Top posts", columns, rows, frozenset({"id", "author_id"}))


def contributors_table(report: ReportData) -> Table:
    """Return the top contributors by potential impressions, with names."""
    columns = [
        "rank",
        "author_id",
        "username",
        "name",
        "posts",
        "potential_impressions",
        "engagements",
        "followers_count_latest",
    ]
    rows = [
        [
            c["rank"],
            c["author_id"],
            c["username"],
            c["name"],
            c["posts"],
            c["potential_impressions"],
            c["engagements"],
            c["followers_count"],
        ]
        for c in report.top_contributors
    ]
    return Table("top-contributors", "Top contributors", columns, rows, frozenset({"author_id"}))


def hashtags_table(report: ReportData) -> Table:
    """Return the hashtags used most beside the campaign's own, with post counts."""
    rows = [[h["rank"], h["hashtag"], h["posts"]] for h in report.top_hashtags]
    return Table("hashtags", "Hashtags", ["rank", "hashtag", "posts"], rows)


def report_tables(report: ReportData) -> list[Table]:
    """Return every table a report exports: days, top posts, contributors, hashtags."""
    tables = [
        days_table(report),
        posts_table(report),
        contributors_table(report),
        hashtags_table(report),
    ]
    if report.stakeholders is not None:
        tables += [Table(*t) for t in stakeholder_tables(report.stakeholders)]
    return tables


# --- CSV --------------------------------------------------------------------------------


def csv_bytes(table: Table) -> bytes:
    """Return the table as CSV, UTF-8 with a byte-order mark so Excel reads the accents."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    # a stakeholder list's own column names are user text too
    writer.writerow([spreadsheet_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else spreadsheet_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def write_csvs(report: ReportData, out_dir: Path, stem: str) -> list[Path]:
    """Write one CSV per table as ``{stem}-{table}.csv``; return the paths."""
    return [
        write_file(out_dir / f"{stem}-{t.name}.csv", csv_bytes(t)) for t in report_tables(report)
    ]


# --- XLSX -------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_WIDTHS = {"text": 60, "name": 28, "username": 20, "url": 44, "definition": 90, "date": 16}


def _sheet(
    wb: Workbook,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    text_columns: frozenset[str] = frozenset(),
) -> None:
    ws = wb.create_sheet(title[:31])
    for i, col in enumerate(columns):
        ws.column_dimensions[get_column_letter(i + 1)].width = _WIDTHS.get(
            col, 14 if "id" not in col else 22
        )
    ws.freeze_panes = "A2"
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=spreadsheet_cell(col, xlsx=True))
        cell.font = _BOLD
        header.append(cell)
    ws.append(header)
    for row in rows:
        out = []
        for col, value in zip(columns, row, strict=True):
            if col in text_columns and value is not None:
                # ids are longer than Excel's 15 significant digits: keep them text
                cell = WriteOnlyCell(ws, value=spreadsheet_cell(str(value), xlsx=True))
                cell.number_format = "@"
            else:
                cell = WriteOnlyCell(ws, value=spreadsheet_cell(value, xlsx=True))
                if col in ("text", "definition"):
                    cell.alignment = _WRAP
            out.append(cell)
        ws.append(out)


def xlsx_bytes(report: ReportData) -> bytes:
    """Return the workbook: a Summary sheet, every table as a sheet, and Definitions."""
    wb = Workbook(write_only=True)
    settings = report.settings
    totals = report.totals
    summary_rows: list[list[Any]] = [
        ["report", report_title(report)],
        ["campaign", settings.campaign.name],
        ["dates", f"{report.days[0].isoformat()} to {report.days[-1].isoformat()}"],
        ["time zone", settings.campaign.timezone],
        ["simulated data", "yes" if report.simulated else "no"],
    ]
    summary_rows += [[key, totals[key]] for key in PERIOD_KEYS]
    if settings.baseline is not None:
        b = settings.baseline
        summary_rows += [
            ["baseline", f"{b.label}: {b.value:,.0f} {metric_name(b.metric)}"],
            ["baseline_progress (campaign to date)", report.pace["progress"]],
        ]
    _sheet(wb, "Summary", ["figure", "value"], summary_rows)
    for table in report_tables(report):
        _sheet(wb, table.title, table.columns, table.rows, table.text_columns)
    _sheet(
        wb, "Definitions", ["key", "figure", "definition"], [list(d) for d in definitions(settings)]
    )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(report: ReportData, path: Path) -> Path:
    """Write the report's workbook to ``path`` and return it."""
    return write_file(path, xlsx_bytes(report))

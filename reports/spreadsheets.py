"""A report's tables as rows, and their CSV files and Excel workbook.

Every cell that reaches a spreadsheet passes through ``spreadsheet_cell``: text a
spreadsheet would run as a formula is neutralised there, once, for both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.definitions import definitions
from reports.figure_keys import PERIOD_KEYS
from reports.files import write_file
from reports.format import metric_name, report_title, shareable_notice
from reports.report_data import ReportData
from reports.stakeholders import stakeholder_tables

# a spreadsheet reads a cell starting with one of these as a formula (or a DDE command)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL = 32_767  # Excel's limit on characters in one cell
# text in a CSV field is cut at the same length, far under the 131,072 characters Python's
# csv reader takes by default (csv.field_size_limit), so every CSV we write reads back
CSV_MAX_FIELD = XLSX_MAX_CELL


def neutralise(value: Any) -> Any:
    """Return a cell value a spreadsheet shows as text, never runs.

    A string starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading single quote; numbers, None and other text pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_cell(value: Any, *, xlsx: bool = False) -> Any:
    """Return ``value`` ready for a CSV or XLSX cell: neutralised, clipped, legal in XLSX.

    Text longer than a cell holds (``XLSX_MAX_CELL``, and ``CSV_MAX_FIELD`` in CSV) is
    cut and ends in "…", leaving room for the quote that neutralising may add. For XLSX,
    control characters the file format cannot hold are dropped first. Clipping comes
    before neutralising, so what is checked for a formula is what gets written.
    """
    if isinstance(value, str):
        if xlsx:
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        limit = XLSX_MAX_CELL if xlsx else CSV_MAX_FIELD
        if len(value) >= limit:
            value = value[: limit - 2] + "…"
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
        "needed_to_pass_baseline",
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
                p.get("needed"),
                p.get("needed_per_day"),
            ]
        )
    rows.append(
        [
            label,
            *(totals[k] for k in PERIOD_KEYS),
            None,
            totals.get("baseline_progress"),
            None,
            None,
        ]
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


def noticed(table: Table, notice: str) -> Table:
    """Return ``table`` with a last ``notice`` column saying ``notice`` on every row: a
    shareable CSV says what it is on its face, and still reads as one header and rows."""
    rows = [[*row, notice] for row in table.rows]
    return replace(table, columns=[*table.columns, "notice"], rows=rows)


def write_csvs(report: ReportData, out_dir: Path, stem: str) -> list[Path]:
    """Write one CSV per table as ``{stem}-{table}.csv``; return the paths."""
    tables = report_tables(report)
    if report.shareable:
        tables = [noticed(t, shareable_notice(report.settings)) for t in tables]
    return [write_file(out_dir / f"{stem}-{t.name}.csv", csv_bytes(t)) for t in tables]


# --- XLSX -------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEAD = Alignment(wrap_text=True, vertical="bottom")
_RATIOS = frozenset({"engagement_rate", "impressions_coverage", "baseline_progress", "share"})
_WRAPPED = {"text": 60, "definition": 90}  # long text: a fixed width, wrapped
_MAX_WIDTH = 50  # characters; anything longer wraps rather than widening the sheet
# the workbook is for people: its headers say in words what the CSVs' code names mean
HEADERS = {
    "date": "Date",
    "posts": "Posts",
    "originals": "Originals",
    "retweets": "Retweets",
    "quotes": "Quotes",
    "replies": "Replies",
    "hashtag_posts": "Posts with the hashtag",
    "mention_posts": "Posts mentioning the campaign",
    "contributors": "Contributors",
    "potential_impressions": "Potential impressions",
    "potential_reach": "Potential reach",
    "like_count": "Likes",
    "retweet_count": "Retweets received",
    "reply_count": "Replies received",
    "quote_count": "Quotes received",
    "engagements": "Engagements",
    "engagement_rate": "Engagement rate",
    "impressions": "Impressions reported by X",
    "impressions_coverage": "Impressions coverage",
    "posts_without_followers": "Posts lacking a follower count",
    "hidden_posts": "Hidden posts (counted, not shown)",
    "excluded_posts": "Excluded posts (not counted)",
    "baseline_progress": "Progress against the baseline",
    "needed_to_pass_baseline": "Still needed to pass the baseline",
    "needed_per_remaining_day": "Needed per remaining day",
    "rank": "Rank",
    "id": "Post id",
    "created_at_utc": "Posted (UTC)",
    "created_at_local": "Posted (campaign time)",
    "username": "Username",
    "name": "Name",
    "author_id": "Account id",
    "kind": "Kind",
    "text": "Text",
    "impression_count": "Impressions reported by X",
    "author_followers": "Author's followers",
    "url": "Link",
    "followers_count_latest": "Followers (latest)",
    "hashtag": "Hashtag",
    "figure": "Figure",
    "value": "Value",
    "key": "Key",
    "definition": "Definition",
}


def header(column: str) -> str:
    """Return a column's code name as a workbook header: ``potential_impressions`` ->
    ``Potential impressions``."""
    if column in HEADERS:
        return HEADERS[column]
    if column.startswith("cumulative_"):
        return f"Cumulative {metric_name(column[len('cumulative_') :])}"
    return column.replace("_", " ").capitalize()


def number_format(key: str, value: Any) -> str | None:
    """Return the Excel number format for a figure: percentages for ratios, thousands
    separators for counts; None for text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if key in _RATIOS:
        return "0.0%" if value == 0 or abs(value) >= 0.01 else "0.00%"
    if isinstance(value, float) and not value.is_integer():
        return "#,##0.0"
    return "#,##0"


def _shown(value: Any, fmt: str | None) -> str:
    """Return roughly what Excel shows for a value in ``fmt``: to size the column."""
    if fmt is None:
        return "" if value is None else str(value)
    if fmt.endswith("%"):
        return f"{value:.2%}"
    return f"{value:,.1f}" if fmt.endswith(".0") else f"{value:,.0f}"


def _sheet(
    wb: Workbook,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    text_columns: frozenset[str] = frozenset(),
    row_keys: Sequence[str | None] | None = None,
) -> None:
    """Add a sheet: human headers in a frozen first row, formatted figures, fitted widths.

    A value's number format follows its column's key, or with ``row_keys`` (the Summary
    sheet, one figure a row) its row's key.
    """
    ws = wb.create_sheet(title[:31])
    cells: list[list[WriteOnlyCell]] = []
    widths = [len(header(col)) for col in columns]
    for r, row in enumerate(rows):
        out = []
        for i, (col, value) in enumerate(zip(columns, row, strict=True)):
            if col in text_columns and value is not None:
                # ids are longer than Excel's 15 significant digits: keep them text
                cell = WriteOnlyCell(ws, value=spreadsheet_cell(str(value), xlsx=True))
                cell.number_format = "@"
                shown = str(value)
            else:
                cell = WriteOnlyCell(ws, value=spreadsheet_cell(value, xlsx=True))
                key = row_keys[r] or col if row_keys is not None else col
                fmt = number_format(key, value)
                if fmt is not None:
                    cell.number_format = fmt
                if col in _WRAPPED:
                    cell.alignment = _WRAP
                shown = _shown(value, fmt)
            widths[i] = max(widths[i], min(len(shown), _MAX_WIDTH))
            out.append(cell)
        cells.append(out)
    for i, col in enumerate(columns):
        width = _WRAPPED.get(col, widths[i] + 2)
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    ws.freeze_panes = "A2"
    head = []
    for col in columns:
        # a stakeholder list's own column names are user text too
        cell = WriteOnlyCell(ws, value=spreadsheet_cell(header(col), xlsx=True))
        cell.font = _BOLD
        cell.alignment = _HEAD
        head.append(cell)
    ws.append(head)
    for out in cells:
        ws.append(out)


# the Summary sheet's figures, keyed for their number format, named for people
_SUMMARY_NAMES = {**HEADERS, "baseline_progress": "Progress against the baseline (to date)"}


def xlsx_bytes(report: ReportData) -> bytes:
    """Return the workbook: a Summary sheet, every table as a sheet, and Definitions."""
    wb = Workbook(write_only=True)
    settings = report.settings
    totals = report.totals
    summary_rows: list[list[Any]] = [
        ["Report", report_title(report)],
        ["Campaign", settings.campaign.name],
        ["Dates", f"{report.days[0].isoformat()} to {report.days[-1].isoformat()}"],
        ["Time zone", settings.campaign.timezone],
        ["Simulated data", "yes" if report.simulated else "no"],
    ]
    if report.shareable:
        summary_rows.append(["Shareable version", shareable_notice(settings)])
    figures = [(key, totals[key]) for key in PERIOD_KEYS]
    if settings.baseline is not None:
        b = settings.baseline
        summary_rows.append(["Baseline", f"{b.label}: {b.value:,.0f} {metric_name(b.metric)}"])
        figures.append(("baseline_progress", report.pace["progress"]))
    # each figure named in words, formatted after its key
    keys = [None] * len(summary_rows) + [key for key, _ in figures]
    summary_rows += [[_SUMMARY_NAMES[key], value] for key, value in figures]
    _sheet(wb, "Summary", ["figure", "value"], summary_rows, row_keys=keys)
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

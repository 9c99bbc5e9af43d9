"""The printable PDF of a report (matplotlib PdfPages): headline figures, charts, day table.

A4 portrait pages, vector charts drawn again from the same data as the PNGs, and a
banner on every page when the data is simulated.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from monitor.times import local_stamp
from reports.charts import INK, STYLE, WIDTH, Chart, count, drawable, plain, plural
from reports.files import write_file
from reports.format import (
    SIMULATED_BANNER,
    day_position,
    long_day,
    metric_name,
    num,
    pct,
    report_title,
    short_day,
)
from reports.report_data import ReportData

A4 = (8.27, 11.69)


def _frame(fig: Figure, report: ReportData, page: int, pages: int) -> None:
    """Draw the running header and footer of one page."""
    tz = report.settings.campaign.tz
    fig.text(0.06, 0.965, drawable(plain(report_title(report), 90)), fontsize=10, color=INK)
    if report.simulated:
        fig.text(
            0.5,
            0.935,
            SIMULATED_BANNER.upper(),
            ha="center",
            va="center",
            fontsize=12,
            fontweight="bold",
            color=INK,
            bbox={
                "boxstyle": "square,pad=0.5",
                "facecolor": "#e8e8e8",
                "edgecolor": INK,
                "linewidth": 2,
                "hatch": "//",
            },
        )
    fig.text(
        0.06,
        0.03,
        f"Generated {local_stamp(report.generated_at, tz)} by hashmon. "
        "Definitions: see the Methodology section of the HTML report.",
        fontsize=7.5,
        color="#444444",
    )
    fig.text(0.94, 0.03, f"Page {page} of {pages}", ha="right", fontsize=7.5, color="#444444")


def _table(
    ax: Any,
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    aligns: list[str],
    row_height: float,
    fontsize: float,
    bold_last: bool = False,
    header_rows: float = 2.4,
) -> float:
    """Draw a ruled table at the top of ``ax``: header shaded, numbers aligned right.

    Plain text and rules rather than matplotlib's Table, which measures every cell again
    and again. Returns the table's height as a fraction of the axes.
    """
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    pad = 0.012
    lefts = [sum(widths[:i]) for i in range(len(widths))]
    y = 1.0
    for r, row in enumerate([header, *rows]):
        height = row_height * (header_rows if r == 0 else 1)
        shaded = r == 0 or (bold_last and r == len(rows))
        if shaded:
            ax.add_patch(
                Rectangle(
                    (0, y - height), sum(widths), height, facecolor="#eeeeee", edgecolor="none"
                )
            )
        for value, left, width, align in zip(row, lefts, widths, aligns, strict=True):
            x = left + pad if align == "left" else left + width - pad
            ax.text(
                x,
                y - height / 2,
                value,
                ha=align,
                va="center",
                color=INK,
                fontsize=fontsize - (1 if r == 0 else 0),
                fontweight="bold" if shaded else "normal",
            )
        y -= height
        ax.plot(
            [0, sum(widths)],
            [y, y],
            color=INK if r == 0 else "#bbbbbb",
            linewidth=1.2 if r == 0 else 0.6,
        )
    return 1.0 - y


def _headline_rows(report: ReportData) -> list[tuple[str, str]]:
    t = report.totals
    scope = "The day" if report.kind == "daily" else "The campaign"
    rows = [
        (f"{scope}: posts", num(t["posts"])),
        ("Contributors (distinct accounts)", num(t["contributors"])),
        ("Potential impressions", num(t["potential_impressions"])),
        ("Potential reach (upper bound)", num(t["potential_reach"])),
        ("Engagements (retweets' copies excluded)", num(t["engagements"])),
        ("Engagement rate", pct(t["engagement_rate"])),
        ("Impressions reported by X", num(t["impressions"])),
    ]
    if report.kind == "daily" and report.to_date is not None:
        w = report.to_date["totals"]
        rows += [
            ("Campaign to date: posts", num(w["posts"])),
            ("Campaign to date: potential impressions", num(w["potential_impressions"])),
            ("Campaign to date: potential reach", num(w["potential_reach"])),
        ]
    return rows


def _title_page(report: ReportData) -> Figure:
    fig = Figure(figsize=A4)
    c = report.settings.campaign
    fig.text(
        0.06,
        0.86,
        drawable(plain(report_title(report), 60)),
        fontsize=20,
        fontweight="bold",
        color=INK,
    )
    when = (
        long_day(report.day) + (f" ({day_position(report)})" if day_position(report) else "")
        if report.day
        else f"{long_day(report.days[0])} to {long_day(report.days[-1])}"
    )
    fig.text(
        0.06,
        0.825,
        drawable(plain(f"{when} · {report.settings.campaign.display_terms()}", 110)),
        fontsize=11,
        color=INK,
    )
    if c.theme:
        fig.text(
            0.06,
            0.8,
            drawable(plain(f"Theme: {c.theme}", 110)),
            fontsize=11,
            style="italic",
            color=INK,
        )
    y = 0.74
    pace = report.pace
    if pace["baseline"] is not None:
        fig.text(
            0.06,
            y,
            f"{pct(pace['progress'])} of {drawable(plain(pace['label'], 40))}",
            fontsize=26,
            fontweight="bold",
            color=INK,
        )
        fig.text(
            0.06,
            y - 0.03,
            f"{count(pace['cumulative'])} {metric_name(pace['metric'])} "
            f"{'so far' if report.kind == 'daily' else 'over the campaign'}, against "
            f"{count(pace['baseline'])} last time.",
            fontsize=11,
            color=INK,
        )
        y -= 0.08
    ax = fig.add_axes((0.06, 0.12, 0.88, y - 0.14))
    rows = [[a, b] for a, b in _headline_rows(report)]
    _table(
        ax, ["Figure", "Value"], rows, [0.7, 0.3], ["left", "right"], 0.04, 10.5, header_rows=1.3
    )
    return fig


def _chart_page(charts: list[Chart]) -> Figure:
    """Return a page with ``charts`` stacked, each keeping the margins its labels need."""
    fig = Figure(figsize=A4)
    width, height = A4
    top, bottom = 0.9 * height, 0.07 * height  # inches: room for the running header, footer
    scale = (top - bottom) / max(sum(c.height for c in charts), top - bottom)
    y = top
    for chart in charts:
        band = chart.height * scale
        m = chart.margins  # fractions of the chart's own size: turn them into inches
        left_in, right_in = m["left"] * WIDTH, (1 - m["right"]) * WIDTH
        top_in, bottom_in = (1 - m["top"]) * chart.height, m["bottom"] * chart.height
        ax = fig.add_axes(
            (
                left_in / width,
                (y - band + bottom_in) / height,
                (width - left_in - right_in) / width,
                (band - top_in - bottom_in) / height,
            )
        )
        chart.plot(ax)
        y -= band + 0.25
    return fig


def _day_table_page(report: ReportData) -> Figure:
    fig = Figure(figsize=A4)
    metric = report.pace["metric"]
    pace = {r["date"]: r for r in report.pace["days"]}
    days = report.window_days or report.figures["days"]
    header = [
        "Day",
        "Posts",
        "Contributors",
        "Potential\nimpressions",
        "Potential\nreach",
        "Engagements",
        "Cumulative\n" + metric_name(metric).replace(" ", "\n"),
        "% of\nbaseline",
    ]
    body = []
    for d in days:
        p = pace.get(d["date"], {})
        body.append(
            [
                short_day(d["date"]),
                num(d["posts"]),
                num(d["contributors"]),
                num(d["potential_impressions"]),
                num(d["potential_reach"]),
                num(d["engagements"]),
                num(p.get("cumulative")),
                pct(p.get("progress")),
            ]
        )
    totals = report.to_date["totals"] if report.to_date is not None else report.totals
    body.append(
        [
            "Total",
            num(totals["posts"]),
            num(totals["contributors"]),
            num(totals["potential_impressions"]),
            num(totals["potential_reach"]),
            num(totals["engagements"]),
            "",
            pct(totals.get("baseline_progress")),
        ]
    )
    fig.text(0.06, 0.88, "Day by day", fontsize=14, fontweight="bold", color=INK)
    ax = fig.add_axes((0.06, 0.3, 0.88, 0.56))
    widths = [0.13] + [0.124] * 7
    used = _table(ax, header, body, widths, ["left"] + ["right"] * 7, 0.045, 8.5, True)
    note = (
        "The total row treats the period as one: contributors and potential reach count "
        "each account once,\nso they are not the sum of the days above."
    )
    ax.text(0, 1 - used - 0.04, note, fontsize=9, color=INK, va="top", transform=ax.transAxes)
    return fig


def pdf_pages(report: ReportData, charts: list[Chart]) -> Iterator[Figure]:
    """Yield the report's pages, framed: headline figures, charts two a page, day table."""
    bodies = [_title_page(report)]
    for i in range(0, len(charts), 2):
        bodies.append(_chart_page(charts[i : i + 2]))
    bodies.append(_day_table_page(report))
    for n, fig in enumerate(bodies, 1):
        _frame(fig, report, n, len(bodies))
        yield fig


def pdf_bytes(report: ReportData, charts: list[Chart]) -> bytes:
    """Return the report as a PDF document."""
    buf = io.BytesIO()
    meta: dict[str, Any] = {
        "Title": report_title(report),
        "Creator": "hashmon",
        "Subject": plural(report.totals["posts"], "post"),
    }
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        with PdfPages(buf, metadata=meta) as pdf:
            for fig in pdf_pages(report, charts):
                pdf.savefig(fig)
    return buf.getvalue()


def write_pdf(report: ReportData, charts: list[Chart], path: Path) -> Path:
    """Write the report's PDF to ``path`` and return it."""
    return write_file(path, pdf_bytes(report, charts))

"""The printable PDF of a report (ReportLab flowables): the whole report, made for paper.

The same content as the HTML page, in the same order: headline figures, progress
against the baseline, the charts (the PNGs the report already drew), the day table,
top posts, contributors and hashtags, and the methodology with every definition and
the coverage of the data, so the PDF reads alone. A4 portrait, text flowing from page
to page, a running footer with page numbers, and the simulated-data banner on every
page of a simulated report.

ReportLab (wheels only) rather than WeasyPrint (which needs Pango from the system):
``make demo`` needs nothing but Python. Text is set in DejaVu Sans, which matplotlib
ships, so accents, Greek, Cyrillic and most symbols print; a character it has no glyph
for (emoji, CJK) prints as a white square rather than as nothing. User text (posts, names,
hashtags, the campaign's own settings) passes through ``para_text`` before it reaches a
Paragraph, whose markup would otherwise read ``<`` and ``&`` as tags and entities.
The output depends on the report only: ReportLab's invariant mode, and the creation
date set to when the report was generated.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    SimpleDocTemplate,
    Spacer,
)

from monitor.times import local_stamp
from reports.charts import Chart
from reports.coverage import moderation_lines, month_use_lines
from reports.definitions import definitions
from reports.files import write_file
from reports.format import (
    day_position,
    long_day,
    num,
    pct,
    plural,
    report_title,
)
from reports.paper import (
    CHART_SCALE,
    FRAME_WIDTH,
    MARGIN,
    NumberedCanvas,
    bullets,
    load_fonts,
    page_decorator,
    para,
    para_text,
)
from reports.pdf_tables import (
    contributors_table,
    days_table,
    hashtags_table,
    headline_table,
    kinds_and_others,
    posts_table,
)
from reports.report_data import ReportData
from reports.wording import progress_lines, progress_when, report_notices, summary_lead

# Streams as binary Flate, not wrapped in ASCII85 as well (ReportLab's default, for
# channels that carried 7-bit text only): ReportLab encodes ASCII85 in pure Python, a
# quarter of a PDF's time, and it makes the file a fifth larger. Every reader opens both.
rl_config.useA85 = 0


def _progress(pace: dict[str, Any], when: str) -> list[Flowable]:
    if pace["baseline"] is None:
        return [
            para(
                "No baseline is configured, so there is no comparison with a previous campaign.",
                "muted",
            )
        ]
    big = f"{pct(pace['progress'])} <font size=10>of {para_text(pace['label'], 80)}</font>"
    return [
        para(big, "big"),
        Spacer(1, 4),
        *(para(para_text(s)) for s in progress_lines(pace, when)),
    ]


def _chart(chart: Chart | None) -> list[Flowable]:
    """Return the chart's PNG at the frame's width with its description under it."""
    if chart is None:
        return []
    w, h = ImageReader(io.BytesIO(chart.png)).getSize()
    width = FRAME_WIDTH * CHART_SCALE
    image = Image(io.BytesIO(chart.png), width=width, height=width * h / w)
    return [Spacer(1, 6), KeepTogether([image, para(para_text(chart.alt), "small")]), Spacer(1, 6)]


def coverage_lines(c: dict[str, Any]) -> list[str]:
    """Return the coverage of the data in sentences, as the HTML page's Methodology says it."""
    posts = c["posts"]
    lines = [
        f"{num(posts)} {'post was' if posts == 1 else 'posts were'} collected for this period "
        f"({num(c['stored_posts'])} stored in all, including posts outside it)."
    ]
    if c["runs"]:
        kinds = ", ".join(f"{num(n)} {kind}" for kind, n in c["runs_by_kind"].items())
        failed = num(c["runs_failed"]) if c["runs_failed"] else "none"
        lines.append(
            f"{num(c['runs'])} collection {'run' if c['runs'] == 1 else 'runs'} started during "
            f"the period ({kinds}); {failed} failed."
        )
    else:
        lines.append(
            "No collection runs were recorded during the period: its posts came from imported "
            "archives or from runs made later."
        )
    if c["hours_checked"]:
        if c["hours_without_collect_run"]:
            first = ", ".join(c["hours_without_collect_run_list"][:5])
            lines.append(
                f"In {num(c['hours_without_collect_run'])} of the {num(c['hours_checked'])} hours "
                f"checked no collection pass started (first: {first}); posts from those hours "
                "are still collected by the next pass, as long as it runs within the search "
                "window."
            )
        else:
            lines.append(
                f"A collection pass started in every one of the {num(c['hours_checked'])} hours "
                "checked."
            )
    if c["gaps"]:
        spans = "; ".join(
            f"from {g['gap_from'] or 'an unknown time'} to {g['gap_to'] or 'an unknown time'}"
            for g in c["gaps"]
        )
        n = len(c["gaps"])
        lines.append(
            f"Collection recorded {n} {'gap' if n == 1 else 'gaps'} in which posts may be "
            f"missing: {spans} (UTC)."
        )
    else:
        lines.append("No gaps in collection were recorded.")
    lacking = c["posts_without_followers"]
    lines.append(
        f"{num(lacking)} {'post' if lacking == 1 else 'posts'} "
        f"({pct(lacking / posts if posts else 0)}) lacked a follower count for their author "
        "and add nothing to potential impressions or reach, which are therefore if anything "
        "understated."
    )
    gone = c.get("gone_posts", 0)
    if gone:
        lines.append(
            f"{num(gone)} counted {'post has' if gone == 1 else 'posts have'} since been "
            "deleted or withheld on X: they stay in every figure (posted and seen during the "
            "period) but are no longer shown or quoted, and their text has been erased."
        )
    if c["impressions_coverage"]:
        lines.append(
            f"X reported impressions for {pct(c['impressions_coverage'])} of the posts; the "
            "impressions figure covers only those."
        )
    else:
        lines.append(
            "X reported impressions for none of these posts, so no impressions figure is given."
        )
    return lines + month_use_lines(c) + moderation_lines(c)


def _methodology(report: ReportData) -> list[Flowable]:
    settings = report.settings
    tz = para_text(settings.campaign.timezone)
    short = [
        "<b>Potential impressions</b> add up every post's audience: each post, retweets "
        "included, counts its author's followers once. They measure how many times posts could "
        "have been delivered, not how many people saw them.",
        "<b>Potential reach</b> counts each account's followers once. It is an <i>upper "
        "bound</i> on the people who could have seen a post, because audiences overlap: someone "
        "following two contributors is counted twice. Reach is never summed across days: the "
        "week's reach counts each account once over the whole week, so it is less than the sum "
        "of the daily figures.",
        "<b>Engagements</b> are likes, retweets, replies and quotes of posts, as last reported. "
        "Retweets' own counts are left out, because X gives a retweet the counts of its "
        "original.",
        "<b>Impressions</b> are views as X itself reports them, available only for posts where "
        "X reported them (it has done so since 2022); nothing is estimated for the others.",
        f"A <b>day</b> is a local date in {tz} time, summer time included.",
    ]
    out: list[Flowable] = [
        para("Methodology", "h2"),
        para(
            "Every figure here is computed the same way in every report and in "
            "<font name='Courier'>hashmon stats</font>. In short:"
        ),
        bullets(short),
        para("Definitions", "h3"),
    ]
    for _key, name, text in definitions(settings):
        out.append(para(f"<b>{para_text(name)}</b>: {para_text(text)}"))
        out.append(Spacer(1, 3))
    out += [
        para("Coverage of the data", "h3"),
        bullets([para_text(line) for line in coverage_lines(report.coverage)]),
    ]
    return out


# --- the document -----------------------------------------------------------------------


def pdf_flowables(report: ReportData, charts: list[Chart]) -> list[Flowable]:
    """Return the report's content, in the HTML page's order."""
    settings = report.settings
    c = settings.campaign
    by_name = {chart.name: chart for chart in charts}
    generated = local_stamp(report.generated_at, c.tz)
    meta = " · ".join(
        [
            para_text(settings.campaign.display_terms(), 200),
            *([f"“{para_text(c.theme, 200)}”"] if c.theme else []),
            f"local dates in {para_text(c.timezone)} time",
            f"generated {para_text(generated)}",
        ]
    )
    out: list[Flowable] = []
    if report.kind == "daily":
        assert report.day is not None
        position = day_position(report)
        kicker = "Daily report" + (f" · {position}" if position else "")
        out += [
            para(f"{para_text(c.name, 120)} · {kicker}", "kicker"),
            para(para_text(long_day(report.day)), "h1"),
            para(meta, "muted"),
            para("The day", "h2"),
        ]
        out += [para(para_text(note), "lead") for note in report_notices(report)]
        out.append(headline_table(report.totals))
        if report.to_date is not None:
            span = (
                f"{long_day(report.to_date['days'][0]['date'])} to "
                f"{long_day(report.to_date['days'][-1]['date'])}, as one period."
            )
            out += [
                para("Campaign to date", "h2"),
                para(span, "muted"),
                Spacer(1, 4),
                headline_table(report.to_date["totals"]),
                Spacer(1, 8),
                *_progress(report.pace, progress_when(report)),
                *_chart(by_name.get("pace")),
            ]
        else:
            out.append(
                para(
                    f"The campaign starts on {long_day(c.start)}; there is no campaign total yet.",
                    "muted",
                )
            )
        out += _chart(by_name.get("daily-posts"))
    else:
        t = report.totals
        first, last = long_day(report.days[0]), long_day(report.days[-1])
        lead = para_text(summary_lead(report))
        label = report.pace["label"]
        out += [
            para(f"{para_text(c.name, 120)} · Impact summary", "kicker"),
            para(f"{para_text(c.name, 120)}: {first} to {last}", "h1"),
            para(meta, "muted"),
            Spacer(1, 6),
            *(para(para_text(note), "lead") for note in report_notices(report)),
            para(lead, "lead"),
            para("The campaign in figures", "h2"),
            headline_table(t, matches=True),
            para(f"Against {para_text(label, 120) if label else 'the baseline'}", "h2"),
            *_progress(report.pace, progress_when(report)),
            *_chart(by_name.get("pace")),
            para("Day by day", "h2"),
            *days_table(report.figures["days"], report.pace, t, "The campaign"),
            *_chart(by_name.get("daily-posts")),
        ]
    out += [
        para("When people posted", "h2"),
        *_chart(by_name.get("hours")),
        *kinds_and_others(report),
        para("Top posts of the day" if report.kind == "daily" else "Top posts", "h2"),
        para(
            "By engagements; retweets are not listed, their engagements belong to the original.",
            "muted",
        ),
        Spacer(1, 4),
        posts_table(report.top_posts),
        para("Top contributors of the day" if report.kind == "daily" else "Top contributors", "h2"),
        *(_chart(by_name.get("contributors")) if report.top_contributors else []),
        contributors_table(report.top_contributors),
        para("Hashtags used alongside", "h2"),
        hashtags_table(report.top_hashtags, report.totals["posts"]),
    ]
    if report.kind == "daily" and report.to_date is not None:
        out += [
            para("Day by day", "h2"),
            *days_table(report.to_date["days"], report.pace, report.to_date["totals"], "To date"),
        ]
    out += _methodology(report)
    command = "hashmon stats --json" + (
        f" --from {report.day.isoformat()} --to {report.day.isoformat()}" if report.day else ""
    )
    period = "" if report.day else " for the campaign window"
    out += [
        Spacer(1, 10),
        para(
            "Made by hashmon from the posts collected. Figures match "
            f"<font name='Courier'>{command}</font>{period}.",
            "muted",
        ),
    ]
    return out


def pdf_bytes(report: ReportData, charts: list[Chart]) -> bytes:
    """Return the report as a PDF document."""
    load_fonts()
    buf = io.BytesIO()
    top = MARGIN + (28 if report.simulated else 0)  # room for the banner
    stamp = report.generated_at.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%SZ")
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=top,
        bottomMargin=MARGIN,
        title=report_title(report),
        author="hashmon",
        creator="hashmon",
        subject=plural(report.totals["posts"], "post"),
        invariant=1,
    )
    decorate = page_decorator(report)

    canvasmaker = type("ReportCanvas", (NumberedCanvas,), {"stamp": stamp})

    doc.build(
        pdf_flowables(report, charts),
        onFirstPage=decorate,
        onLaterPages=decorate,
        canvasmaker=canvasmaker,
    )
    return buf.getvalue()


def write_pdf(report: ReportData, charts: list[Chart], path: Path) -> Path:
    """Write the report's PDF to ``path`` and return it."""
    return write_file(path, pdf_bytes(report, charts))

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
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from monitor.times import local_stamp
from reports.charts import Chart, plural
from reports.definitions import definitions
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
from reports.wording import progress_lines, progress_when, report_notices, summary_lead

MARGIN = 18 * mm
FRAME_WIDTH = A4[0] - 2 * MARGIN
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")
SHADE = colors.HexColor("#eeeeee")
CHART_SCALE = 0.85  # of the text's width: charts keep their labels readable and leave room
POST_CLIP = 600  # characters of a post on paper: a long post never outgrows a page
FONT, BOLD = "HashmonSans", "HashmonSans-Bold"
MISSING = "\u25a1"  # □ in place of a character the font has no glyph for


# --- text -------------------------------------------------------------------------------


def clip(value: str | None, limit: int) -> str:
    """Return text cut to ``limit`` characters with an ellipsis."""
    if not value:
        return ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def para_text(value: Any, limit: int | None = None) -> str:
    """Return any text as Paragraph markup that shows it exactly as written, never as markup.

    Control and format characters (escape sequences, bidi overrides) are dropped and
    runs of whitespace, line breaks included, become one space; then ``&``, ``<`` and
    ``>`` are escaped, so ``<b>`` or ``&amp;`` in a post prints as those characters.
    """
    text = "" if value is None else str(value)
    if limit is not None:
        text = text[: limit * 4]
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    text = " ".join(text.split())
    if limit is not None:
        text = clip(text, limit)
    # a character the font cannot draw (emoji, CJK) would print as nothing: show a mark
    known = _glyphs()
    text = "".join(ch if ord(ch) in known else MISSING for ch in text)
    return escape(text)


@cache
def _glyphs() -> frozenset[int]:
    """Return the code points both text fonts can draw."""
    _fonts()
    regular = pdfmetrics.getFont(FONT).face.charToGlyph
    bold = pdfmetrics.getFont(BOLD).face.charToGlyph
    return frozenset(regular.keys() & bold.keys())


@cache
def _fonts() -> None:
    """Register DejaVu Sans (shipped with matplotlib) once per process."""
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK)
    return {
        "body": body,
        "lead": ParagraphStyle("lead", body, fontSize=10.5, leading=15, spaceAfter=6),
        "kicker": ParagraphStyle("kicker", body, fontSize=9, textColor=MUTED, spaceAfter=2),
        "h1": ParagraphStyle("h1", body, fontName=BOLD, fontSize=18, leading=22, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2",
            body,
            fontName=BOLD,
            fontSize=13,
            leading=16,
            spaceBefore=12,
            spaceAfter=6,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3",
            body,
            fontName=BOLD,
            fontSize=10.5,
            leading=13,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "muted": ParagraphStyle("muted", body, fontSize=8.5, leading=11, textColor=MUTED),
        "cell": ParagraphStyle("cell", body, fontSize=8.5, leading=10.5),
        "num": ParagraphStyle("num", body, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", body, fontName=BOLD, fontSize=7, leading=9),
        "headnum": ParagraphStyle(
            "headnum", body, fontName=BOLD, fontSize=7, leading=9, alignment=TA_RIGHT
        ),
        "small": ParagraphStyle("small", body, fontSize=7.5, leading=9.5, textColor=MUTED),
        "card_value": ParagraphStyle("card_value", body, fontName=BOLD, fontSize=14, leading=17),
        "card_label": ParagraphStyle("card_label", body, fontName=BOLD, fontSize=8.5, leading=10),
        "big": ParagraphStyle("big", body, fontName=BOLD, fontSize=24, leading=28),
    }


def _p(markup: str, style: str = "body") -> Paragraph:
    return Paragraph(markup, _styles()[style])


# --- pieces -----------------------------------------------------------------------------


def _table(
    header: list[str],
    rows: list[list[Any]],
    widths: list[float],
    numeric: list[bool],
    total: bool = False,
    padding: float = 3,
) -> Table:
    """Return a ruled table: header shaded and repeated on each page, numbers at the right.

    Cells are markup strings (already escaped) or flowables.
    """
    head = [_p(h, "headnum" if n else "head") for h, n in zip(header, numeric, strict=True)]
    body = [
        [
            c if isinstance(c, Flowable | list) else _p(c, "num" if n else "cell")
            for c, n in zip(row, numeric, strict=True)
        ]
        for row in rows
    ]
    table = Table([head, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), padding),
        ("RIGHTPADDING", (0, 0), (-1, -1), padding),
    ]
    if total and rows:
        style.append(("BACKGROUND", (0, -1), (-1, -1), SHADE))
    table.setStyle(TableStyle(style))
    return table


def _bold_row(row: list[str]) -> list[str]:
    return [f"<b>{c}</b>" if c else c for c in row]


def _headline(totals: dict[str, Any], matches: bool = False) -> Table:
    """Return the headline figures as cards, four to a row, like the HTML page's."""
    cards = [
        (
            num(totals["posts"]),
            "Posts",
            f"{num(totals['originals'])} originals, {num(totals['retweets'])} retweets",
        ),
        (num(totals["contributors"]), "Contributors", "distinct accounts"),
        (
            num(totals["potential_impressions"]),
            "Potential impressions",
            "deliveries to followers' timelines",
        ),
        (
            num(totals["potential_reach"]),
            "Potential reach",
            "accounts' followers, each once; an upper bound",
        ),
        (num(totals["engagements"]), "Engagements", "likes, retweets, replies, quotes"),
        (pct(totals["engagement_rate"]), "Engagement rate", "engagements ÷ potential impressions"),
        (
            num(totals["impressions"]),
            "Impressions reported by X",
            f"from {pct(totals['impressions_coverage'])} of posts",
        ),
    ]
    if matches:
        cards += [
            (num(totals["hashtag_posts"]), "Posts with the hashtag", ""),
            (num(totals["mention_posts"]), "Posts mentioning the campaign", ""),
        ]
    cells = [
        [_p(value, "card_value"), _p(label, "card_label"), _p(note, "small")]
        for value, label, note in cards
    ]
    while len(cells) % 4:
        cells.append([])
    rows = [cells[i : i + 4] for i in range(0, len(cells), 4)]
    table = Table(rows, colWidths=[FRAME_WIDTH / 4] * 4)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, 0), (-1, -1), 1.2, INK),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def _progress(pace: dict[str, Any], when: str) -> list[Flowable]:
    if pace["baseline"] is None:
        return [
            _p(
                "No baseline is configured, so there is no comparison with a previous campaign.",
                "muted",
            )
        ]
    big = f"{pct(pace['progress'])} <font size=10>of {para_text(pace['label'], 80)}</font>"
    return [_p(big, "big"), Spacer(1, 4), *(_p(para_text(s)) for s in progress_lines(pace, when))]


def _chart(chart: Chart | None) -> list[Flowable]:
    """Return the chart's PNG at the frame's width with its description under it."""
    if chart is None:
        return []
    w, h = ImageReader(io.BytesIO(chart.png)).getSize()
    width = FRAME_WIDTH * CHART_SCALE
    image = Image(io.BytesIO(chart.png), width=width, height=width * h / w)
    return [Spacer(1, 6), KeepTogether([image, _p(para_text(chart.alt), "small")]), Spacer(1, 6)]


def _days_table(
    days: list[dict[str, Any]], pace: dict[str, Any], totals: dict[str, Any], label: str
) -> list[Flowable]:
    by_date = {row["date"]: row for row in pace["days"]}
    baseline = pace["baseline"] is not None
    header = [
        "Day",
        "Posts",
        "Contributors",
        "Potential impressions",
        "Potential reach",
        "Engagements",
    ]
    if baseline:
        header += [
            f"Cumulative {metric_name(pace['metric'])}",
            f"% of {para_text(pace['label'], 40)}",
        ]
    rows = []
    for d in days:
        row = [
            short_day(d["date"]),
            *(
                num(d[k])
                for k in (
                    "posts",
                    "contributors",
                    "potential_impressions",
                    "potential_reach",
                    "engagements",
                )
            ),
        ]
        p = by_date.get(d["date"])
        if baseline:
            row += [num(p["cumulative"]), pct(p["progress"])] if p else ["", ""]
        rows.append(row)
    total = [
        label,
        *(
            num(totals[k])
            for k in ("posts", "contributors", "potential_impressions", "potential_reach")
        ),
        num(totals["engagements"]),
    ]
    if baseline:
        total += ["", pct(totals.get("baseline_progress"))]
    rows.append(_bold_row(total))
    n = len(header)
    # "Mon 12 Jun", then the figures; "Engagements", the longest header word, a little wider
    first, engagements = 54.0, 62.0
    rest = (FRAME_WIDTH - first - engagements) / (n - 2)
    widths = [first, *[rest] * 4, engagements, *[rest] * (n - 6)]
    return [
        _table(header, rows, widths, [False] + [True] * (n - 1), total=True, padding=2),
        Spacer(1, 3),
        _p(
            "The total row treats the days as one period: contributors and potential reach "
            "count each account once, so they are less than the sum of the days above them.",
            "small",
        ),
    ]


def _posts_table(posts: list[dict[str, Any]]) -> Flowable:
    if not posts:
        return _p("No posts (other than retweets) in this period.", "muted")
    rows = []
    for p in posts:
        text = [_p(para_text(p["text"], POST_CLIP), "cell")]
        if p.get("url"):
            text.append(_p(para_text(p["url"]), "small"))
        who = []
        if p.get("name"):
            who.append(para_text(p["name"], 60))
        if p.get("username"):
            who.append(f"<font color='#555555'>@{para_text(p['username'], 40)}</font>")
        counts = " · ".join(
            [
                plural(p["like_count"] or 0, "like"),
                plural(p["retweet_count"] or 0, "retweet"),
                plural(p["reply_count"] or 0, "reply", "replies"),
                plural(p["quote_count"] or 0, "quote"),
            ]
        )
        rows.append(
            [
                str(p["rank"]),
                text,
                "<br/>".join(who) or "<font color='#555555'>unknown account</font>",
                para_text(p["created_at_local"]),
                [_p(num(p["engagements"]), "num"), _p(counts, "small")],
            ]
        )
    widths = [20, 232, 92, 58, FRAME_WIDTH - 402]
    return _table(
        ["#", "Post", "Author", "Posted", "Engagements"],
        rows,
        widths,
        [True, False, False, False, True],
    )


def _contributors_table(rows_in: list[dict[str, Any]]) -> Flowable:
    if not rows_in:
        return _p("No contributors in this period.", "muted")
    rows = []
    for c in rows_in:
        who = (
            f"@{para_text(c['username'], 40)}"
            if c.get("username")
            else f"account {para_text(c['author_id'])}"
        )
        if c.get("name"):
            who += f"<br/><font size=7.5 color='#555555'>{para_text(c['name'], 60)}</font>"
        rows.append(
            [
                str(c["rank"]),
                who,
                num(c["posts"]),
                num(c["potential_impressions"]),
                num(c["engagements"]),
            ]
        )
    widths = [20, FRAME_WIDTH - 20 - 3 * 85, 85, 85, 85]
    return _table(
        ["#", "Account", "Posts", "Potential impressions", "Engagements"],
        rows,
        widths,
        [True, False, True, True, True],
    )


def _hashtags_table(rows_in: list[dict[str, Any]], posts: int) -> Flowable:
    if not rows_in:
        return _p("No other hashtags were used in this period.", "muted")
    rows = [
        [
            str(h["rank"]),
            f"#{para_text(h['hashtag'], 60)}",
            num(h["posts"]),
            pct(h["posts"] / posts if posts else 0),
        ]
        for h in rows_in
    ]
    widths = [20, FRAME_WIDTH - 20 - 2 * 90, 90, 90]
    return _table(
        ["#", "Hashtag", "Posts", "Share of posts"], rows, widths, [True, False, True, True]
    )


def _kinds_and_others(report: ReportData) -> list[Flowable]:
    names = {"original": "Originals", "retweet": "Retweets", "reply": "Replies", "quote": "Quotes"}
    kinds = _table(
        ["Kind of post", "Posts", "Share"],
        [[names[k["kind"]], num(k["posts"]), pct(k["share"])] for k in report.kinds],
        [FRAME_WIDTH * 0.2, FRAME_WIDTH * 0.12, FRAME_WIDTH * 0.12],
        [False, True, True],
    )
    vs_rows = []
    for g in report.campaign_vs_others:
        who = (
            f"The campaign's own ({para_text(g['label'], 80)})"
            if g["group"] == "campaign"
            else "Everyone else"
        )
        vs_rows.append(
            [who, num(g["posts"]), num(g["potential_impressions"]), num(g["engagements"])]
        )
    vs = _table(
        ["Whose posts", "Posts", "Potential impressions", "Engagements"],
        vs_rows,
        [FRAME_WIDTH * 0.4, FRAME_WIDTH * 0.15, FRAME_WIDTH * 0.25, FRAME_WIDTH * 0.2],
        [False, True, True, True],
    )
    return [
        _p("Kinds of post", "h3"),
        kinds,
        _p("The campaign's own posts and everyone else's", "h3"),
        vs,
    ]


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
    if c["impressions_coverage"]:
        lines.append(
            f"X reported impressions for {pct(c['impressions_coverage'])} of the posts; the "
            "impressions figure covers only those."
        )
    else:
        lines.append(
            "X reported impressions for none of these posts, so no impressions figure is given."
        )
    return lines


def _bullets(items: list[str]) -> ListFlowable:
    return ListFlowable(
        [ListItem(_p(i), leftIndent=12) for i in items],
        bulletType="bullet",
        start="•",
        leftIndent=12,
        bulletFontName=FONT,
        bulletFontSize=8,
    )


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
        _p("Methodology", "h2"),
        _p(
            "Every figure here is computed the same way in every report and in "
            "<font name='Courier'>hashmon stats</font>. In short:"
        ),
        _bullets(short),
        _p("Definitions", "h3"),
    ]
    for _key, name, text in definitions(settings):
        out.append(_p(f"<b>{para_text(name)}</b>: {para_text(text)}"))
        out.append(Spacer(1, 3))
    out += [
        _p("Coverage of the data", "h3"),
        _bullets([para_text(line) for line in coverage_lines(report.coverage)]),
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
            _p(f"{para_text(c.name, 120)} · {kicker}", "kicker"),
            _p(para_text(long_day(report.day)), "h1"),
            _p(meta, "muted"),
            _p("The day", "h2"),
        ]
        out += [_p(para_text(note), "lead") for note in report_notices(report)]
        out.append(_headline(report.totals))
        if report.to_date is not None:
            span = (
                f"{long_day(report.to_date['days'][0]['date'])} to "
                f"{long_day(report.to_date['days'][-1]['date'])}, as one period."
            )
            out += [
                _p("Campaign to date", "h2"),
                _p(span, "muted"),
                Spacer(1, 4),
                _headline(report.to_date["totals"]),
                Spacer(1, 8),
                *_progress(report.pace, "so far"),
                *_chart(by_name.get("pace")),
            ]
        else:
            out.append(
                _p(
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
            _p(f"{para_text(c.name, 120)} · Impact summary", "kicker"),
            _p(f"{para_text(c.name, 120)}: {first} to {last}", "h1"),
            _p(meta, "muted"),
            Spacer(1, 6),
            *(_p(para_text(note), "lead") for note in report_notices(report)),
            _p(lead, "lead"),
            _p("The campaign in figures", "h2"),
            _headline(t, matches=True),
            _p(f"Against {para_text(label, 120) if label else 'the baseline'}", "h2"),
            *_progress(report.pace, progress_when(report)),
            *_chart(by_name.get("pace")),
            _p("Day by day", "h2"),
            *_days_table(report.figures["days"], report.pace, t, "The campaign"),
            *_chart(by_name.get("daily-posts")),
        ]
    out += [
        _p("When people posted", "h2"),
        *_chart(by_name.get("hours")),
        *_kinds_and_others(report),
        _p("Top posts of the day" if report.kind == "daily" else "Top posts", "h2"),
        _p(
            "By engagements; retweets are not listed, their engagements belong to the original.",
            "muted",
        ),
        Spacer(1, 4),
        _posts_table(report.top_posts),
        _p("Top contributors of the day" if report.kind == "daily" else "Top contributors", "h2"),
        *(_chart(by_name.get("contributors")) if report.top_contributors else []),
        _contributors_table(report.top_contributors),
        _p("Hashtags used alongside", "h2"),
        _hashtags_table(report.top_hashtags, report.totals["posts"]),
    ]
    if report.kind == "daily" and report.to_date is not None:
        out += [
            _p("Day by day", "h2"),
            *_days_table(report.to_date["days"], report.pace, report.to_date["totals"], "To date"),
        ]
    out += _methodology(report)
    command = "hashmon stats --json" + (
        f" --from {report.day.isoformat()} --to {report.day.isoformat()}" if report.day else ""
    )
    period = "" if report.day else " for the campaign window"
    out += [
        Spacer(1, 10),
        _p(
            "Made by hashmon from the posts collected. Figures match "
            f"<font name='Courier'>{command}</font>{period}.",
            "muted",
        ),
    ]
    return out


def _page_decorator(report: ReportData) -> Any:
    """Return the function that draws each page's banner (if simulated) and footer."""
    title = clip(" ".join(report_title(report).split()), 90)
    generated = local_stamp(report.generated_at, report.settings.campaign.tz)
    width, height = A4

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        if report.simulated:
            box_h = 22
            y = height - MARGIN + 4
            canvas.setFillColor(colors.HexColor("#e8e8e8"))
            canvas.setStrokeColor(INK)
            canvas.setLineWidth(2)
            canvas.rect(MARGIN, y, FRAME_WIDTH, box_h, fill=1, stroke=1)
            canvas.setFillColor(INK)
            canvas.setFont(BOLD, 11)
            canvas.drawCentredString(width / 2, y + 7, SIMULATED_BANNER.upper())
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN / 2, f"{title} · generated {generated} by hashmon")
        canvas.restoreState()

    return decorate


class _NumberedCanvas(Canvas):
    """A canvas that holds its pages back to number them "Page 3 of 7" once all are laid out.

    The creation date is set to ``stamp``, when the report was generated, so the same
    report always gives the same bytes.
    """

    stamp = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []
        stamp = self.stamp
        self._doc.setDateFormatter(lambda *_: stamp)

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(A4[0] - MARGIN, MARGIN / 2, f"Page {self._pageNumber} of {pages}")
            super().showPage()
        super().save()


def pdf_bytes(report: ReportData, charts: list[Chart]) -> bytes:
    """Return the report as a PDF document."""
    _fonts()
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
    decorate = _page_decorator(report)

    canvasmaker = type("ReportCanvas", (_NumberedCanvas,), {"stamp": stamp})

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

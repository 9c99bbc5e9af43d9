"""Paper for reports: ReportLab fonts, paragraph styles, safe paragraph text, ruled tables
and the page furniture (banner, footer, "Page N of M").

Text is set in DejaVu Sans, which matplotlib ships, so accents, Greek, Cyrillic and most
symbols print; a character it has no glyph for (emoji, CJK) prints as a white square.
User text passes through ``para_text`` before it reaches a Paragraph, whose markup would
otherwise read ``<`` and ``&`` as tags and entities.
"""

from __future__ import annotations

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
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from monitor.times import local_stamp
from reports.format import SIMULATED_BANNER, report_title, shareable_notice
from reports.report_data import ReportData

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
    load_fonts()
    regular = pdfmetrics.getFont(FONT).face.charToGlyph
    bold = pdfmetrics.getFont(BOLD).face.charToGlyph
    return frozenset(regular.keys() & bold.keys())


@cache
def load_fonts() -> None:
    """Register DejaVu Sans (shipped with matplotlib) once per process."""
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def styles() -> dict[str, ParagraphStyle]:
    load_fonts()
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


def para(markup: str, style: str = "body") -> Paragraph:
    return Paragraph(markup, styles()[style])


# --- pieces -----------------------------------------------------------------------------


def ruled_table(
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
    head = [para(h, "headnum" if n else "head") for h, n in zip(header, numeric, strict=True)]
    body = [
        [
            c if isinstance(c, Flowable | list) else para(c, "num" if n else "cell")
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


def bold_row(row: list[str]) -> list[str]:
    return [f"<b>{c}</b>" if c else c for c in row]


def bullets(items: list[str]) -> ListFlowable:
    return ListFlowable(
        [ListItem(para(i), leftIndent=12) for i in items],
        bulletType="bullet",
        start="•",
        leftIndent=12,
        bulletFontName=FONT,
        bulletFontSize=8,
    )


def page_decorator(report: ReportData) -> Any:
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
        if report.shareable:
            canvas.drawString(MARGIN, MARGIN / 2 + 9, shareable_notice(report.settings))
        canvas.restoreState()

    return decorate


class NumberedCanvas(Canvas):
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

"""Hostile text through every output: nothing live in HTML, CSV, XLSX, PDF, JSON or the
terminal table of ``hashmon stats``.

tests/test_render.py covers hostile post texts, usernames and names in HTML, CSV, XLSX
and JSON; this file adds what it leaves out: hostile *config* text (campaign name,
theme, hashtags, accounts, supporters, baseline label: pasted by a person, shown on
every page), mathtext and markup syntaxes, the PDF (no actions, scripts or links) and
the terminal (no rich markup, escape sequences or bidi overrides).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import json
import re
import zlib
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine

from jobs.cli import cli
from monitor.settings import Baseline, Campaign, Reports, Settings
from reports.build import write_daily_report, write_summary_report
from tests import reportdata as rd
from tests.test_render import _assert_inert_html, _assert_neutralised

NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
# what a person might paste into the config, and what an attacker would
HOSTILE_CONFIG = [
    "<script>alert('name')</script>",
    "[/bold] [link=javascript:alert(1)]click[/link]",
    "\x1b]8;;http://evil.example\x07link\x1b]8;;\x07\x1b[2J",
    "=cmd|' /C calc'!A0",
    "$\\frac{1}{0}$ costs $5",
    "\u202eevil\u202c",
    "javascript:alert(1)",
]
# PDF names that run something, open something or submit something
PDF_LIVE = (
    b"/JavaScript",
    b"/JS",
    b"/Launch",
    b"/OpenAction",
    b"/AA",
    b"/URI",
    b"/SubmitForm",
    b"/ImportData",
    b"/EmbeddedFile",
    b"/RichMedia",
    b"/XFA",
    b"/GoToR",
)


def hostile_settings(**reports: object) -> Settings:
    name, markup, escapes, formula, math, bidi, js = HOSTILE_CONFIG
    return Settings(
        # config validation now refuses such terms (issue 12.6); copied in unvalidated, the
        # reports must still show them inert (defence in depth)
        campaign=Campaign(
            name=name + " " + math,
            theme=markup + " " + escapes,
            supporters=(bidi, formula),
        ).model_copy(
            update={"hashtags": ("IMHAW17", formula, math), "accounts": ("first1001days", js)}
        ),
        baseline=Baseline(label=formula + " " + markup, value=1000),
        reports=Reports(top_n=20, **reports),
    )


@pytest.fixture
def hostile(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    rd.build(sqlite_engine, tmp_path, rd.hostile_pages(), "hostile.jsonl")
    return sqlite_engine


def pdf_bytes(path: Path) -> bytes:
    """Return a PDF's bytes with every Flate stream inflated (ASCII85 decoded first), so
    names inside show."""
    raw = path.read_bytes()
    out = [raw]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\n?endstream", raw, re.S):
        data = match.group(1)
        if data.rstrip().endswith(b"~>"):  # ASCII85 around the Flate data (ReportLab)
            with contextlib.suppress(ValueError):
                data = base64.a85decode(data.rstrip().removeprefix(b"<~").removesuffix(b"~>"))
        with contextlib.suppress(zlib.error):  # not Flate (an image, say): nothing to read
            out.append(zlib.decompress(data))
    return b"\n".join(out)


@pytest.mark.slow
def test_hostile_config_and_post_text_is_inert_in_every_report_format(
    hostile: Engine, tmp_path: Path
) -> None:
    settings = hostile_settings()
    out = tmp_path / "out"
    files = write_summary_report(hostile, settings, out, now=NOW)
    files += write_daily_report(hostile, settings, dt.date(2017, 6, 12), out, now=NOW)
    assert {p.parent for p in files} == {out}  # a hostile name never escapes the folder
    pages = [p for p in files if p.suffix == ".html"]
    assert len(pages) == 2
    for page in pages:
        html = page.read_text(encoding="utf-8")
        _assert_inert_html(html)
        assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    for stem in ("summary-", "daily-2017-06-12"):
        cells: list[str] = []
        for path in out.glob(f"{stem}*.csv"):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                cells += [c for row in csv.reader(fh) for c in row]
        _assert_neutralised(cells)
        (book,) = out.glob(f"{stem}*.xlsx")
        xcells = [c for ws in load_workbook(book) for row in ws.iter_rows() for c in row]
        assert not [c.coordinate for c in xcells if c.data_type == "f"]
        _assert_neutralised([c.value for c in xcells if isinstance(c.value, str)], xml=True)
    for pdf in (p for p in files if p.suffix == ".pdf"):
        body = pdf_bytes(pdf)
        assert body.startswith(b"%PDF-") and b" Tj" in body  # its text streams were read
        live = [name for name in PDF_LIVE if re.search(re.escape(name) + rb"\b", body)]
        assert live == [], (pdf.name, live)
        # markup in posts, names and settings prints as the characters written
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(pdf).pages)
        for shown in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "@SUM(A1)"):
            assert shown in text, (pdf.name, shown)
        assert '=HYPERLINK("http://evil")' in text and "gnp.exe" in text
        assert "\u202e" not in text  # a bidi override never reorders the page
        assert "<script>alert('name')</script>" in text  # the campaign's name, as set
    for data_file in (p for p in files if p.suffix == ".json"):
        data = orjson.loads(data_file.read_bytes())  # valid JSON whatever the text
        assert data["figures"]["campaign"]["name"] == settings.campaign.name  # data, as given
        assert data["figures"]["baseline"]["label"] == settings.baseline.label


def _terminal(args: list[str], config: Path) -> tuple[int, str]:
    # FORCE_COLOR makes rich write for a terminal: styles, and hyperlinks if markup made any
    result = CliRunner().invoke(
        cli, ["--config", str(config), *args], env={"FORCE_COLOR": "1", "COLUMNS": "200"}
    )
    return result.exit_code, result.output


def test_the_stats_table_shows_hostile_config_text_as_text_never_markup_or_escapes(
    hostile: Engine, tmp_path: Path
) -> None:
    name, markup, escapes, formula, _math, bidi, _js = HOSTILE_CONFIG
    config = tmp_path / "hostile.toml"
    config.write_text(
        "[campaign]\n"
        f"name = {json.dumps(markup + ' ' + escapes + ' ' + bidi)}\n"
        "[baseline]\n"
        f"label = {json.dumps(formula + ' ' + name + ' [red]x[/red]')}\n"
        "value = 1000\n"
        "[database]\n"
        f"url = {json.dumps(str(hostile.url))}\n",
        encoding="utf-8",
    )
    code, shown = _terminal(["stats"], config)
    assert code == 0, shown
    assert "[/bold] [link=javascript:alert(1)]click[/link]" in shown  # as written
    assert "[red]x[/red]" in shown and "<script>" in shown
    # the only escape sequences are rich's own colours: no hyperlink, no screen clearing
    sequences = set(re.findall(r"\x1b(\[[0-9;]*[A-Za-z]|\]|.)", shown))
    assert all(s.startswith("[") and s.endswith("m") for s in sequences), sequences
    assert "\u202e" not in shown and "\x07" not in shown
    code, out = _terminal(["stats", "--json"], config)
    assert code == 0
    assert json.loads(out)["campaign"]["name"] == markup + " " + escapes + " " + bidi

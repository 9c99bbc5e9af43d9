"""The summary page in a real headless Chromium: it renders, every chart decodes, the console
stays silent, and a screenshot is kept in test-artifacts/summary.png to look at.

Chromium is driven from its command line only (``--dump-dom``, ``--screenshot``,
console messages through ``--enable-logging=stderr``): no test-only script is ever
put into a report. The page's Content-Security-Policy turns any attempt to load or run
something into a console message, so a silent console also means nothing external.
Without Chromium the test skips, except with CI=true, where it fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.settings import Settings
from reports.build import write_daily_report, write_summary_report
from tests import reportdata as rd
from tests.test_render import PageScan

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI: apt-get install -y chromium")
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    return found


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once, offline-quiet, with console messages on stderr."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _decoded_png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) of a PNG after inflating its pixels: a real decode, no Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour = header[:4]
    row = 1 + (width * CHANNELS[colour] * depth + 7) // 8  # filter byte + samples
    assert len(zlib.decompress(idat)) == height * row
    return width, height


@pytest.fixture
def campaign(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    rd.build(sqlite_engine, tmp_path, rd.known_pages(), "known.jsonl")
    rd.build(sqlite_engine, tmp_path, rd.bulk_pages(2_000, Settings(), seed=7), "bulk.jsonl")
    return sqlite_engine


def test_the_summary_opens_in_chromium_with_every_chart_and_a_silent_console(
    campaign: Engine, tmp_path: Path
) -> None:
    chromium = _chromium()
    out = tmp_path / "reports"
    write_summary_report(campaign, Settings(), out, simulated=True, now=NOW)
    page = (out / "summary-IMHAW17.html").as_uri()

    dumped = _run(chromium, tmp_path / "profile-dom", "--dump-dom", page)
    assert _console(dumped.stderr) == []
    scan = PageScan(dumped.stdout)
    images = [a for tag, a in scan.tags if tag == "img"]
    assert len(images) == 4
    for img in images:
        src, alt = img["src"] or "", img.get("alt") or ""
        assert src.startswith("data:image/png;base64,")
        width, height = _decoded_png_size(base64.b64decode(src.split(",", 1)[1]))
        assert width > 0 and height > 0
        assert len(alt) > 20
    assert "Simulated data — not real posts" in "".join(scan.text)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "summary.png"
    shot.unlink(missing_ok=True)
    taken = _run(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,3000",
        "--hide-scrollbars",
        page,
    )
    assert _console(taken.stderr) == []
    assert _decoded_png_size(shot.read_bytes()) == (1280, 3000)


def test_hostile_posts_stay_text_in_chromium(sqlite_engine: Engine, tmp_path: Path) -> None:
    chromium = _chromium()
    rd.build(sqlite_engine, tmp_path, rd.hostile_pages(), "hostile.jsonl")
    out = tmp_path / "reports"
    write_daily_report(sqlite_engine, Settings(), dt.date(2017, 6, 12), out, now=NOW)
    dumped = _run(
        chromium, tmp_path / "profile", "--dump-dom", (out / "daily-2017-06-12.html").as_uri()
    )
    # a script that ran, or an injected tag that tried to load, would log to the console
    assert _console(dumped.stderr) == []
    scan = PageScan(dumped.stdout)
    assert not [tag for tag, _ in scan.tags if tag == "script"]
    assert not [a for _, attrs in scan.tags for a in attrs if a.startswith("on")]
    assert "<script>alert(1)</script>" in "".join(scan.text)  # shown as text


class _Rows(HTMLParser):
    """The rows a page marks with ``data-supporter`` or ``data-decision-maker``, as the
    text of their cells, and the headings inside the decision makers section in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[tuple[str, list[str]]]] = {"supporter": [], "maker": []}
        self.roles: list[str] = []
        self.silent: list[str] = []
        self._row: tuple[str, str, list[str]] | None = None
        self._cell: list[str] | None = None
        self._section: str | None = None
        self._in: str | None = None  # "h3" or "li" while inside one of interest
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id")
        elif tag == "tr" and a.get("data-supporter"):
            self._row = ("supporter", a["data-supporter"] or "", [])
        elif tag == "tr" and a.get("data-decision-maker"):
            self._row = ("maker", a["data-decision-maker"] or "", [])
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif (tag == "h3" and self._section == "decision-makers") or (
            tag == "li" and self._section == "supporters"
        ):
            self._in, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[2].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            kind, name, cells = self._row
            self.rows[kind].append((name, cells))
            self._row = None
        elif tag == self._in:
            (self.roles if tag == "h3" else self.silent).append("".join(self._text).strip())
            self._in = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in is not None:
            self._text.append(data)


def test_the_stakeholder_sections_render_in_chromium_with_the_independent_figures(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Supporters active (with days, posts, impressions, engagements) then silent, and
    decision makers by role with their status, as Chromium lays the page out; every number
    is the independent computation's (tests/test_stakeholders.py's oracle on a real archive).
    """
    from monitor.archive import import_files
    from tests.test_stakeholders import (
        LISTS,
        MAKERS_WANT,
        SEARCH,
        SETTINGS,
        SUPPORTERS_WANT,
        stakeholders_oracle,
        with_lists,
    )

    chromium = _chromium()
    import_files(sqlite_engine, [SEARCH])
    settings = with_lists(SETTINGS, LISTS / "supporters.csv", LISTS / "decision_makers.csv")
    out = tmp_path / "reports"
    write_summary_report(sqlite_engine, settings, out, now=NOW)
    page = next(out.glob("summary-*.html"))
    dumped = _run(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert _console(dumped.stderr) == []
    got = _Rows(dumped.stdout)

    want = stakeholders_oracle(
        SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, SETTINGS.campaign.start, SETTINGS.campaign.end
    )
    active = [s for s in want["supporters"] if s["posts"]]
    assert [name for name, _ in got.rows["supporter"]] == [s["name"] for s in active]
    for (_, cells), s in zip(got.rows["supporter"], active, strict=True):
        days = ", ".join(s["days_active"])
        numbers = [int(c.replace(",", "")) for c in cells[2:]]
        assert cells[1] == days
        assert numbers == [
            s["posts"],
            s["potential_impressions"],
            s["engagements"],
            s["hashtag_posts"],
        ]
    silent = [s for s in want["supporters"] if not s["posts"]]
    assert [li.split(" (@")[0] for li in got.silent] == [s["name"] for s in silent]

    # roles in list order, the engaged first within a role, each with its status
    roles = list(dict.fromkeys(m["role"] or "(no role given)" for m in want["decision_makers"]))
    assert got.roles == roles
    by_name = {m["name"]: m for m in want["decision_makers"]}
    assert sorted(name for name, _ in got.rows["maker"]) == sorted(by_name)
    for name, cells in got.rows["maker"]:
        m = by_name[name]
        status = "engaged" if m["engaged"] else "mentioned only" if m["mentioned_in"] else "not yet"
        numbers = [int(c.replace(",", "")) for c in cells[2:]]
        assert cells[1] == status
        assert numbers == [m["posts"], m["replies"], m["mentioned_in"], m["engagements"]]
    assert {c[1] for _, c in got.rows["maker"]} == {"engaged", "mentioned only", "not yet"}


def test_today_so_far_and_the_index_open_in_chromium_with_a_silent_console(
    campaign: Engine, tmp_path: Path
) -> None:
    from jobs.reporting import write_so_far

    chromium = _chromium()
    out = tmp_path / "reports"
    mid_day = dt.datetime(2017, 6, 13, 13, 0, tzinfo=dt.UTC)  # 14:00 BST on day 2
    assert write_so_far(Settings(), campaign, now=mid_day, out_dir=out) is not None

    today = _run(chromium, tmp_path / "p1", "--dump-dom", (out / "today.html").as_uri())
    assert _console(today.stderr) == []
    scan = PageScan(today.stdout)
    images = [a for tag, a in scan.tags if tag == "img"]
    assert len(images) == 4
    for img in images:
        width, height = _decoded_png_size(base64.b64decode((img["src"] or "").split(",", 1)[1]))
        assert width > 0 and height > 0
    assert "So far today, up to 14:00 BST" in " ".join(" ".join(scan.text).split())

    index = _run(chromium, tmp_path / "p2", "--dump-dom", (out / "index.html").as_uri())
    assert _console(index.stderr) == []
    links = [a["href"] for tag, a in PageScan(index.stdout).tags if tag == "a"]
    assert links[0] == "today.html"

"""Report files: what each format holds, that they agree, and that hostile text is inert.

Data arrives as hand-made API v2 pages imported through the real archive import
(``tests.reportdata``); the files are parsed back with the standard library and
openpyxl, never compared as opaque bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from monitor.settings import Baseline, Campaign, Reports, Settings
from reports import build
from reports.build import write_daily_report, write_index, write_summary_report
from reports.format import SIMULATED_BANNER, num, pct, safe_name
from reports.spreadsheets import FORMULA_PREFIXES, neutralise
from reports.stats import stats_object
from tests import reportdata as rd

NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
SETTINGS = Settings()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PageScan(HTMLParser):
    """Every tag with its attributes, and the figures a page marks with ``data-figure``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.figures: dict[str, tuple[str, str]] = {}  # path -> (data-value, text shown)
        self.text: list[str] = []
        self._pending: tuple[str, str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("data-figure"):
            self._pending = (a["data-figure"], a.get("data-value") or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._pending is not None and data.strip():
            path, value = self._pending
            self.figures[path] = (value, data.strip())
            self._pending = None

    def attrs(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.tags if name in a]


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part]
    return obj


def _by_suffix(files: list[Path], suffix: str) -> list[Path]:
    return [p for p in files if p.suffix == suffix]


@pytest.fixture
def known(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    rd.build(sqlite_engine, tmp_path, rd.known_pages(), "known.jsonl")
    return sqlite_engine


@pytest.fixture
def hostile(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    rd.build(sqlite_engine, tmp_path, rd.hostile_pages(), "hostile.jsonl")
    return sqlite_engine


# --- several reports at once (the demo) -------------------------------------------------


def _content(path: Path) -> Any:
    """A file's content without the moment it was written (PDF and XLSX stamp it)."""
    data = path.read_bytes()
    if path.suffix == ".pdf":
        return re.sub(rb"/CreationDate \(D:\d+Z\)", b"", data)
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
    return data


class _NoSemaphores:
    """A pool that cannot be made: SemLock raises OSError without /dev/shm, and
    concurrent.futures NotImplementedError where there are no named semaphores."""

    failures: list[Exception] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise self.failures.pop()


@pytest.mark.slow
@pytest.mark.parametrize("can_fork", [True, False], ids=["two-processes", "one-by-one"])
def test_several_reports_at_once_are_the_files_each_report_writes_alone(
    known: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, can_fork: bool
) -> None:
    pools: list[object] = []

    class SpiedPool(build.ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(build, "ProcessPoolExecutor", SpiedPool)
    if not can_fork:  # e.g. Windows: spawn only
        monkeypatch.setattr(build.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    days = SETTINGS.campaign.days()[:2]
    reports = [build.daily_report_data(known, SETTINGS, d, now=NOW) for d in days]
    reports.append(build.summary_report_data(known, SETTINGS, now=NOW))
    together = build.write_reports(reports, tmp_path / "together")
    alone = [p for r in reports for p in build.write_report(r, tmp_path / "alone")]
    assert len(pools) == (1 if can_fork else 0)
    if can_fork:  # a system that forks but cannot make a pool (no /dev/shm) draws one by one
        monkeypatch.setattr(build, "ProcessPoolExecutor", _NoSemaphores)
        failures = [OSError(38, "Function not implemented"), NotImplementedError("no sem_open")]
        monkeypatch.setattr(_NoSemaphores, "failures", failures)
        for folder in ("no-pool-1", "no-pool-2"):
            without = build.write_reports(reports, tmp_path / folder)
            assert [_content(p) for p in without] == [_content(p) for p in together]
    assert [p.name for p in together] == [p.name for p in alone]  # in the reports' order
    assert together[0].name.startswith("daily-2017-06-12") and "summary" in together[-1].name
    for mine, theirs in zip(together, alone, strict=True):
        assert _content(mine) == _content(theirs), mine.name


def test_a_report_a_worker_cannot_write_fails_as_an_oserror_in_the_caller(
    known: Engine, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    reports = [build.summary_report_data(known, SETTINGS, now=NOW)] * 2
    with pytest.raises(OSError):  # what the CLI turns into "cannot write reports to ..."
        build.write_reports(reports, tmp_path / "a-file" / "out")
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"


# --- files and formats --------------------------------------------------------------------


def test_the_summary_writes_every_format_beside_its_page(known: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = write_summary_report(known, SETTINGS, out, now=NOW)
    assert sorted(p.name for p in files) == sorted(
        [
            "summary-IMHAW17.html",
            "summary-IMHAW17.json",
            "summary-IMHAW17.pdf",
            "summary-IMHAW17.xlsx",
            *(f"summary-IMHAW17-{c}.png" for c in ("pace", "daily-posts", "hours", "contributors")),
            *(
                f"summary-IMHAW17-{t}.csv"
                for t in ("days", "top-posts", "top-contributors", "hashtags")
            ),
        ]
    )
    assert all(p.parent == out and p.stat().st_size > 0 for p in files)
    for png in _by_suffix(files, ".png"):
        assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert _by_suffix(files, ".pdf")[0].read_bytes().startswith(b"%PDF-")
    assert not list(out.glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_report_files_follow_the_umask(
    known: Engine, tmp_path: Path, umask: int, mode: int
) -> None:
    settings = Settings(reports=Reports(formats=("html", "csv", "json"), top_n=2))
    old = os.umask(umask)
    try:
        files = write_daily_report(known, settings, dt.date(2017, 6, 12), tmp_path, now=NOW)
        files.append(write_index(tmp_path))
    finally:
        os.umask(old)
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: mode for p in files}


def test_only_the_configured_formats_are_written(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("html", "csv"), top_n=2))
    files = write_daily_report(known, settings, dt.date(2017, 6, 12), tmp_path, now=NOW)
    assert sorted(p.suffix for p in files) == [".csv"] * 4 + [".html"]
    html = _by_suffix(files, ".html")[0].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4  # charts still embedded in the page
    with (tmp_path / "daily-2017-06-12-top-posts.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.reader(fh))) == 1 + 2  # header + top_n


def test_file_names_are_safe_whatever_the_campaign_is_called(known: Engine, tmp_path: Path) -> None:
    settings = Settings(
        campaign=Campaign(name="../../etc/pass wd:*?"), reports=Reports(formats=("html", "csv"))
    )
    out = tmp_path / "out"
    files = write_summary_report(known, settings, out, now=NOW)
    assert {p.parent for p in files} == {out}
    assert "summary-etc-pass-wd.html" in {p.name for p in files}
    assert safe_name("///") == "campaign"
    assert safe_name("IMHAW17") == "IMHAW17"


# --- the same figures everywhere ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["summary", "daily"])
def test_headline_numbers_in_the_page_are_the_json_figures(
    known: Engine, tmp_path: Path, kind: str
) -> None:
    settings = Settings(reports=Reports(formats=("html", "json")))
    if kind == "summary":
        files = write_summary_report(known, settings, tmp_path, now=NOW)
    else:
        files = write_daily_report(known, settings, dt.date(2017, 6, 13), tmp_path, now=NOW)
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    scan = PageScan(_by_suffix(files, ".html")[0].read_text(encoding="utf-8"))
    expected_paths = {f"figures.totals.{k}" for k in ("posts", "contributors", "engagements")}
    assert expected_paths <= set(scan.figures)
    assert "pace.progress" in scan.figures
    if kind == "daily":
        assert "to_date.totals.potential_impressions" in scan.figures
        assert "pace.needed_per_day" in scan.figures
    for path, (value, shown) in scan.figures.items():
        expected = _lookup(data, path)
        if expected is None:
            assert value == "null" and shown == "n/a", path
        else:
            assert float(value) == pytest.approx(expected), path
            is_rate = path.endswith(("_rate", "progress", "coverage"))
            assert shown == (pct(expected) if is_rate else num(expected)), path
    with known.connect() as conn:
        stats = stats_object(conn, SETTINGS)
    if kind == "summary":
        assert data["figures"]["totals"] == stats["totals"]
        assert scan.figures["figures.totals.potential_reach"][1] == "6,300"


def test_csv_and_workbook_carry_the_json_tables(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("csv", "xlsx", "json")))
    files = write_summary_report(known, settings, tmp_path, now=NOW)
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    with (tmp_path / "summary-IMHAW17-days.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["date"] for r in rows] == [
        *(d["date"] for d in data["figures"]["days"]),
        "campaign total",
    ]
    assert [int(r["potential_reach"]) for r in rows] == [
        *(d["potential_reach"] for d in data["figures"]["days"]),
        data["figures"]["totals"]["potential_reach"],
    ]
    assert int(rows[-1]["potential_reach"]) < sum(int(r["potential_reach"]) for r in rows[:-1])
    wb = load_workbook(tmp_path / "summary-IMHAW17.xlsx")
    assert wb.sheetnames == [
        "Summary",
        "Days",
        "Top posts",
        "Top contributors",
        "Hashtags",
        "Definitions",
    ]
    posts = list(wb["Top posts"].iter_rows(values_only=True))
    header, first = posts[0], posts[1]
    assert first[header.index("Post id")] == data["top_posts"][0]["id"] == "1008"
    assert first[header.index("Posted (UTC)")] == "2017-06-15T10:00:00.000000Z"
    assert first[header.index("Posted (campaign time)")] == "2017-06-15 11:00 BST"
    id_cells = [row[header.index("Post id")] for row in wb["Top posts"].iter_rows(min_row=2)]
    assert all(c.data_type == "s" and c.number_format == "@" for c in id_cells)
    keys = [row[0] for row in wb["Definitions"].iter_rows(min_row=2, values_only=True)]
    assert {"potential_impressions", "potential_reach", "engagements"} <= set(keys)


def test_the_workbook_is_made_for_people_and_the_csvs_for_programs(
    known: Engine, tmp_path: Path
) -> None:
    settings = Settings(reports=Reports(formats=("csv", "xlsx", "json")))
    write_summary_report(known, settings, tmp_path, now=NOW)
    data = orjson.loads((tmp_path / "summary-IMHAW17.json").read_bytes())
    wb = load_workbook(tmp_path / "summary-IMHAW17.xlsx")
    days = wb["Days"]
    header = [c.value for c in days[1]]
    # headers in words, never code names; the CSV keeps the code names
    assert header[:3] == ["Date", "Posts", "Originals"]
    assert "Potential impressions" in header and "Engagement rate" in header
    assert not [h for h in header if "_" in h]
    with (tmp_path / "summary-IMHAW17-days.csv").open(encoding="utf-8-sig", newline="") as fh:
        csv_header = next(csv.reader(fh))
    assert "potential_impressions" in csv_header and "engagement_rate" in csv_header
    assert len(csv_header) == len(header)
    for sheet in wb:
        assert sheet.freeze_panes == "A2", sheet.title  # the header stays in view
        assert all(c.font.bold for c in sheet[1])
    # counts with thousands separators, rates as percentages, values still numbers
    col = {h: i for i, h in enumerate(header)}
    total = list(days.iter_rows(min_row=days.max_row, max_row=days.max_row))[0]
    reach = total[col["Potential reach"]]
    assert reach.value == data["figures"]["totals"]["potential_reach"]
    assert reach.number_format == "#,##0"
    rate = total[col["Engagement rate"]]
    assert rate.value == pytest.approx(data["figures"]["totals"]["engagement_rate"])
    assert rate.number_format.endswith("%")
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=2)}
    assert summary["Potential impressions"].number_format == "#,##0"
    assert summary["Engagement rate"].number_format.endswith("%")
    assert "potential_impressions" not in summary
    # every column at least as wide as what it shows (up to a cap, then wrapped)
    for sheet in wb:
        for column in sheet.iter_cols():
            letter = column[0].column_letter
            width = sheet.column_dimensions[letter].width
            longest = max(len(_as_shown(c)) for c in column)
            assert width >= min(longest, 50), (sheet.title, letter, width, longest)


def _as_shown(cell: Any) -> str:
    """What Excel shows for a cell: percentages, counts with separators, or the text."""
    value = cell.value
    if isinstance(value, int | float) and cell.number_format.endswith("%"):
        return f"{value:.2%}"
    if isinstance(value, int | float):
        return num(value)
    return "" if value is None else str(value)


def test_every_csv_reads_back_with_pythons_csv_reader_however_long_a_post(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    long_text = "=" + "a very long post " * 20_000  # 340,000 characters
    posts = [rd.post("100", "1", "2017-06-12T10:00:00.000Z", long_text, likes=5)]
    rd.build(
        sqlite_engine, tmp_path, [rd.page(posts, {"1": ("long", "N" * 200_000, 10)})], "l.jsonl"
    )
    settings = Settings(reports=Reports(formats=("csv", "xlsx")))
    files = write_summary_report(sqlite_engine, settings, tmp_path / "out", now=NOW)
    assert csv.field_size_limit() == 131_072  # the reader's default, untouched
    for path in _by_suffix(files, ".csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))  # raises on a field over the limit
        assert all(len(cell) <= 32_767 for row in rows for cell in row)
    with (tmp_path / "out" / "summary-IMHAW17-top-posts.csv").open(
        encoding="utf-8-sig", newline=""
    ) as fh:
        (post,) = list(csv.DictReader(fh))
    assert post["text"].startswith("'=a very long post") and post["text"].endswith("…")
    assert len(post["text"]) == 32_767  # clipped, then neutralised
    assert long_text.startswith(post["text"][1:-1])
    wb = load_workbook(tmp_path / "out" / "summary-IMHAW17.xlsx")
    cells = [c.value for ws in wb for row in ws.iter_rows() for c in row if c.value]
    assert max(len(str(v)) for v in cells) <= 32_767  # Excel's cell limit, quote included


# --- hostile text -------------------------------------------------------------------------


def _assert_inert_html(html: str) -> None:
    scan = PageScan(html)
    names = {tag for tag, _ in scan.tags}
    assert not names & {"script", "iframe", "object", "embed", "link", "base", "form"}
    for _, attrs in scan.tags:
        assert not [a for a in attrs if a.lower().startswith("on")], attrs
    for href in scan.attrs("href"):
        # a post on X, or a file beside the page: never another scheme
        assert href.startswith("https://x.com/") or re.fullmatch(r"[A-Za-z0-9._-]+", href), href
    assert all(src.startswith("data:image/png;base64,") for src in scan.attrs("src"))
    lowered = html.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "N" * 10_000 not in html  # the 10,000-character name is clipped
    for tag, attrs in scan.tags:
        if tag == "a" and attrs.get("target") == "_blank":
            assert attrs.get("rel") == "noopener noreferrer"


def _assert_neutralised(cells: list[str], *, xml: bool = False) -> None:
    offenders = [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    assert offenders == []
    for bad in ('=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1"):
        # XML reads a stored carriage return back as a line feed
        assert "'" + (bad.replace("\r", "\n") if xml else bad) in cells, repr(bad)


@pytest.mark.slow
def test_hostile_text_is_inert_in_every_format(hostile: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(top_n=20))  # every hostile post and author listed
    files = write_summary_report(hostile, settings, tmp_path, now=NOW)
    daily = settings.model_copy(
        update={"reports": Reports(top_n=20, formats=("html", "csv", "xlsx", "json"))}
    )
    files += write_daily_report(hostile, daily, dt.date(2017, 6, 12), tmp_path, now=NOW)
    for page in _by_suffix(files, ".html"):
        _assert_inert_html(page.read_text(encoding="utf-8"))
    for stem in ("summary-IMHAW17", "daily-2017-06-12"):
        cells = []
        for path in tmp_path.glob(f"{stem}-*.csv"):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                cells += [c for row in csv.reader(fh) for c in row]
        _assert_neutralised(cells)
        wb = load_workbook(tmp_path / f"{stem}.xlsx")
        xcells = [c for ws in wb for row in ws.iter_rows() for c in row]
        assert not [c.coordinate for c in xcells if c.data_type == "f"]
        _assert_neutralised([c.value for c in xcells if isinstance(c.value, str)], xml=True)
    for path in _by_suffix(files, ".pdf"):
        assert path.read_bytes().startswith(b"%PDF-")
    data = orjson.loads((tmp_path / "summary-IMHAW17.json").read_bytes())
    assert {p["username"] for p in data["top_posts"]} >= set(rd.hostile_strings())
    assert {c["name"] for c in data["top_contributors"]} >= set(rd.hostile_strings())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=1", "a=1"),
        ("", ""),
        (-2, -2),
        (None, None),
    ],
)
def test_neutralise_quotes_only_text_a_spreadsheet_would_run(value: Any, expected: Any) -> None:
    assert neutralise(value) == expected


# --- empty periods, the banner, campaign-agnostic output ------------------------------------


def test_a_day_without_posts_renders_zeros(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("html", "json")))
    files = write_daily_report(known, settings, dt.date(2017, 6, 14), tmp_path, now=NOW)
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    assert data["figures"]["totals"]["posts"] == 0
    assert data["figures"]["totals"]["engagement_rate"] is None
    assert data["top_posts"] == [] and data["top_contributors"] == []
    html = _by_suffix(files, ".html")[0].read_text(encoding="utf-8")
    assert "No posts were collected for Wednesday 14 June 2017" in html
    assert PageScan(html).figures["figures.totals.posts"] == ("0", "0")


@pytest.mark.parametrize(
    ("day", "says"),
    [
        (dt.date(2017, 6, 10), "The campaign starts on Monday 12 June 2017"),
        (dt.date(2017, 6, 20), "The campaign days are over"),
    ],
)
def test_a_daily_report_outside_the_campaign_renders(
    known: Engine, tmp_path: Path, day: dt.date, says: str
) -> None:
    settings = Settings(reports=Reports(formats=("html", "json", "pdf")))
    files = write_daily_report(known, settings, day, tmp_path, now=NOW)
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    assert [d["date"] for d in data["figures"]["days"]] == [day.isoformat()]
    assert says in _by_suffix(files, ".html")[0].read_text(encoding="utf-8")
    assert _by_suffix(files, ".pdf")[0].read_bytes().startswith(b"%PDF-")


def test_an_empty_database_renders_every_report(sqlite_engine: Engine, tmp_path: Path) -> None:
    files = write_summary_report(sqlite_engine, SETTINGS, tmp_path, now=NOW)
    assert len(files) == 12
    data = orjson.loads((tmp_path / "summary-IMHAW17.json").read_bytes())
    assert data["pace"]["progress"] == 0.0
    assert data["coverage"]["posts"] == 0


@pytest.mark.slow
def test_simulated_reports_carry_the_banner_on_every_page(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("html",)))
    write_summary_report(known, settings, tmp_path, simulated=True, now=NOW)
    write_daily_report(known, settings, dt.date(2017, 6, 12), tmp_path, simulated=True, now=NOW)
    index = write_index(tmp_path)
    for page in [*tmp_path.glob("*-*.html"), index]:
        html = page.read_text(encoding="utf-8")
        assert html.count(SIMULATED_BANNER) >= 1, page.name
    real = tmp_path / "real"
    write_summary_report(known, settings, real, now=NOW)
    assert SIMULATED_BANNER not in (real / "summary-IMHAW17.html").read_text(encoding="utf-8")
    assert SIMULATED_BANNER not in write_index(real).read_text(encoding="utf-8")


def test_nothing_about_the_campaign_is_hard_coded(sqlite_engine: Engine, tmp_path: Path) -> None:
    pages = [
        rd.page(
            [
                rd.post("1", "102", "2030-01-06T15:00:00Z", "zzz #SleepWeek", tags=("SleepWeek",)),
                rd.post("2", "103", "2030-01-07T04:30:00Z", "late", tags=("SleepWeek", "rest")),
            ],
            {"102": ("sleepcharity", "Sleep Charity", 300), "103": rd.USERS["103"]},
        )
    ]
    rd.build(sqlite_engine, tmp_path, pages, "sleep.jsonl")
    settings = Settings(
        campaign=Campaign(
            name="Sleep Week 2030",
            hashtags=("#SleepWeek",),
            accounts=("@sleepcharity",),
            start=dt.date(2030, 1, 6),
            end=dt.date(2030, 1, 8),
            timezone="America/New_York",
        ),
        baseline=Baseline(label="#SleepWeek29", metric="posts", value=4),
    )
    files = write_summary_report(sqlite_engine, settings, tmp_path / "out", now=NOW)
    html = (tmp_path / "out" / "summary-Sleep-Week-2030.html").read_text(encoding="utf-8")
    for text in ("#SleepWeek29", "America/New_York", "Sleep Week 2030", "@sleepcharity", "50.0%"):
        assert text in html, text
    everything = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in files)
    for text in ("IMHAW", "first1001days", "Europe/London", "10,000,000"):
        assert text not in everything, text
    data = orjson.loads((tmp_path / "out" / "summary-Sleep-Week-2030.json").read_bytes())
    # 04:30Z on the 7th is 23:30 on the 6th in New York
    assert [d["posts"] for d in data["figures"]["days"]] == [2, 0, 0]
    assert data["top_hashtags"] == [{"rank": 1, "hashtag": "rest", "posts": 1}]
    assert data["campaign_vs_others"][0]["posts"] == 1


# --- the PDF ------------------------------------------------------------------------------


def pdf_pages(path: Path) -> list[str]:
    """Return the text of each page of a PDF, whitespace made single spaces."""
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


def test_the_pdf_holds_each_chart_once_without_a_soft_mask(known: Engine, tmp_path: Path) -> None:
    from pypdf import PdfReader

    settings = Settings(reports=Reports(formats=("pdf", "png")))
    files = write_summary_report(known, settings, tmp_path, now=NOW)
    charts = _by_suffix(files, ".png")
    images = [
        obj
        for page in PdfReader(_by_suffix(files, ".pdf")[0]).pages
        for obj in (page["/Resources"].get("/XObject") or {}).values()
        if obj.get_object()["/Subtype"] == "/Image"
    ]
    assert len(images) == len(charts) == 4
    assert all("/SMask" not in img.get_object() for img in images)
    assert {img.get_object()["/ColorSpace"] for img in images} == {"/DeviceRGB"}


@pytest.mark.parametrize("kind", ["summary", "daily"])
def test_the_pdf_is_the_whole_report_readable_alone(
    known: Engine, tmp_path: Path, kind: str
) -> None:
    settings = Settings(reports=Reports(formats=("pdf", "json")))
    if kind == "summary":
        files = write_summary_report(known, settings, tmp_path, now=NOW)
    else:
        files = write_daily_report(known, settings, dt.date(2017, 6, 13), tmp_path, now=NOW)
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    pages = pdf_pages(_by_suffix(files, ".pdf")[0])
    text = " ".join(pages)
    with known.connect() as conn:
        if kind == "summary":
            totals = stats_object(conn, SETTINGS)["totals"]
        else:
            totals = stats_object(conn, SETTINGS, dt.date(2017, 6, 13), dt.date(2017, 6, 13))[
                "totals"
            ]
    # the headline figures, on page 1 (it is not a mostly empty title page)
    for key in ("posts", "contributors", "potential_impressions", "potential_reach"):
        assert num(totals[key]) in pages[0], key
    assert pct(data["pace"]["progress"]) + " of #IMHAW16" in pages[0]
    # the rest of what the HTML page has: charts' descriptions, tables, lists, methodology
    for heading in ("Top posts", "Top contributors", "Hashtags used alongside", "Day by day"):
        assert heading in text, heading
    assert data["top_posts"][0]["text"] in text
    assert "@" + data["top_contributors"][0]["username"] in text
    assert "#" + data["top_hashtags"][0]["hashtag"] in text
    assert "Methodology" in text and "Coverage of the data" in text
    for name in ("Potential impressions:", "Potential reach:", "Engagement rate:"):
        assert name in text  # every definition, by name
    assert "upper bound on the people who could have seen a post" in text
    assert "HTML" not in text  # it never sends the reader elsewhere
    assert f"Page 1 of {len(pages)}" in pages[0] and f"Page {len(pages)} of" in pages[-1]
    assert "Simulated" not in text and "SIMULATED" not in text


def test_post_text_that_looks_like_markup_prints_as_written_in_the_pdf(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    texts = [
        "Genocide & ethnic cleansing <b>not bold</b> <font size=40>big</font>",
        "<para>unclosed <i>tag & a lone < and > </br>",
        "line one\nline two\n\n" + "long " * 400,  # clipped on paper, never a failure
        "café Ελλάδα Москва and a character the font lacks: 漢",
    ]
    posts = [
        rd.post(str(100 + i), str(1 + i), "2017-06-12T10:00:00.000Z", t, likes=50 - i)
        for i, t in enumerate(texts)
    ]
    users = {str(1 + i): (f"user{i}", f"Name <b>{i}</b> & co", 100) for i in range(4)}
    pages = [rd.page(posts, users)]
    rd.build(sqlite_engine, tmp_path, pages, "markup.jsonl")
    settings = Settings(reports=Reports(formats=("pdf",)))
    files = write_summary_report(sqlite_engine, settings, tmp_path / "out", now=NOW)
    text = " ".join(pdf_pages(files[0]))
    assert texts[0] in text
    assert "<para>unclosed <i>tag & a lone < and > </br>" in text
    assert "line one line two long long" in text
    assert "Name <b>0</b> & co" in text and "@user0" in text
    # accents, Greek and Cyrillic print; a glyph the font lacks is a visible mark, not nothing
    assert "café Ελλάδα Москва and a character the font lacks: □" in text


@pytest.mark.slow
def test_the_pdf_is_the_same_bytes_for_the_same_report(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("pdf",)))
    one = write_summary_report(known, settings, tmp_path / "one", now=NOW)[0].read_bytes()
    two = write_summary_report(known, settings, tmp_path / "two", now=NOW)[0].read_bytes()
    assert one == two
    assert b"/CreationDate (D:20170617090000Z)" in one  # when the report was generated


def test_every_page_of_a_simulated_pdf_says_so(known: Engine, tmp_path: Path) -> None:
    settings = Settings(reports=Reports(formats=("pdf",)))
    files = write_summary_report(known, settings, tmp_path, now=NOW, simulated=True)
    pages = pdf_pages(files[0])
    assert len(pages) > 1
    assert all(SIMULATED_BANNER.upper() in page for page in pages)


# --- the index ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_index_lists_reports_by_the_dates_they_cover_not_by_file_time(
    known: Engine, tmp_path: Path
) -> None:
    settings = Settings(reports=Reports(formats=("html", "png", "csv", "json")))
    written = []
    # written out of order, as a catch-up run or a re-run of one day does: the summary
    # first, then the 15th, the 12th and last the 13th
    for i, make in enumerate(
        [
            lambda: write_summary_report(known, settings, tmp_path, now=NOW),
            lambda: write_daily_report(known, settings, dt.date(2017, 6, 15), tmp_path, now=NOW),
            lambda: write_daily_report(known, settings, dt.date(2017, 6, 12), tmp_path, now=NOW),
            lambda: write_daily_report(known, settings, dt.date(2017, 6, 13), tmp_path, now=NOW),
        ]
    ):
        files = make()
        for p in files:  # written a minute apart, in the order above
            os.utime(p, (1_000_000 + 60 * i, 1_000_000 + 60 * i))
        written += files
    index = write_index(tmp_path)
    hrefs = PageScan(index.read_text(encoding="utf-8")).attrs("href")
    assert set(hrefs) == {p.name for p in written}
    pages = [h for h in hrefs if h.endswith(".html")]
    assert pages == [
        "summary-IMHAW17.html",
        "daily-2017-06-15.html",
        "daily-2017-06-13.html",
        "daily-2017-06-12.html",
    ]


def test_a_stray_file_in_the_reports_folder_is_left_out_of_the_index(
    known: Engine, tmp_path: Path
) -> None:
    settings = Settings(reports=Reports(formats=("html", "pdf")))
    written = write_daily_report(known, settings, dt.date(2017, 6, 12), tmp_path, now=NOW)
    strays = [
        "daily-notes.html",
        "daily-2017-02-30.pdf",  # no such day
        "daily-2017-W24-1.html",  # a week date, not a report's name
        "daily-20170612.json",
        "daily-2017-06-12-notes.html",
        "summary-.html",
    ]
    for name in strays:
        (tmp_path / name).write_text("<p>mine</p>", encoding="utf-8")
    (tmp_path / "daily-2017-06-14.html").mkdir()  # a folder named like a report
    index = write_index(tmp_path).read_text(encoding="utf-8")
    hrefs = PageScan(index).attrs("href")
    assert set(hrefs) == {p.name for p in written}
    for name in strays:
        assert name not in index


def test_an_index_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    assert "No reports" in write_index(tmp_path / "new").read_text(encoding="utf-8")


# --- size -------------------------------------------------------------------------------
# How long it takes is the bench's business (python -m bench: "report summary ≤ 4 s").


@pytest.mark.slow
def test_a_summary_of_ten_thousand_posts_writes_every_file(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    rd.build(sqlite_engine, tmp_path, rd.bulk_pages(10_000, SETTINGS), "bulk.jsonl")
    files = write_summary_report(sqlite_engine, SETTINGS, tmp_path / "out", now=NOW)
    assert len(files) == 12


# --- every sentence true when it is written ---------------------------------------------------


def _page_text(html: str) -> str:
    """Return what a reader of the page reads: tags dropped, entities decoded, spaces single."""
    import html as html_lib

    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    body = re.sub(r"</?(strong|em|span|a|code)\b[^>]*>", "", body)  # inline: no word break
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _summary_at(engine: Engine, tmp_path: Path, now: dt.datetime) -> tuple[str, str, dict]:
    """Return the summary written at ``now``: its page's text, its PDF's text, its JSON
    (with the page's opening paragraph under "lead")."""
    settings = Settings(reports=Reports(formats=("html", "pdf", "json")))
    files = write_summary_report(engine, settings, tmp_path / now.isoformat(), now=now)
    page = _by_suffix(files, ".html")[0].read_text(encoding="utf-8")
    pdf = " ".join(pdf_pages(_by_suffix(files, ".pdf")[0]))
    data = orjson.loads(_by_suffix(files, ".json")[0].read_bytes())
    data["lead"] = _page_text(re.search(r'<p class="lead">(.*?)</p>', page, re.S).group(1))
    return _page_text(page), pdf, data


# the window 2017-06-12 .. 2017-06-16 in Europe/London (BST) ends at 2017-06-16 23:00 UTC
MID_WINDOW = dt.datetime(2017, 6, 14, 12, 0, tzinfo=dt.UTC)
LAST_MINUTE = dt.datetime(2017, 6, 16, 22, 59, tzinfo=dt.UTC)
WINDOW_OVER = dt.datetime(2017, 6, 16, 23, 0, tzinfo=dt.UTC)
ENDED_WORDS = ("Over the 5 days", "The campaign days are over", "over the campaign")


def test_a_summary_during_the_window_speaks_of_so_far_and_days_to_come(
    known: Engine, tmp_path: Path
) -> None:
    html, pdf, data = _summary_at(known, tmp_path, MID_WINDOW)
    said = "So far, 3 of the campaign's 5 days in (Monday 12 June 2017 to Wednesday 14 June 2017"
    for text in (html, pdf):
        assert said in text
        assert "2 more days to come" in text
        assert not any(words in text for words in ENDED_WORDS)
    pace = data["pace"]
    assert pace["in_progress"] is True
    assert [d["date"] for d in pace["days"]] == ["2017-06-12", "2017-06-13", "2017-06-14"]
    assert pace["days_left"] == 2
    # the cumulative figure so far is the sum of the days so far, computed here apart
    metric = pace["metric"]
    so_far = sum(d[metric] for d in data["figures"]["days"][:3])
    assert pace["cumulative"] == so_far


def test_a_summary_in_the_last_minute_of_the_window_is_still_so_far(
    known: Engine, tmp_path: Path
) -> None:
    html, pdf, data = _summary_at(known, tmp_path, LAST_MINUTE)
    for text in (html, pdf):
        assert "today is its last day" in text
        assert not any(words in text for words in ENDED_WORDS)
    if not data["pace"]["passed"]:
        assert "The campaign's last day is under way" in html


def test_a_summary_once_the_window_ends_speaks_of_the_whole_campaign(
    known: Engine, tmp_path: Path
) -> None:
    html, pdf, data = _summary_at(known, tmp_path, WINDOW_OVER)
    for text in (html, pdf):
        assert "Over the 5 days of the campaign, " in text
        assert "So far" not in text and "so far" not in text.split("Methodology")[0]
    assert data["pace"]["in_progress"] is False
    assert len(data["pace"]["days"]) == 5


@pytest.mark.parametrize("now", [MID_WINDOW, LAST_MINUTE, WINDOW_OVER], ids=str)
@pytest.mark.slow
def test_the_pdf_and_the_page_say_the_same_sentences(
    known: Engine, tmp_path: Path, now: dt.datetime
) -> None:
    from reports.wording import progress_lines

    html, pdf, data = _summary_at(known, tmp_path, now)
    lead = data["lead"]
    when = "over the campaign" if now >= WINDOW_OVER else "so far"
    lines = progress_lines(data["pace"], when)
    assert lines
    for line in lines:
        assert line in html and line in pdf, line
    # the opening paragraph, word for word in both
    assert lead and lead in html and lead in pdf


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (dt.datetime(2017, 6, 11, 23, 30, tzinfo=dt.UTC), dt.date(2017, 6, 12)),  # 00:30 BST
        (dt.datetime(2017, 6, 14, 12, 0, tzinfo=dt.UTC), dt.date(2017, 6, 14)),
        (dt.datetime(2017, 6, 16, 23, 30, tzinfo=dt.UTC), dt.date(2017, 6, 16)),  # after it
        (dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC), dt.date(2017, 6, 16)),
    ],
)
def test_the_default_report_day_is_today_in_the_window_else_its_last_day(
    now: dt.datetime, day: dt.date
) -> None:
    from reports.periods import default_report_day

    assert default_report_day(SETTINGS, now) == day


def test_there_is_no_default_report_day_before_the_window() -> None:
    from monitor.errors import UsageError
    from reports.periods import default_report_day

    with pytest.raises(UsageError) as caught:
        default_report_day(SETTINGS, dt.datetime(2017, 6, 11, 22, 59, tzinfo=dt.UTC))
    assert str(caught.value).startswith("the campaign starts on 2017-06-12 (Europe/London time)")
    assert caught.value.exit_code == 2

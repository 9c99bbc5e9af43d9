"""HTML pages of the reports (jinja2): one self-contained file each, plus the folder index.

Autoescaping is on for every template and user text (post text, usernames, names,
hashtags) is never marked safe. Charts are embedded as ``data:`` URIs and the CSS is
inline, so a page opens offline and survives being e-mailed; its Content-Security-Policy
allows nothing else to load or run.
"""

from __future__ import annotations

import base64
import datetime as dt
import html as markup
import re
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from monitor.times import local_stamp
from reports.charts import Chart
from reports.coverage import moderation_lines, month_use_lines
from reports.definitions import definitions
from reports.files import write_file
from reports.format import (
    FILE_PARTS,
    SIMULATED_BANNER,
    SO_FAR_FILE,
    day_label,
    day_position,
    long_day,
    metric_name,
    num,
    pct,
    plural,
    report_title,
    shareable_notice,
)
from reports.report_data import ReportData
from reports.wording import progress_when, report_notices, summary_lead, target_days

# nothing may load or run except the inline styles and the embedded PNGs
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def clip(value: str | None, limit: int = 120) -> str:
    """Return text cut to ``limit`` characters with an ellipsis: a 10,000-character name fits."""
    if value is None:
        return ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


# a post in a list shows at most this much; the rest is a click away (<details>)
POST_EXCERPT_CHARS = 280
POST_EXCERPT_LINES = 4


def post_excerpt(value: str | None) -> str:
    """Return the start of a post for a list: its first lines and characters, with an
    ellipsis when cut; the post itself when it is short enough."""
    if value is None:
        return ""
    lines = value.splitlines()
    short = "\n".join(lines[:POST_EXCERPT_LINES]) if len(lines) > POST_EXCERPT_LINES else value
    short = clip(short, POST_EXCERPT_CHARS)
    return value if short == value else short.rstrip("…").rstrip() + "…"


def https_only(url: str | None) -> str | None:
    """Return ``url`` if it is an https address, else None: a link is never another scheme."""
    if isinstance(url, str) and url.startswith("https://"):
        return url
    return None


@cache
def environment() -> Environment:
    """Return the jinja2 environment: package templates, autoescape on, strict undefined."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=num,
        pct=pct,
        clip=clip,
        post_excerpt=post_excerpt,
        moderation_lines=moderation_lines,
        month_use_lines=month_use_lines,
        target_days=target_days,
        https_only=https_only,
        long_day=long_day,
        short_day=day_label,
        metric_name=metric_name,
        plural=plural,
    )
    return env


def _chart_view(chart: Chart, file_name: str | None) -> dict[str, Any]:
    return {
        "name": chart.name,
        "title": chart.title,
        "alt": chart.alt,
        "src": "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii"),
        "file": file_name,
    }


def report_html(
    report: ReportData,
    charts: list[Chart],
    chart_files: dict[str, str],
    files: list[str],
    *,
    up_to: str | None = None,
) -> str:
    """Return the report's page: headline figures, progress, charts, tables, methodology.

    ``chart_files`` names the PNG written for each chart (if any) and ``files`` the other
    files of this report, listed at the foot of the page as downloads. ``up_to`` (a
    local time, "14:00 BST") makes a daily report the day so far, worded as one.
    """
    settings = report.settings
    template = environment().get_template(f"{report.kind}.html")
    return template.render(
        r=report,
        title=report_title(report),
        settings=settings,
        campaign=settings.campaign,
        baseline=settings.baseline,
        tags=settings.campaign.display_terms(),
        position=day_position(report),
        generated=local_stamp(report.generated_at, settings.campaign.tz),
        charts={c.name: _chart_view(c, chart_files.get(c.name)) for c in charts},
        definitions=definitions(settings),
        files=files,
        banner=" · ".join(
            b
            for b in (
                SIMULATED_BANNER if report.simulated else "",
                shareable_notice(settings) if report.shareable else "",
            )
            if b
        )
        or None,
        lead=summary_lead(report) if report.kind == "summary" else None,
        when=progress_when(report),
        notices=report_notices(report),
        so_far=up_to,
        csp=CSP,
    )


def write_report_html(
    report: ReportData,
    charts: list[Chart],
    chart_files: dict[str, str],
    files: list[str],
    path: Path,
) -> Path:
    """Write the report's page to ``path`` and return it."""
    html = report_html(report, charts, chart_files, files)
    return write_file(path, html.encode("utf-8"))


# --- the folder index -------------------------------------------------------------------

SIMULATED_MARK = '<meta name="hashmon-simulated" content="yes">'
_KIND_ORDER = {".html": 0, ".pdf": 1, ".xlsx": 2, ".csv": 3, ".json": 4, ".png": 5}


def _report_groups(out_dir: Path) -> list[dict[str, Any]]:
    """Return the reports in ``out_dir`` (each a page and its sibling files), newest first.

    Newest by the dates a report covers, not by file time (a report rewritten later is
    not newer): summaries first, then daily reports, the latest day first. A file whose
    name is not a report's (``daily-notes.html``, ``daily-2017-02-30.pdf``) is left out:
    one stray file never breaks the index.
    """
    groups: dict[str, list[Path]] = {}
    days: dict[str, dt.date | None] = {}
    for path in out_dir.iterdir():
        name = path.name
        if name.startswith(".") or name == "index.html" or path.suffix not in _KIND_ORDER:
            continue
        if not name.startswith(("daily-", "summary-")):
            continue
        # daily-2017-06-12[-part].ext, summary-NAME[-part].ext
        stem = path.stem
        for part in sorted(FILE_PARTS, key=len, reverse=True):  # "top-contributors" first
            base = stem[: -len(part) - 1]
            if stem.endswith("-" + part) and base.startswith(("daily-", "summary-")):
                stem = base
                break
        day = _stem_day(stem)
        if (stem.startswith("daily-") and day is None) or stem == "summary-":
            continue
        try:
            if not path.is_file():
                continue
        except OSError:  # unreadable entry: not ours to list
            continue
        groups.setdefault(stem, []).append(path)
        days[stem] = day
    out = []
    for stem, paths in groups.items():
        page = next((p for p in paths if p.name == f"{stem}.html"), None)
        simulated = False
        try:
            if page is not None:
                with page.open("r", encoding="utf-8", errors="replace") as fh:
                    simulated = SIMULATED_MARK in fh.read(4096)
            newest = max(p.stat().st_mtime for p in paths)
        except OSError:  # removed or unreadable while listed: leave it out
            continue
        paths.sort(key=lambda p: (_KIND_ORDER[p.suffix], p.name))
        day = days[stem]
        out.append(
            {
                "stem": stem,
                "kind": "Daily report" if day is not None else "End-of-week summary",
                "day": day.isoformat() if day is not None else None,
                "page": page.name if page else None,
                "files": [p.name for p in paths if p != page],
                "simulated": simulated,
                "modified": dt.datetime.fromtimestamp(newest, dt.UTC),
                "sort": (day is None, day or dt.date.min, newest if day is None else 0.0, stem),
            }
        )
    # summaries first (the latest written first), then daily reports, the latest day first
    out.sort(key=lambda g: g["sort"], reverse=True)
    return out


def real_reports(out_dir: Path) -> list[str]:
    """Return the names of the reports in ``out_dir`` not marked simulated (real ones).

    A report without its HTML page (its formats left HTML out) carries no mark, and counts
    as real: the demo must never overwrite what it cannot tell is its own.
    """
    if not out_dir.is_dir():
        return []
    return sorted(g["page"] or g["stem"] for g in _report_groups(out_dir) if not g["simulated"])


def _stem_day(stem: str) -> dt.date | None:
    """Return the date of a daily report's stem ``daily-2017-06-12``; None if not one."""
    if not stem.startswith("daily-"):
        return None
    text = stem[len("daily-") :]
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):  # not a week date, not 20170612
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


_SO_FAR_MARK = re.compile(
    r'<meta name="hashmon-so-far" content="([0-9]{4}-[0-9]{2}-[0-9]{2})\|([^"<>]{1,40})">'
)


def _so_far(out_dir: Path) -> dict[str, Any] | None:
    """Return the day-so-far page of ``out_dir`` for the index, or None.

    Only a ``today.html`` hashmon wrote (its mark names the day and the time it covers up
    to) counts. Once that day's daily report is in the folder the page is stale: it is
    removed, and the index links the daily report instead.
    """
    path = out_dir / SO_FAR_FILE
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    except OSError:  # none, or unreadable: nothing to list
        return None
    found = _SO_FAR_MARK.search(head)
    day = _stem_day(f"daily-{found.group(1)}") if found else None
    if found is None or day is None:
        return None
    if any((out_dir / f"daily-{day}{tail}.html").is_file() for tail in ("", "-shareable")):
        with suppress(OSError):
            path.unlink()
        return None
    return {
        "page": SO_FAR_FILE,
        "day": day.isoformat(),
        "up_to": markup.unescape(found.group(2)),
        "simulated": SIMULATED_MARK in head,
        "modified": modified,
    }


def write_index(out_dir: Path) -> Path:
    """Write ``index.html`` linking every report file in ``out_dir``, newest first (the
    day so far before all, while it is current); return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    so_far = _so_far(out_dir)
    groups = _report_groups(out_dir)
    html = (
        environment()
        .get_template("index.html")
        .render(
            groups=groups,
            today=so_far,
            banner=SIMULATED_BANNER
            if any(g["simulated"] for g in [*groups, *([so_far] if so_far else [])])
            else None,
            csp=CSP,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
    return write_file(out_dir / "index.html", html.encode("utf-8"))

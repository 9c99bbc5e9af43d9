"""Writing report files: atomic writes, and the JSON file of a report."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from reports.charts import Chart
from reports.definitions import definitions
from reports.format import report_title, shareable_notice
from reports.report_data import ReportData


def _umask() -> int:
    """Return the process umask.

    Linux shows it in /proc without changing it; elsewhere reading it means setting it
    and straight back, which another thread could see for an instant.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file); return path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            # mkstemp makes the file 0600; a report is shared like any file the user writes
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def report_json(report: ReportData, charts: list[Chart], files: dict[str, str]) -> dict[str, Any]:
    """Return the JSON object of a report: ``figures`` is stats_object for its dates."""
    settings = report.settings
    return {
        "report": {
            "kind": report.kind,
            "title": report_title(report),
            "day": report.day.isoformat() if report.day else None,
            "dates": [d.isoformat() for d in report.days],
            "generated_at": report.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "simulated": report.simulated,
            "top_n": settings.reports.top_n,
        },
        "shareable": shareable_notice(report.settings) if report.shareable else None,
        "figures": report.figures,
        "to_date": report.to_date,
        "pace": report.pace,
        "kinds": report.kinds,
        "hours": report.hours,
        "top_posts": report.top_posts,
        "top_contributors": report.top_contributors,
        "top_hashtags": report.top_hashtags,
        "campaign_vs_others": report.campaign_vs_others,
        "coverage": report.coverage,
        "stakeholders": report.stakeholders,
        "charts": [
            {"name": c.name, "title": c.title, "alt": c.alt, "file": files.get(c.name)}
            for c in charts
        ],
        "definitions": {key: text for key, _, text in definitions(settings)},
    }


def write_json(path: Path, obj: dict[str, Any]) -> Path:
    """Write ``obj`` as indented UTF-8 JSON and return the path."""
    return write_file(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")

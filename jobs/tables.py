"""Readable terminal tables for ``hashmon stats`` and ``hashmon status``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from reports.metrics import PERIOD_KEYS


def fmt(key: str, value: Any) -> str:
    """Return a figure as people read it: thousands separators, rates as percentages."""
    if value is None:
        return "n/a"
    if key in ("engagement_rate", "impressions_coverage", "baseline_progress"):
        return f"{value:.2%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def stats_table(obj: dict[str, Any], console: Console | None = None) -> None:
    """Print the stats object as one table: figures down, days and the total across."""
    console = console or Console()
    c = obj["campaign"]
    title = f"{c['name']}: {obj['days'][0]['date']} to {obj['days'][-1]['date']} ({c['timezone']})"
    table = Table(title=title)
    table.add_column("figure")
    for day in obj["days"]:
        table.add_column(day["date"][5:], justify="right")
    table.add_column("total", justify="right", style="bold")
    for key in PERIOD_KEYS:
        table.add_row(key, *(fmt(key, d[key]) for d in obj["days"]), fmt(key, obj["totals"][key]))
    console.print(table)
    b = obj["baseline"]
    if b is not None:
        console.print(
            f"{b['metric']} against {b['label']} ({b['value']:,}): "
            f"{fmt('baseline_progress', obj['totals']['baseline_progress'])}"
        )
    s = obj["stored"]
    console.print(f"stored: {s['posts']:,} posts by {s['authors']:,} authors (all dates)")

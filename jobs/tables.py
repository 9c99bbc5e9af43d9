"""Readable terminal tables for ``hashmon stats`` and ``hashmon status``."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.metrics import PERIOD_KEYS

# bidi embeddings, overrides and isolates: they reorder what a terminal shows
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def plain(value: Any) -> Text:
    """Return config text (a campaign name, a baseline label) as inert terminal text.

    A ``Text`` is never parsed for rich markup (``[link=...]``, or a stray ``[/bold]``
    that would crash the table), and control characters (escape sequences that move
    the cursor or make hyperlinks) and bidi overrides are dropped.
    """
    text = _BIDI.sub("", str(value))
    return Text("".join(c for c in text if unicodedata.category(c) != "Cc"))


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
    table = Table(title=plain(title))
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
            plain(
                f"{b['metric']} against {b['label']} ({b['value']:,}): "
                f"{fmt('baseline_progress', obj['totals']['baseline_progress'])}"
            )
        )
    g = obj.get("groups")
    if g:
        console.print(
            f"posts by the campaign's accounts: {g['owned']['posts']:,}, by supporters: "
            f"{g['supporters']['posts']:,}, by everyone else: {g['others']['posts']:,}"
        )
    s = obj["stored"]
    console.print(plain(f"stored: {s['posts']:,} posts by {s['authors']:,} authors (all dates)"))

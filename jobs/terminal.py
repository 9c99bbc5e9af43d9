"""Readable terminal tables for ``hashmon stats`` and ``hashmon status``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.inert import inert
from reports.figure_keys import PERIOD_KEYS


def plain(value: Any) -> Text:
    """Return config text (a campaign name, a baseline label) as inert terminal text.

    A ``Text`` is never parsed for rich markup (``[link=...]``, or a stray ``[/bold]``
    that would crash the table), and passes ``inert``.
    """
    return Text(inert(value))


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
    """Print the stats object: figures down, days and the total across, never cut short.

    A table is only printed at a width where every figure fits whole. When the days do
    not fit beside each other the table is printed in parts, a few days at a time; on a
    terminal too narrow even for one day beside the names, as ``figure: value`` lines.
    """
    console = console or Console()
    c = obj["campaign"]
    title = f"{c['name']}: {obj['days'][0]['date']} to {obj['days'][-1]['date']} ({c['timezone']})"
    periods = [(d["date"][5:], d) for d in obj["days"]] + [("total", obj["totals"])]
    tables = _stats_parts(periods, console)
    console.print(plain(title), overflow="fold")
    if tables is None:  # key: value lines, which wrap but are never cut
        for values in [*obj["days"], obj["totals"]]:
            console.print(Text(values.get("date", "total"), style="bold"))
            for key in PERIOD_KEYS:
                line = Text(f"  {key}: {fmt(key, values[key])}")
                console.print(line, overflow="fold")
    else:
        for table in tables:
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


def _stats_table(columns: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table()
    table.add_column("figure", no_wrap=True)
    for label, _ in columns:
        bold = "bold" if label == "total" else ""
        table.add_column(label, justify="right", no_wrap=True, style=bold)
    for key in PERIOD_KEYS:
        table.add_row(key, *(fmt(key, values[key]) for _, values in columns))
    return table


def _stats_parts(periods: list[tuple[str, dict[str, Any]]], console: Console) -> list[Table] | None:
    """Return the tables that show ``periods`` whole at the console's width, in order.

    As many periods side by side as fit at their natural width (rich would otherwise
    squeeze the columns and cut figures to ``1,026,…``); None when not even one fits.
    """
    parts: list[Table] = []
    rest = periods
    unbounded = console.options.update_width(10_000)  # measured at its natural width
    while rest:
        n = len(rest)
        while (
            n and console.measure(_stats_table(rest[:n]), options=unbounded).maximum > console.width
        ):
            n -= 1
        if not n:
            return None
        parts.append(_stats_table(rest[:n]))
        rest = rest[n:]
    return parts


# --- hashmon stakeholders: supporters, then decision makers ---------------------------


def _handles(person: dict[str, Any]) -> str:
    return " ".join("@" + h for h in person["handles"])


def _extra(people: list[dict[str, Any]], table: Table) -> list[str]:
    """Add the list's own columns (the same for every row of a list) to ``table``."""
    names = list(people[0]["columns"]) if people else []
    for name in names:
        table.add_column(plain(name))
    return names


def stakeholders_table(obj: dict[str, Any], console: Console | None = None) -> None:
    """Print supporters (active, then silent) and decision makers (engaged, then
    mentioned only, then neither), each group in file order."""
    console = console or Console()
    if not obj["supporters"] and not obj["decision_makers"]:
        console.print(
            plain(
                "No stakeholders listed: name a supporters and a decision_makers list (CSV or "
                "XLSX) under [stakeholders] in the config file; see examples/."
            )
        )
        return
    span = f"{obj['dates']['from']} to {obj['dates']['to']}"
    supporters = obj["supporters"]
    active = [s for s in supporters if s["posts"]]
    silent = [s for s in supporters if not s["posts"]]
    table = Table(title=plain(f"Supporters, {span}: {len(active)} of {len(supporters)} active"))
    for head in ("supporter", "handles", "status", "posts", "days active", "potential imp."):
        table.add_column(head, justify="right" if head in ("posts", "potential imp.") else "left")
    table.add_column("engagements", justify="right")
    table.add_column("hashtag posts", justify="right")
    extra = _extra(supporters, table)
    for s in [*active, *silent]:
        table.add_row(
            plain(s["name"]),
            plain(_handles(s)),
            "active" if s["posts"] else "silent",
            f"{s['posts']:,}",
            ", ".join(d[5:] for d in s["days_active"]) or "-",
            f"{s['potential_impressions']:,}",
            f"{s['engagements']:,}",
            f"{s['hashtag_posts']:,}",
            *(plain(s["columns"].get(c, "")) for c in extra),
        )
    console.print(table)
    makers = obj["decision_makers"]
    engaged = [m for m in makers if m["engaged"]]
    mentioned = [m for m in makers if not m["engaged"] and m["mentioned_in"]]
    neither = [m for m in makers if not m["engaged"] and not m["mentioned_in"]]
    table = Table(
        title=plain(
            f"Decision makers, {span}: {len(engaged)} engaged, "
            f"{len(mentioned)} mentioned only, {len(neither)} neither"
        )
    )
    table.add_column("decision maker")
    table.add_column("role")
    table.add_column("handles")
    table.add_column("status")
    for head in ("posts", "orig.", "RT", "quotes", "replies", "mentioned in", "engagements"):
        table.add_column(head, justify="right")
    extra = _extra(makers, table)
    for m, status in [
        *((m, "engaged") for m in engaged),
        *((m, "mentioned only") for m in mentioned),
        *((m, "neither") for m in neither),
    ]:
        table.add_row(
            plain(m["name"]),
            plain(m["role"] or "-"),
            plain(_handles(m)),
            status,
            *(
                f"{m[k]:,}"
                for k in (
                    "posts",
                    "originals",
                    "retweets",
                    "quotes",
                    "replies",
                    "mentioned_in",
                    "engagements",
                )
            ),
            *(plain(m["columns"].get(c, "")) for c in extra),
        )
    console.print(table)

"""The readable terminal view of ``hashmon stakeholders``: supporters, then decision makers."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from jobs.tables import plain


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

"""The tables of the printable report: headline, days, top posts, contributors, hashtags,
kinds of post and the campaign against everyone else, as ReportLab flowables.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import (
    Flowable,
    Spacer,
    Table,
    TableStyle,
)

from reports.format import (
    metric_name,
    num,
    pct,
    plural,
    short_day,
)
from reports.paper import FRAME_WIDTH, INK, POST_CLIP, bold_row, para, para_text, ruled_table
from reports.report_data import ReportData


def headline_table(totals: dict[str, Any], matches: bool = False) -> Table:
    """Return the headline figures as cards, four to a row, like the HTML page's."""
    cards = [
        (
            num(totals["posts"]),
            "Posts",
            f"{num(totals['originals'])} originals, {num(totals['retweets'])} retweets",
        ),
        (num(totals["contributors"]), "Contributors", "distinct accounts"),
        (
            num(totals["potential_impressions"]),
            "Potential impressions",
            "deliveries to followers' timelines",
        ),
        (
            num(totals["potential_reach"]),
            "Potential reach",
            "accounts' followers, each once; an upper bound",
        ),
        (num(totals["engagements"]), "Engagements", "likes, retweets, replies, quotes"),
        (pct(totals["engagement_rate"]), "Engagement rate", "engagements ÷ potential impressions"),
        (
            num(totals["impressions"]),
            "Impressions reported by X",
            f"from {pct(totals['impressions_coverage'])} of posts",
        ),
    ]
    if matches:
        cards += [
            (num(totals["hashtag_posts"]), "Posts with the hashtag", ""),
            (num(totals["mention_posts"]), "Posts mentioning the campaign", ""),
        ]
    cells = [
        [para(value, "card_value"), para(label, "card_label"), para(note, "small")]
        for value, label, note in cards
    ]
    while len(cells) % 4:
        cells.append([])
    rows = [cells[i : i + 4] for i in range(0, len(cells), 4)]
    table = Table(rows, colWidths=[FRAME_WIDTH / 4] * 4)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, 0), (-1, -1), 1.2, INK),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def days_table(
    days: list[dict[str, Any]], pace: dict[str, Any], totals: dict[str, Any], label: str
) -> list[Flowable]:
    by_date = {row["date"]: row for row in pace["days"]}
    baseline = pace["baseline"] is not None
    header = [
        "Day",
        "Posts",
        "Contributors",
        "Potential impressions",
        "Potential reach",
        "Engagements",
    ]
    if baseline:
        header += [
            f"Cumulative {metric_name(pace['metric'])}",
            f"% of {para_text(pace['label'], 40)}",
        ]
    rows = []
    for d in days:
        row = [
            short_day(d["date"]),
            *(
                num(d[k])
                for k in (
                    "posts",
                    "contributors",
                    "potential_impressions",
                    "potential_reach",
                    "engagements",
                )
            ),
        ]
        p = by_date.get(d["date"])
        if baseline:
            row += [num(p["cumulative"]), pct(p["progress"])] if p else ["", ""]
        rows.append(row)
    total = [
        label,
        *(
            num(totals[k])
            for k in ("posts", "contributors", "potential_impressions", "potential_reach")
        ),
        num(totals["engagements"]),
    ]
    if baseline:
        total += ["", pct(totals.get("baseline_progress"))]
    rows.append(bold_row(total))
    n = len(header)
    # "Mon 12 Jun", then the figures; "Engagements", the longest header word, a little wider
    first, engagements = 54.0, 62.0
    rest = (FRAME_WIDTH - first - engagements) / (n - 2)
    widths = [first, *[rest] * 4, engagements, *[rest] * (n - 6)]
    return [
        ruled_table(header, rows, widths, [False] + [True] * (n - 1), total=True, padding=2),
        Spacer(1, 3),
        para(
            "The total row treats the days as one period: contributors and potential reach "
            "count each account once, so they are less than the sum of the days above them.",
            "small",
        ),
    ]


def posts_table(posts: list[dict[str, Any]]) -> Flowable:
    if not posts:
        return para("No posts (other than retweets) in this period.", "muted")
    rows = []
    for p in posts:
        text = [para(para_text(p["text"], POST_CLIP), "cell")]
        if p.get("url"):
            text.append(para(para_text(p["url"]), "small"))
        who = []
        if p.get("name"):
            who.append(para_text(p["name"], 60))
        if p.get("username"):
            who.append(f"<font color='#555555'>@{para_text(p['username'], 40)}</font>")
        counts = " · ".join(
            [
                plural(p["like_count"] or 0, "like"),
                plural(p["retweet_count"] or 0, "retweet"),
                plural(p["reply_count"] or 0, "reply", "replies"),
                plural(p["quote_count"] or 0, "quote"),
            ]
        )
        rows.append(
            [
                str(p["rank"]),
                text,
                "<br/>".join(who) or "<font color='#555555'>unknown account</font>",
                para_text(p["created_at_local"]),
                [para(num(p["engagements"]), "num"), para(counts, "small")],
            ]
        )
    widths = [20, 232, 92, 58, FRAME_WIDTH - 402]
    return ruled_table(
        ["#", "Post", "Author", "Posted", "Engagements"],
        rows,
        widths,
        [True, False, False, False, True],
    )


def contributors_table(rows_in: list[dict[str, Any]]) -> Flowable:
    if not rows_in:
        return para("No contributors in this period.", "muted")
    rows = []
    for c in rows_in:
        who = (
            f"@{para_text(c['username'], 40)}"
            if c.get("username")
            else f"account {para_text(c['author_id'])}"
        )
        if c.get("name"):
            who += f"<br/><font size=7.5 color='#555555'>{para_text(c['name'], 60)}</font>"
        rows.append(
            [
                str(c["rank"]),
                who,
                num(c["posts"]),
                num(c["potential_impressions"]),
                num(c["engagements"]),
            ]
        )
    widths = [20, FRAME_WIDTH - 20 - 3 * 85, 85, 85, 85]
    return ruled_table(
        ["#", "Account", "Posts", "Potential impressions", "Engagements"],
        rows,
        widths,
        [True, False, True, True, True],
    )


def hashtags_table(rows_in: list[dict[str, Any]], posts: int) -> Flowable:
    if not rows_in:
        return para("No other hashtags were used in this period.", "muted")
    rows = [
        [
            str(h["rank"]),
            f"#{para_text(h['hashtag'], 60)}",
            num(h["posts"]),
            pct(h["posts"] / posts if posts else 0),
        ]
        for h in rows_in
    ]
    widths = [20, FRAME_WIDTH - 20 - 2 * 90, 90, 90]
    return ruled_table(
        ["#", "Hashtag", "Posts", "Share of posts"], rows, widths, [True, False, True, True]
    )


def kinds_and_others(report: ReportData) -> list[Flowable]:
    names = {"original": "Originals", "retweet": "Retweets", "reply": "Replies", "quote": "Quotes"}
    kinds = ruled_table(
        ["Kind of post", "Posts", "Share"],
        [[names[k["kind"]], num(k["posts"]), pct(k["share"])] for k in report.kinds],
        [FRAME_WIDTH * 0.2, FRAME_WIDTH * 0.12, FRAME_WIDTH * 0.12],
        [False, True, True],
    )
    vs_rows = []
    for g in report.campaign_vs_others:
        who = (
            f"The campaign's own ({para_text(g['label'], 80)})"
            if g["group"] == "campaign"
            else "Everyone else"
        )
        vs_rows.append(
            [who, num(g["posts"]), num(g["potential_impressions"]), num(g["engagements"])]
        )
    vs = ruled_table(
        ["Whose posts", "Posts", "Potential impressions", "Engagements"],
        vs_rows,
        [FRAME_WIDTH * 0.4, FRAME_WIDTH * 0.15, FRAME_WIDTH * 0.25, FRAME_WIDTH * 0.2],
        [False, True, True, True],
    )
    return [
        para("Kinds of post", "h3"),
        kinds,
        para("The campaign's own posts and everyone else's", "h3"),
        vs,
    ]

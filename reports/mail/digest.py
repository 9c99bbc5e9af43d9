"""The e-mail digest of a written report: subject, plain text, HTML, charts and attachments.

Built from the files a report left in its folder (its JSON, PNG charts, PDF and XLSX), not
from the report's data in memory: the mail says exactly what the written report says,
and it can be sent again later, by another process, from the files alone.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import unicodedata
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.errors import HashmonError
from monitor.settings import Email
from reports.mail.messages import addressed
from reports.wording import finished_day

HEADLINE = (
    ("posts", "Posts"),
    ("contributors", "Contributors"),
    ("potential_impressions", "Potential impressions"),
    ("potential_reach", "Potential reach"),
    ("engagements", "Engagements"),
)
METRIC_WORDS = {key: label.lower() for key, label in HEADLINE}
TOP_POSTS = 3
SIMULATED = "SIMULATED DATA: not real posts"
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")  # controls, bidi overrides, zero-width joiners
_FONT = "font-family:Arial,Helvetica,sans-serif;"
_CELL = "padding:4px 8px;border-bottom:1px solid #dddddd;"


class ReportFileError(HashmonError):
    """A written report's files cannot be read to build its e-mail."""


@dataclass
class WrittenReport:
    """A report as its files stand in ``folder``: the JSON object and what lies beside it."""

    json_path: Path
    data: dict[str, Any]
    charts: list[tuple[dict[str, Any], Path]] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    page: Path | None = None

    @property
    def stem(self) -> str:
        return self.json_path.stem


def read_written_report(json_path: str | Path) -> WrittenReport:
    """Return the report whose JSON file is ``json_path``, with its charts, PDF and XLSX.

    Charts and attachments that were not written (a ``[reports] formats`` without them)
    are left out. Raises ReportFileError when the JSON is missing or unreadable.
    """
    path = Path(json_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["report"], data["figures"], data["pace"]  # noqa: B018 - the keys the mail needs
    except FileNotFoundError:
        raise ReportFileError(
            f"report file {path} not found: the e-mail is built from the report's JSON; "
            'keep "json" in [reports] formats'
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportFileError(f"cannot read report file {path}: {exc}; write it again") from None
    folder = path.parent
    charts = []
    for chart in data.get("charts") or []:
        name = chart.get("file")
        if name and (folder / Path(name).name).is_file():
            charts.append((chart, folder / Path(name).name))
    attachments = [
        folder / f"{path.stem}{suffix}"
        for suffix in (".pdf", ".xlsx")
        if (folder / f"{path.stem}{suffix}").is_file()
    ]
    page = folder / f"{path.stem}.html"
    return WrittenReport(path, data, charts, attachments, page if page.is_file() else None)


# --- words and numbers -------------------------------------------------------------------


def count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def share(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def compact(value: float) -> str:
    """Return a figure for a subject line: ``4.2M``, ``950K``, ``812``."""
    for unit, mark in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= unit:
            scaled = value / unit
            text = f"{scaled:.1f}" if abs(scaled) < 100 else f"{scaled:.0f}"
            return text.removesuffix(".0") + mark
    return f"{value:,.0f}"


def short_day(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d:%a} {d.day} {d:%b}"


def one_line(value: Any, limit: int = 200) -> str:
    """Return user text as one line without control, format or bidi characters."""
    kept = "".join(" " if unicodedata.category(c) in _INVISIBLE else c for c in str(value))
    text = " ".join(kept.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def campaign_days(data: dict[str, Any]) -> list[str]:
    c = data["figures"]["campaign"]
    first, last = dt.date.fromisoformat(c["start"]), dt.date.fromisoformat(c["end"])
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def day_position(data: dict[str, Any]) -> str | None:
    """Return ``day 3 of 5`` for a daily report on a campaign day, else None."""
    day, days = data["report"].get("day"), campaign_days(data)
    return f"day {days.index(day) + 1} of {len(days)}" if day in days else None


def tag(data: dict[str, Any], settings_tag: str | None = None) -> str:
    return settings_tag or f"#{data['figures']['campaign']['name']}"


def subject(report: WrittenReport, prefix: str = "", campaign_tag: str | None = None) -> str:
    """Return the subject: ``#IMHAW17 day 3 of 5: 6.1M potential impressions, 60% of #IMHAW16``.

    The figure is the campaign to date in the baseline's metric; the share is rounded
    down, so a mail never says 100% before the baseline is passed.
    """
    data = report.data
    pace = data["pace"]
    r = data["report"]
    if r["kind"] == "summary":
        when = "week summary"
    else:
        when = day_position(data) or f"report for {short_day(r['day'])}"
    words = METRIC_WORDS.get(pace["metric"], pace["metric"].replace("_", " "))
    figure = f"{compact(pace['cumulative'])} {words}"
    if pace.get("baseline") and pace.get("progress") is not None:
        figure += f", {math.floor(pace['progress'] * 100)}% of {pace['label']}"
    elif r["kind"] == "daily":
        figure += " to date"
    text = f"{prefix.strip()} {tag(data, campaign_tag)} {when}: {figure}".strip()
    if r.get("simulated"):
        text += " (simulated data)"
    return one_line(text, 200)


# --- the parts both bodies share ---------------------------------------------------------


def headline_sections(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return (heading, totals) for the figures the mail leads with."""
    r = data["report"]
    if r["kind"] == "summary":
        dates = r["dates"]
        span = f"{short_day(dates[0])} to {short_day(dates[-1])}" if dates else ""
        return [(f"The campaign week ({span})", data["figures"]["totals"])]
    sections = [(f"The day ({short_day(r['day'])})", data["figures"]["totals"])]
    to_date = data.get("to_date")
    if to_date and to_date.get("days"):
        first = to_date["days"][0]["date"]
        sections.append(
            (f"Campaign to date ({short_day(first)} to {short_day(r['day'])})", to_date["totals"])
        )
    return sections


def _when(data: dict[str, Any]) -> str:
    written = dt.datetime.fromisoformat(data["report"]["generated_at"].replace("Z", "+00:00"))
    day = finished_day(data["pace"], written, ZoneInfo(data["figures"]["campaign"]["timezone"]))
    return "so far" if day is None else f"by the end of {short_day(day.isoformat())}"


def progress_line(data: dict[str, Any]) -> str:
    pace = data["pace"]
    words = METRIC_WORDS.get(pace["metric"], pace["metric"])
    if not pace.get("baseline"):
        return f"No baseline is configured: {count(pace['cumulative'])} {words} {_when(data)}."
    line = (
        f"{count(pace['cumulative'])} {words} {_when(data)}: {share(pace['progress'])} of "
        f"{pace['label']}'s {count(pace['baseline'])}."
    )
    if pace.get("passed_on"):
        line += f" {pace['label']} was passed on {short_day(pace['passed_on'])}."
    return line


def remaining_line(data: dict[str, Any]) -> str:
    """Return what the campaign days after the last day reported need to pass the
    baseline: counted from that day, named, so the line is true whenever it is read."""
    pace = data["pace"]
    words = METRIC_WORDS.get(pace["metric"], pace["metric"])
    rows = pace.get("days") or []
    left = [d for d in campaign_days(data) if not rows or d > rows[-1]["date"]]
    if not pace.get("baseline"):
        return "No baseline is configured, so no day has a target."
    if pace.get("passed") or not left:
        return f"{pace['label']} is passed." if pace.get("passed") else "No campaign day is left."
    after = f"after {short_day(rows[-1]['date'])}" if rows else "of the campaign"
    span = f"the {len(left)} {'day' if len(left) == 1 else 'days'} {after}"
    span += f" ({', '.join(short_day(d) for d in left)})"
    if pace.get("needed_per_day") is None:  # reach, contributors: each account counts once
        return f"To pass {pace['label']}: {count(pace['needed'])} more {words} in all over {span}."
    return f"To pass {pace['label']}: {count(pace['needed_per_day'])} {words} on each of {span}."


def coverage_line(data: dict[str, Any]) -> str:
    c = data.get("coverage") or {}
    parts = [f"{count(c.get('posts'))} posts collected"]
    runs = c.get("runs") or 0
    if runs:
        failed = c.get("runs_failed") or 0
        parts.append(f"{count(runs)} collection runs ({failed or 'none'} failed)")
    missing = c.get("hours_without_collect_run") or 0
    if c.get("hours_checked"):
        parts.append(
            f"no pass in {missing} of {c['hours_checked']} hours"
            if missing
            else f"a pass in every one of {c['hours_checked']} hours"
        )
    gaps = len(c.get("gaps") or [])
    parts.append(f"{gaps} gaps in which posts may be missing" if gaps else "no gaps recorded")
    parts.append(f"{count(c.get('posts_without_followers'))} posts lacked a follower count")
    if c.get("impressions_coverage"):
        parts.append(f"X reported impressions for {share(c['impressions_coverage'])} of posts")
    return "Coverage: " + "; ".join(parts) + "."


def silent_line(data: dict[str, Any]) -> str | None:
    """Return who of the supporters has not posted in the report's period, or None."""
    s = data.get("stakeholders") or {}
    silent = [one_line(name, 80) for name in s.get("silent") or ()]
    total = len(s.get("supporters") or ())
    if not silent:
        return None
    return f"Supporters not heard from yet ({len(silent)} of {total}): " + ", ".join(silent) + "."


def top_posts(data: dict[str, Any]) -> list[dict[str, Any]]:
    # a shareable list's closing row counts private individuals: it is no post to show
    return [p for p in data.get("top_posts") or [] if not p.get("aggregate")][:TOP_POSTS]


def safe_url(url: Any) -> str | None:
    text = str(url or "")
    return text if text.startswith("https://") and not any(c.isspace() for c in text) else None


def heading(data: dict[str, Any]) -> str:
    title = one_line(data["report"]["title"], 200)
    position = day_position(data)
    return f"{title} ({position})" if position else title


# --- plain text --------------------------------------------------------------------------


def plain_text(report: WrittenReport) -> str:
    """Return the plain-text body: headline figures, progress, top posts, needs, coverage."""
    data = report.data
    lines = [heading(data)]
    if data["report"].get("simulated"):
        lines.append(SIMULATED)
    if data.get("shareable"):  # the shareable version says so, and what it leaves out
        lines.append(one_line(data["shareable"], 400))
    lines.append("")
    for title, totals in headline_sections(data):
        lines.append(title)
        for key, name in HEADLINE:
            lines.append(f"  {name:<24}{count(totals.get(key)):>14}")
        lines.append("")
    lines += ["Progress against the baseline", "  " + progress_line(data), ""]
    lines += ["What passing the baseline takes", "  " + remaining_line(data), ""]
    posts = top_posts(data)
    if posts:
        lines.append(f"Top {len(posts)} posts by engagements")
        for p in posts:
            who = one_line(p.get("username") or p.get("author_id") or "unknown", 40)
            lines.append(
                f"  {p.get('rank')}. @{who} ({count(p.get('author_followers'))} followers, "
                f"{count(p.get('engagements'))} engagements): {one_line(p.get('text'), 160)}"
            )
            if safe_url(p.get("url")):
                lines.append(f"     {p['url']}")
        lines.append("")
    lines += [line for line in (silent_line(data), "") if line is not None]
    lines += [coverage_line(data), ""]
    if report.attachments:
        lines.append("Attached: " + ", ".join(p.name for p in report.attachments) + ".")
    if report.page is not None:
        lines.append(f"The full report is {report.page} on the machine that wrote it.")
    return "\n".join(lines) + "\n"


# --- HTML for mail clients ----------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _figures_table(title: str, totals: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td style="{_CELL}">{_e(name)}</td>'
        f'<td style="{_CELL}text-align:right;">{_e(count(totals.get(key)))}</td></tr>'
        for key, name in HEADLINE
    )
    return (
        f'<h2 style="{_FONT}font-size:16px;margin:16px 0 4px 0;">{_e(title)}</h2>'
        f'<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
        f'style="{_FONT}font-size:14px;border-collapse:collapse;">{rows}</table>'
    )


def html_body(report: WrittenReport, cids: dict[Path, str]) -> str:
    """Return the HTML body: inline styles, tables, no script, charts as ``cid:`` images.

    ``cids`` maps each chart file to its Content-ID (without angle brackets).
    """
    data = report.data
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(heading(data))}</title></head>",
        f'<body style="margin:0;padding:0;background:#f4f4f4;{_FONT}color:#222222;">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background:#f4f4f4;"><tr><td align="center" style="padding:16px;">',
        '<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" '
        'style="background:#ffffff;max-width:640px;"><tr><td style="padding:16px;">',
        f'<h1 style="{_FONT}font-size:20px;margin:0 0 8px 0;">{_e(heading(data))}</h1>',
    ]
    if data["report"].get("simulated"):
        out.append(
            f'<p style="{_FONT}background:#fff3cd;color:#664d03;padding:8px;font-weight:bold;">'
            f"{_e(SIMULATED)}</p>"
        )
    if data.get("shareable"):
        notice = _e(one_line(data["shareable"], 400))
        out.append(f'<p style="{_FONT}font-weight:bold;">{notice}</p>')
    for title, totals in headline_sections(data):
        out.append(_figures_table(title, totals))
    p = f'style="{_FONT}font-size:14px;margin:4px 0;"'
    h2 = f'style="{_FONT}font-size:16px;margin:16px 0 4px 0;"'
    out += [
        f"<h2 {h2}>Progress against the baseline</h2><p {p}>{_e(progress_line(data))}</p>",
        f"<h2 {h2}>What passing the baseline takes</h2><p {p}>{_e(remaining_line(data))}</p>",
    ]
    posts = top_posts(data)
    if posts:
        out.append(f"<h2 {h2}>Top {len(posts)} posts by engagements</h2>")
        out.append(
            f'<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
            f'style="{_FONT}font-size:14px;border-collapse:collapse;">'
        )
        for post in posts:
            who = "@" + one_line(post.get("username") or post.get("author_id") or "unknown", 40)
            text = _e(one_line(post.get("text"), 280))
            url = safe_url(post.get("url"))
            link = f' <a href="{_e(url)}" style="color:#0b5394;">open</a>' if url else ""
            out.append(
                f'<tr><td style="{_CELL}vertical-align:top;">{_e(post.get("rank"))}.</td>'
                f'<td style="{_CELL}"><strong>{_e(who)}</strong> '
                f"({_e(count(post.get('author_followers')))} followers, "
                f"{_e(count(post.get('engagements')))} engagements)<br>{text}{link}</td></tr>"
            )
        out.append("</table>")
    for chart, path in report.charts:
        cid = cids.get(path)
        if cid is None:
            continue
        out.append(
            f"<h2 {h2}>{_e(one_line(chart.get('title') or '', 120))}</h2>"
            f'<img src="cid:{_e(cid)}" alt="{_e(one_line(chart.get("alt") or "", 600))}" '
            f'width="600" style="display:block;width:100%;max-width:600px;height:auto;border:0;">'
        )
    if silent := silent_line(data):
        out.append(f'<p style="{_FONT}font-size:14px;">{_e(silent)}</p>')
    out.append(f'<p style="{_FONT}font-size:12px;color:#555555;">{_e(coverage_line(data))}</p>')
    if report.attachments:
        names = ", ".join(p.name for p in report.attachments)
        out.append(f'<p style="{_FONT}font-size:12px;color:#555555;">Attached: {_e(names)}.</p>')
    out.append("</td></tr></table></td></tr></table></body></html>")
    return "\n".join(out) + "\n"


# --- the message --------------------------------------------------------------------------

_TYPES = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def digest_message(
    report: WrittenReport, email: Email, campaign_tag: str | None = None
) -> EmailMessage:
    """Return the digest of ``report``: text and HTML alternatives, charts inline, files attached.

    Structure: multipart/mixed [ multipart/alternative [ text/plain, multipart/related
    [ text/html, image/png... ] ], application/pdf, xlsx ].
    """
    msg = addressed(email, subject(report, email.subject_prefix, campaign_tag))
    # short ids: a folded Content-ID header trips some clients
    cids = {
        path: f"{chart.get('name', 'chart')}.{uuid.uuid4().hex[:16]}@hashmon"
        for chart, path in report.charts
    }
    msg.set_content(plain_text(report), subtype="plain", cte="quoted-printable")
    msg.add_alternative(html_body(report, cids), subtype="html", cte="quoted-printable")
    html_part = msg.get_payload()[1]
    for _, path in report.charts:
        html_part.add_related(
            path.read_bytes(),
            maintype="image",
            subtype="png",
            cid=f"<{cids[path]}>",
            filename=path.name,
            disposition="inline",
        )
    for path in report.attachments:
        maintype, subtype = _TYPES[path.suffix]
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return msg

"""Report charts (matplotlib): data in, a figure, PNG bytes and alt text out.

One style for every chart, readable when printed in greyscale: series differ by
hatching, markers and line style as well as by shade. Figures are built with the
object API (no pyplot state), so reports can be drawn from any thread.

Drawing is a report's largest cost, so a process draws each distinct chart once
(``reports.chart_cache``): a summary and its shareable version share three of their four charts,
and a pack or a demo writes a summary drawn moments before.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import PIL.Image  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402 - the backend is chosen first
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from reports.chart_cache import once  # noqa: E402
from reports.figure_keys import METRIC_NAMES  # noqa: E402
from reports.format import count, day_label, plural  # noqa: E402

INK = "#1a1a1a"
GRID = "#d0d0d0"
# kind -> (label, fill, hatch): distinct in greyscale by pattern, not colour alone
KIND_STYLE = {
    "originals": ("Originals", "#3a3a3a", ""),
    "retweets": ("Retweets", "#ffffff", "///"),
    "replies": ("Replies", "#a8a8a8", "..."),
    "quotes": ("Quotes", "#e4e4e4", "xx"),
}
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    # the title's height fixed above the axes instead of measured against every tick
    # label (an eighth of a chart's time): nothing is drawn above, so the pixels are
    # the same
    "axes.titley": 1.0,
    "axes.labelsize": 10,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.6,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "hatch.linewidth": 0.7,
    "hatch.color": INK,
}
WIDTH, HEIGHT, DPI = 8.5, 4.0, 110


@dataclass(frozen=True)
class Chart:
    """One rendered chart: a short file-name part, its title, PNG bytes and alt text."""

    name: str
    title: str
    png: bytes
    alt: str


def plain(value: str | None, limit: int = 28) -> str:
    """Return user text as one short line without control or format characters.

    Tabs, bidi overrides and zero-width joiners are dropped so a label reads as stored.
    """
    if not value:
        return ""
    cleaned = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in value[: limit * 4]
        if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cf")
    ).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def drawable(value: str) -> str:
    """Return text for matplotlib with every ``$`` escaped: user text never starts mathtext."""
    return value.replace("$", r"\$")


def _thousands(ax: Any, axis: str = "y") -> None:
    fmt = FuncFormatter(lambda v, _pos: count(v))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _legend_below(ax: Axes, ncols: int, fontsize: float | None = None) -> None:
    # below the axes, where it never covers a bar or the baseline label
    fig = ax.get_figure()
    below = 0.62 / (ax.get_position().height * fig.get_figheight())  # 0.62 in: under the x label
    ax.legend(
        fontsize=fontsize,
        loc="upper center",
        bbox_to_anchor=(0.5, -below),
        ncols=ncols,
        borderaxespad=0,
        handlelength=2.4,
    )


def png_bytes(fig: Figure) -> bytes:
    """Return the figure as PNG bytes, RGB on white.

    Not RGBA, as ``savefig`` writes: the charts are opaque, and an alpha channel made
    every PDF carry each chart twice (the picture and a soft mask of it, ReportLab
    splitting, compressing and hashing both: a third of a chart's cost there), and made
    the files a tenth larger.
    """
    fig.set_facecolor("white")
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        # emoji and other scripts DejaVu lacks draw as boxes; that is not an error
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        canvas.draw()
    size = canvas.get_width_height(physical=True)
    picture = PIL.Image.frombuffer("RGBA", size, canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, format="png", dpi=(DPI, DPI))
    return buf.getvalue()


def margins(height: float, *, left: float = 0.95, legend: bool = False) -> dict[str, float]:
    """Return subplot margins for a chart ``height`` inches tall, given in inches.

    Fixed margins instead of a layout engine: measuring every label to lay a chart out
    costs more than drawing it.
    """
    bottom = 1.0 if legend else 0.65
    return {
        "left": left / WIDTH,
        "right": 1 - 0.25 / WIDTH,
        "top": 1 - 0.45 / height,
        "bottom": bottom / height,
    }


def _chart(
    name: str,
    title: str,
    alt: str,
    plot: Callable[[Axes], None],
    height: float = HEIGHT,
    *,
    left: float = 0.95,
    legend: bool = False,
) -> Chart:
    space = margins(height, left=left, legend=legend)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height), dpi=DPI)
        fig.subplots_adjust(**space)
        plot(fig.add_subplot())
        png = png_bytes(fig)
    return Chart(name, title, png, alt)


# --- pace against the baseline ----------------------------------------------------------


@once
def pace_chart(pace: dict[str, Any], campaign_days: Sequence[dt.date]) -> Chart:
    """Return the cumulative baseline metric by campaign day, against the baseline line."""
    metric = METRIC_NAMES[pace["metric"]]
    title = (
        f"Cumulative {metric} against {pace['label']}"
        if pace["label"]
        else (f"Cumulative {metric}")
    )
    rows = pace["days"]

    def plot(ax: Axes) -> None:
        x = list(range(len(campaign_days)))
        values = [r["cumulative"] for r in rows]
        ax.plot(
            x[: len(values)],
            values,
            color=INK,
            linestyle="-",
            linewidth=2,
            marker="o",
            markersize=6,
            label=f"{metric.capitalize()} so far",
            zorder=3,
        )
        top = max([*values, pace["baseline"] or 0]) or 1
        for xi, v in zip(x, values, strict=False):
            # a label just under the baseline line would sit on it: put that one below
            near = pace["baseline"] is not None and 0 <= pace["baseline"] - v < 0.12 * top
            ax.annotate(
                count(v),
                (xi, v),
                textcoords="offset points",
                xytext=(0, -14) if near else (0, 8),
                ha="center",
                fontsize=8,
                color=INK,
            )
        if pace["baseline"] is not None:
            base = pace["baseline"]
            ax.axhline(
                base,
                color="#555555",
                linestyle="--",
                linewidth=1.5,
                label=drawable(f"{plain(pace['label'], 40)}: {count(base)}"),
            )
            ax.annotate(
                drawable(f"{plain(pace['label'], 40)}: {count(base)}"),
                (x[-1], base),
                textcoords="offset points",
                xytext=(0, 6),
                ha="right",
                fontsize=9,
                color=INK,
                fontweight="bold",
            )
            if values and pace.get("needed") and len(values) < len(x):
                # an additive metric has a whole count a day; reach and contributors a total
                needed = (
                    f"Needed: {count(pace['needed_per_day'])} a day"
                    if pace["needed_per_day"]
                    else f"Needed: {count(pace['needed'])} more in all"
                )
                ax.plot(
                    [x[len(values) - 1], x[-1]],
                    [values[-1], base],
                    color="#555555",
                    linestyle=":",
                    linewidth=1.5,
                    marker=None,
                    label=needed,
                )
            ax.set_ylim(0, max([base, *values]) * 1.12)
        else:
            ax.set_ylim(0, max([1, *values]) * 1.15)
        ax.set_xticks(x, [day_label(d) for d in campaign_days])
        ax.set_xlim(-0.4, len(x) - 0.6)
        ax.set_xlabel("Campaign day (local date)")
        ax.set_ylabel(f"{metric.capitalize()} (cumulative)")
        _thousands(ax)
        ax.set_title(drawable(plain(title, 80)))
        _legend_below(ax, 3, fontsize=9)

    return _chart("pace", title, pace_alt(pace, campaign_days), plot, left=1.3, legend=True)


def pace_alt(pace: dict[str, Any], campaign_days: Sequence[dt.date]) -> str:
    """Return alt text for the pace chart: the line's end point and its share of the baseline."""
    metric = METRIC_NAMES[pace["metric"]]
    span = f"{day_label(campaign_days[0])} to {day_label(campaign_days[-1])}"
    if not pace["days"]:
        return f"Line chart of cumulative {metric} for {span}: the campaign has not started."
    last = pace["days"][-1]
    text = (
        f"Line chart of cumulative {metric} by campaign day, {span}: "
        f"{count(last['cumulative'])} by {day_label(last['date'])}"
    )
    if pace["baseline"] is not None:
        text += (
            f", {last['progress']:.1%} of the {pace['label']} baseline of "
            f"{count(pace['baseline'])} (dashed line)"
        )
    return text + "."


# --- posts per day, by kind ---------------------------------------------------------------


@once
def daily_posts_chart(days: Sequence[dict[str, Any]]) -> Chart:
    """Return posts per local day as bars stacked by kind (originals, retweets, replies, quotes)."""
    title = "Posts per day, by kind"

    def plot(ax: Axes) -> None:
        x = list(range(len(days)))
        bottom = [0] * len(days)
        for key, (label, fill, hatch) in KIND_STYLE.items():
            heights = [d[key] for d in days]
            ax.bar(
                x,
                heights,
                bottom=bottom,
                color=fill,
                hatch=hatch,
                edgecolor=INK,
                linewidth=0.8,
                label=label,
                width=0.6,
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for xi, total in zip(x, bottom, strict=True):
            ax.annotate(
                count(total),
                (xi, total),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=9,
                color=INK,
            )
        ax.set_xticks(x, [day_label(d["date"]) for d in days])
        ax.set_ylim(0, max([1, *bottom]) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _thousands(ax)
        ax.set_xlabel("Local date")
        ax.set_ylabel("Posts (count)")
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        _legend_below(ax, 4)

    parts = [
        f"{day_label(d['date'])}: {count(d['posts'])} ({d['originals']} originals, "
        f"{d['retweets']} retweets, {d['replies']} replies, {d['quotes']} quotes)"
        for d in days
    ]
    alt = "Stacked bar chart of posts per day by kind. " + "; ".join(parts) + "."
    return _chart("daily-posts", title, alt, plot, legend=True)


# --- activity by hour -------------------------------------------------------------------


@once
def hourly_chart(hours: Sequence[dict[str, Any]], timezone: str) -> Chart:
    """Return posts by hour of day in campaign time, 0..23, as bars."""
    title = f"Activity by hour of day ({timezone} time)"

    def plot(ax: Axes) -> None:
        # one series: a solid dark fill reads in greyscale, and the kinds are in the day chart
        values = [h["posts"] for h in hours]
        ax.bar(
            [h["hour"] for h in hours],
            values,
            color="#4a4a4a",
            edgecolor=INK,
            linewidth=0.6,
            width=0.8,
        )
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)])
        ax.set_xlim(-0.6, 23.6)
        ax.set_ylim(0, max([1, *values]) * 1.12)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _thousands(ax)
        ax.set_xlabel(f"Hour of day, {timezone} time (summer time included)")
        ax.set_ylabel("Posts (count)")
        ax.set_title(drawable(plain(title, 80)))
        ax.grid(axis="x", visible=False)

    total = sum(h["posts"] for h in hours)
    if total:
        peak = max(hours, key=lambda h: (h["posts"], -h["hour"]))
        alt = (
            f"Bar chart of {count(total)} posts by hour of day in {timezone} time; the busiest "
            f"hour was {peak['hour']:02d}:00 to {(peak['hour'] + 1) % 24:02d}:00 with "
            f"{count(peak['posts'])} posts."
        )
    else:
        alt = f"Bar chart of posts by hour of day in {timezone} time: no posts in this period."
    return _chart("hours", title, alt, plot, 3.8)


# --- top contributors ---------------------------------------------------------------------


def contributor_label(row: dict[str, Any]) -> str:
    """Return how a contributor is named in a chart: @username, else the name, else the id."""
    if row.get("username"):
        return "@" + plain(row["username"], 24)
    if row.get("name"):
        return plain(row["name"], 24)
    return f"account {row['author_id']}"


@once
def contributors_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Return the top contributors by potential impressions as horizontal bars, largest on top."""
    title = "Top contributors by potential impressions"

    def plot(ax: Axes) -> None:
        if not rows:
            ax.text(
                0.5,
                0.5,
                "No posts in this period",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color=INK,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            y = list(range(len(rows)))
            values = [r["potential_impressions"] for r in rows]
            ax.barh(y, values, color="#6a6a6a", edgecolor=INK, linewidth=0.6, height=0.65)
            ax.set_yticks(y, [drawable(contributor_label(r)) for r in rows])
            ax.invert_yaxis()
            for yi, v, r in zip(y, values, rows, strict=True):
                ax.annotate(
                    f"{count(v)}  ({plural(r['posts'], 'post')})",
                    (v, yi),
                    textcoords="offset points",
                    xytext=(4, 0),
                    va="center",
                    fontsize=8,
                    color=INK,
                )
            ax.set_xlim(0, max([1, *values]) * 1.3)
            _thousands(ax, "x")
            ax.grid(axis="y", visible=False)
        ax.set_xlabel("Potential impressions (sum of followers over their posts)")
        ax.set_title(title)

    if rows:
        parts = [f"{contributor_label(r)}: {count(r['potential_impressions'])}" for r in rows]
        alt = (
            f"Horizontal bar chart of the top {len(rows)} contributors by potential "
            f"impressions: " + "; ".join(parts) + "."
        )
    else:
        alt = "Horizontal bar chart of top contributors: no posts in this period."
        # room on the left for the longest name (about 0.085 in a character at 10 pt)
    longest = max((len(contributor_label(r)) for r in rows), default=0)
    height = max(2.4, 1.3 + 0.32 * len(rows))
    return _chart("contributors", title, alt, plot, height, left=0.3 + 0.085 * longest)

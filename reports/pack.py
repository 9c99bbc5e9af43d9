"""The impact pack: one zip a funder can audit (``hashmon report summary --pack``).

The pack (METRICS.md "The impact pack") holds the summary in every format, the settings
the figures used (``config.toml``, no secrets), ``METHODOLOGY.md``, ``query.txt``, every
stored post of the window as twarc2-style API v2 pages (``posts.jsonl.gz``, written by
``reports.pack_archive``), a README for the reader and ``SHA256SUMS`` of every other file
(which ``reports.pack_verify`` checks). It is deterministic: entries sorted, fixed zip
times, a gzip without a name or time, the summary's workbook rewritten with fixed times,
so the same database gives the same bytes except the generated-at stamps.

``hashmon report summary --pack`` computes and draws the summary once: ``open_pack``
reads it, ``OpenPack.write_summary`` gives the folder its copy, ``OpenPack.finish`` adds
the archive from the same snapshot and writes the zip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from monitor.settings import REPORT_FORMATS, Settings
from monitor.store.engine import snapshot_pair
from reports.build import write_report
from reports.definitions import definitions
from reports.files import write_file
from reports.format import safe_name
from reports.pack_archive import ARCHIVE, write_archive
from reports.pack_verify import EQUAL, SUMS, sums_text
from reports.report_data import ReportData, summary_data
from reports.shareable import shareable_report

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no time leaks into the pack


def hashmon_version() -> str:
    try:
        return metadata.version("hashmon")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def pack_name(settings: Settings, shareable: bool = False) -> str:
    """Return the pack's file name: ``summary-IMHAW17-pack.zip`` (``-shareable-pack``)."""
    tail = "-shareable" if shareable else ""
    return f"summary-{safe_name(settings.campaign.name)}{tail}-pack.zip"


# --- writing -------------------------------------------------------------------------


def write_pack(
    engine: Engine,
    settings: Settings,
    out_dir: str | Path,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    shareable: bool = False,
) -> Path:
    """Write the impact pack of the campaign window into ``out_dir``; return its path.

    ``shareable`` packs the shareable summary and leaves the archive out (it quotes
    everyone). See ``open_pack``.
    """
    with open_pack(
        engine, settings, out_dir, simulated=simulated, now=now, shareable=shareable
    ) as pack:
        return pack.finish()


@contextmanager
def open_pack(
    engine: Engine,
    settings: Settings,
    out_dir: str | Path,
    *,
    simulated: bool = False,
    now: dt.datetime | None = None,
    shareable: bool = False,
) -> Iterator[OpenPack]:
    """Yield the impact pack of the campaign window begun in ``out_dir``: its summary read
    and written in every format into a work folder there, the snapshot it was read in
    still open. ``finish`` then writes the archive from that snapshot and the zip.

    The summary and the archive are read in one snapshot, so the archive recomputes
    exactly the figures the summary shows; ``write_summary`` gives the user's copy of the
    same summary, so it is computed and drawn once for both.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    every_format = settings.model_copy(
        update={"reports": settings.reports.model_copy(update={"formats": REPORT_FORMATS})}
    )
    with (
        tempfile.TemporaryDirectory(prefix=".hashmon-pack-", dir=out_dir) as tmp,
        snapshot_pair(engine) as (conn, side),
    ):
        report = summary_data(
            conn, every_format, simulated=simulated, now=now, side=None if side is conn else side
        )
        if shareable:
            report = shareable_report(conn, report)
        work = Path(tmp)
        files = write_report(report, work / "summary")
        yield OpenPack(
            conn, settings, report, files, work, out_dir / pack_name(settings, shareable)
        )


class OpenPack:
    """A pack under way (``open_pack``): its summary written in every format, its
    snapshot open."""

    def __init__(
        self,
        conn: Connection,
        settings: Settings,
        report: ReportData,
        summary: list[Path],
        work: Path,
        target: Path,
    ) -> None:
        self.report = report  # the summary, in every format's settings
        self._conn, self._settings, self._summary = conn, settings, summary
        self._work, self._target = work, target

    def write_summary(self, out_dir: Path) -> list[Path]:
        """Write the summary in the formats ``[reports] formats`` names into ``out_dir``, from
        the same data; return the files, the HTML page last.

        With every format those are the pack's files, copied (drawing them again cost as
        much as the summary). With fewer, they are drawn again from the data: a page lists
        the downloads beside it, and the JSON the charts drawn.
        """
        if set(self._settings.reports.formats) == set(REPORT_FORMATS):
            return [write_file(out_dir / path.name, path.read_bytes()) for path in self._summary]
        return write_report(dataclasses.replace(self.report, settings=self._settings), out_dir)

    def finish(self) -> Path:
        """Write the archive (from the summary's snapshot) and the zip; return its path."""
        settings, work, shareable = self._settings, self._work, self.report.shareable
        files = {f"summary/{path.name}": path for path in self._summary}
        n_posts = None
        if not shareable:
            archive = work / ARCHIVE
            n_posts = write_archive(self._conn, settings, archive)
            files[ARCHIVE] = archive
        # the lists say who counts as a supporter: the figures need them, the shareable
        # pack names no one
        lists = {} if shareable else stakeholder_files(settings)
        texts = {
            "config.toml": config_toml(settings, lists),
            "METHODOLOGY.md": methodology(settings),
            "query.txt": query_text(settings),
            "README.md": readme(settings, n_posts, sorted([*files, *lists])),
        }
        entries: dict[str, bytes] = {name: t.encode("utf-8") for name, t in texts.items()}
        entries.update(lists)
        for name, path in files.items():
            data = path.read_bytes()
            entries[name] = (
                _steady_xlsx(data, self.report.generated_at) if name.endswith(".xlsx") else data
            )
        entries[SUMS] = sums_text(entries).encode("ascii")
        partial = work / "pack.zip"
        with zipfile.ZipFile(partial, "w") as zf:
            for name in sorted(entries):
                zf.writestr(_zip_info(name), entries[name])
        shutil.move(partial, self._target)
        return self._target


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    # the archive is gzip already: deflating it again took 1.7 s at 1M posts, for a
    # bigger file
    info.compress_type = zipfile.ZIP_STORED if name == ARCHIVE else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # Unix, whatever the machine
    return info


def _steady_xlsx(data: bytes, stamp: dt.datetime) -> bytes:
    """Return a workbook with fixed zip times and its created/modified set to ``stamp``."""
    when = stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                    lambda m: m.group(1) + when.encode() + m.group(3),
                    body,
                )
            dst.writestr(_zip_info(item.filename), body)
    return out.getvalue()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    out = ['"']
    for ch in str(value):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def stakeholder_files(settings: Settings) -> dict[str, bytes]:
    """Return the stakeholder lists the figures used, by their name inside the pack.

    The handles of an old ``[campaign] supporters`` key become a list of their own.
    """
    s = settings.stakeholders
    files: dict[str, bytes] = {}
    for key in ("supporters", "decision_makers"):
        path = getattr(s, key)
        if path:
            files[f"stakeholders/{key}{Path(path).suffix.lower()}"] = Path(path).read_bytes()
    if not s.supporters and s.supporter_handles:
        rows = "".join(f"{h},{h}\n" for h in s.supporter_handles)
        files["stakeholders/supporters.csv"] = f"name,handle\n{rows}".encode()
    return files


def config_toml(settings: Settings, lists: Iterable[str] = ()) -> str:
    """Return the settings the figures used, as TOML: campaign, baseline, moderation and
    the stakeholder lists packed (``lists``, their names in the pack); no secrets."""
    lines = [
        "# The settings the pack's figures were computed with (hashmon "
        f"{hashmon_version()}). No database, no credentials.",
        "",
    ]
    campaign = settings.campaign.model_dump(exclude={"supporters"})
    sections: dict[str, dict[str, Any]] = {"campaign": campaign}
    if settings.baseline is not None:
        sections["baseline"] = settings.baseline.model_dump()
    if settings.moderation.active:
        sections["moderation"] = settings.moderation.model_dump()
    packed = {Path(name).stem: name for name in lists}
    if packed:
        sections["stakeholders"] = packed
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(v)}" for key, v in values.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


def query_text(settings: Settings) -> str:
    c = settings.campaign
    return (
        f"query: {c.query()}\n"
        f"window: {c.start.isoformat()} to {c.end.isoformat()} (local dates, {c.timezone})\n"
    )


def methodology(settings: Settings) -> str:
    """Return the definitions as the report applies them, in Markdown."""
    c = settings.campaign
    lines = [
        f"# How the figures of {c.name} were computed",
        "",
        f"hashmon {hashmon_version()}. Window: {c.start.isoformat()} to {c.end.isoformat()}, "
        f"local dates in {c.timezone}. Search: `{c.query()}`.",
        "",
    ]
    for _key, name, text in definitions(settings):
        lines += [f"## {name}", "", text, ""]
    lines += [
        "## Deleted and withheld posts",
        "",
        "A post X later answered as deleted or withheld keeps its place in every figure "
        "(it was posted and seen during the campaign) but its text is erased and it is "
        f"never shown or quoted. In {ARCHIVE} it has an empty text.",
        "",
    ]
    return "\n".join(lines)


def readme(settings: Settings, n_posts: int | None, files: list[str]) -> str:
    c = settings.campaign
    summary = [f for f in files if f.startswith("summary/")]
    if n_posts is None:
        return "\n".join(
            [
                f"# {c.name}: the impact pack (shareable version)",
                "",
                "This is the shareable version: private individuals are neither named nor "
                f"quoted, so the archive of posts ({ARCHIVE}) is left out. The figures are "
                "the full version's; ask the campaign for the full pack to recompute them.",
                "",
                f"- `summary/`: the shareable summary in every format ({len(summary)} files).",
                "- `METHODOLOGY.md`, `config.toml`, `query.txt`: how the figures were counted.",
                f"- `{SUMS}`: a fingerprint of every other file; `sha256sum -c {SUMS}` or "
                "`hashmon verify-pack` checks them.",
                "",
            ]
        )
    return "\n".join(
        [
            f"# {c.name}: the impact pack",
            "",
            "This folder holds the end-of-campaign summary and everything needed to check "
            "its figures yourself.",
            "",
            "## What each file is",
            "",
            f"- `summary/`: the summary report in every format ({len(summary)} files). Open "
            "the `.html` page in a browser; the `.pdf` prints; the `.xlsx` and `.csv` files "
            "open in a spreadsheet; the `.json` file holds every figure under `figures`.",
            "- `METHODOLOGY.md`: what each figure means and exactly how it was counted.",
            "- `config.toml`: the campaign settings the figures used (hashtags, accounts, "
            "dates, time zone, baseline). It holds no passwords or keys.",
            "- `query.txt`: the search that collected the posts, and the campaign window.",
            f"- `{ARCHIVE}`: the {n_posts} posts of the window, one JSON page per line in the "
            "format of the X API v2 (as the free tool twarc2 writes it), each post once "
            "with the figures hashmon stored for it: its author's follower count when first "
            "seen, its latest like, retweet, reply and quote counts. Posts deleted or "
            "withheld on X since have no text.",
            *(
                [
                    "- `stakeholders/`: the lists of supporters and decision makers the "
                    "figures used; `config.toml` names them."
                ]
                if any(f.startswith("stakeholders/") for f in files)
                else []
            ),
            f"- `{SUMS}`: a fingerprint of every other file, so you can tell that nothing was "
            "changed after the pack was written.",
            "",
            "## How to check the figures",
            "",
            "With hashmon installed (`pip install hashmon`), run",
            "",
            "    hashmon verify-pack THIS-FILE.zip",
            "",
            f"It checks every fingerprint, reads {ARCHIVE} into a new, empty database with "
            "config.toml, recomputes every figure and compares it with the summary's. It "
            f'says "{EQUAL}" or names each figure that differs.',
            "",
            "By hand: `sha256sum -c SHA256SUMS` checks the fingerprints; then",
            "",
            f"    hashmon --config config.toml import {ARCHIVE}",
            "    hashmon --config config.toml stats --json",
            "",
            "prints the figures to compare with `figures` in the summary's JSON file. Any "
            f"tool that reads twarc2 files can read {ARCHIVE} too; METHODOLOGY.md says how "
            "each figure is summed.",
            "",
        ]
    )

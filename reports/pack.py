"""The impact pack: one zip a funder can audit, and ``verify-pack`` that audits it.

The pack (METRICS.md "The impact pack") holds the summary in every format, the settings
the figures used (``config.toml``, no secrets), ``METHODOLOGY.md``, ``query.txt``, every
stored post of the window as twarc2-style API v2 pages (``posts.jsonl.gz``), a README for
the reader and ``SHA256SUMS`` of every other file. It is deterministic: entries sorted,
fixed zip times, a gzip without a name or time, the summary's workbook rewritten with
fixed times, so the same database gives the same bytes except the generated-at stamps.

Each post is written once, with its stored figures: its author's follower count as of
the first sighting sits in that page's ``includes.users``, so a page never holds two
posts by one author with different counts; its latest counts are its ``public_metrics``.
Its matched terms are written as ``entities``, so a post matched on its text, or one
deleted since (written without text), matches again on import.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import math
import re
import shutil
import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from monitor.config import REPORT_FORMATS, Settings, parse_settings
from monitor.errors import HashmonError
from monitor.store.engine import snapshot, stream_rows
from monitor.times import day_bounds_us, from_epoch_us, utc_text
from reports.build import write_report
from reports.definitions import definitions
from reports.format import safe_name
from reports.report_data import summary_data
from reports.shareable import shareable_report

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no time leaks into the pack
PAGE_SIZE = 100  # posts per archive page, as X's search pages
ARCHIVE = "posts.jsonl.gz"
SUMS = "SHA256SUMS"
EQUAL = "every figure recomputed and equal"
_KIND_TYPE = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}
_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count")


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

    The summary and the archive are read in one snapshot, so the archive recomputes
    exactly the figures the summary shows. ``shareable`` packs the shareable summary and
    leaves the archive out (it quotes everyone).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    every_format = settings.model_copy(
        update={"reports": settings.reports.model_copy(update={"formats": REPORT_FORMATS})}
    )
    target = out_dir / pack_name(settings, shareable)
    with tempfile.TemporaryDirectory(prefix=".hashmon-pack-", dir=out_dir) as tmp:
        work = Path(tmp)
        files: dict[str, Path] = {}
        with snapshot(engine) as conn:
            report = summary_data(conn, every_format, simulated=simulated, now=now)
            if shareable:
                report = shareable_report(conn, report)
            for path in write_report(report, work / "summary"):
                files[f"summary/{path.name}"] = path
            n_posts = None
            if not shareable:
                archive = work / ARCHIVE
                n_posts = write_archive(conn, settings, archive)
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
                _steady_xlsx(data, report.generated_at) if name.endswith(".xlsx") else data
            )
        entries[SUMS] = sums_text(entries).encode("ascii")
        partial = work / "pack.zip"
        with zipfile.ZipFile(partial, "w") as zf:
            for name in sorted(entries):
                zf.writestr(_zip_info(name), entries[name])
        shutil.move(partial, target)
    return target


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
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


def sums_text(entries: dict[str, bytes]) -> str:
    """Return ``sha256sum`` lines for every entry, sorted by name (``sha256sum -c`` reads it)."""
    return "".join(
        f"{hashlib.sha256(entries[name]).hexdigest()}  {name}\n" for name in sorted(entries)
    )


_POSTS_SQL = """
    SELECT p.id, p.text, p.gone_at, p.author_id, p.created_at_us, p.kind, p.hashtags,
           p.mentions, p.author_followers, p.like_count, p.retweet_count, p.reply_count,
           p.quote_count, p.impression_count, a.username, a.name, p.retweeted_id
    FROM posts p
    LEFT JOIN authors a ON a.platform = p.platform AND a.id = p.author_id
    WHERE p.platform = :platform AND p.created_at_us >= :lo AND p.created_at_us < :hi
    ORDER BY p.created_at_us, LENGTH(p.id), p.id
"""


def archive_pages(conn: Connection, settings: Settings) -> Iterator[dict[str, Any]]:
    """Yield the window's stored posts as API v2 pages, each post once (see the module doc)."""
    lo, hi = day_bounds_us(settings.campaign.start, settings.campaign.end, settings.campaign.tz)
    params = {"platform": "x", "lo": lo, "hi": hi}
    data: list[dict[str, Any]] = []
    users: dict[str, dict[str, Any]] = {}
    for rows in stream_rows(conn, _POSTS_SQL, params, 5000):
        for row in rows:
            post, user = _post_object(row)
            uid = post.get("author_id")
            clash = uid is not None and uid in users and users[uid] != user
            if len(data) == PAGE_SIZE or clash:
                yield _page(data, users)
                data, users = [], {}
            data.append(post)
            if uid is not None:
                users[uid] = user
    if data:
        yield _page(data, users)


def _page(data: list[dict[str, Any]], users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    page: dict[str, Any] = {"data": data}
    if users:
        page["includes"] = {"users": list(users.values())}
    page["meta"] = {"result_count": len(data)}
    return page


def _post_object(row: tuple) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the API v2 post object of a stored row, its author's user object)."""
    (post_id, text, gone_at, author_id, created_us, kind, hashtags, mentions, followers) = row[:9]
    counts = row[9:14]
    username, name, retweeted = row[14:17]
    post: dict[str, Any] = {"id": str(post_id), "text": "" if gone_at else (text or "")}
    if author_id is not None:
        post["author_id"] = str(author_id)
    post["created_at"] = utc_text(from_epoch_us(int(created_us)))
    post["entities"] = {
        "hashtags": [{"tag": t} for t in (hashtags or "").split()],
        "mentions": [{"username": m} for m in (mentions or "").split()],
    }
    if kind in _KIND_TYPE:  # of the posts referred to, hashmon keeps the retweeted one's id
        ref = {"type": _KIND_TYPE[kind], **({"id": retweeted} if retweeted else {})}
        post["referenced_tweets"] = [ref]
    metrics = {k: int(v) for k, v in zip(_COUNTS, counts, strict=True) if v is not None}
    if metrics:
        post["public_metrics"] = metrics
    if gone_at:
        post["hashmon_gone"] = True  # deleted or withheld on X since: no text kept
    user: dict[str, Any] = {"id": str(author_id)}
    if username is not None:
        user["username"] = username
    if name is not None:
        user["name"] = name
    if followers is not None:
        user["public_metrics"] = {"followers_count": int(followers)}
    return post, user


def write_archive(conn: Connection, settings: Settings, path: Path) -> int:
    """Write the window's posts to ``path`` as gzipped JSON lines; return how many posts."""
    n = 0
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        for page in archive_pages(conn, settings):
            n += len(page["data"])
            gz.write(json.dumps(page, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return n


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


# --- verifying ------------------------------------------------------------------------


@dataclass
class Verdict:
    """What verify-pack found: ``problems`` empty means every check passed."""

    problems: list[str] = field(default_factory=list)
    figures_checked: int = 0
    note: str | None = None  # what could not be checked, though nothing failed

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_pack(path: str | Path) -> Verdict:
    """Check a pack's checksums, then recompute its figures from its archive and compare.

    Raises HashmonError when ``path`` is not a readable zip or holds no ``SHA256SUMS``.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            entries = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
    except FileNotFoundError:
        raise HashmonError(f"{path}: no such file; give the path of a hashmon pack") from None
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise HashmonError(f"{path} is not a readable zip ({exc}); give a hashmon pack") from None
    if SUMS not in entries:
        raise HashmonError(f"{path} holds no {SUMS}: it is not a hashmon pack")
    verdict = Verdict(problems=check_sums(entries))
    if verdict.problems:
        return verdict
    if ARCHIVE not in entries:
        verdict.note = (
            f"every checksum equal; a shareable pack holds no {ARCHIVE}, so its figures "
            "cannot be recomputed from it"
        )
        return verdict
    _compare_figures(entries, verdict)
    return verdict


def check_sums(entries: dict[str, bytes]) -> list[str]:
    """Return one line per file whose fingerprint differs, is missing or is not listed."""
    listed: dict[str, str] = {}
    problems = []
    for line in entries[SUMS].decode("utf-8", "replace").splitlines():
        digest, sep, name = line.partition("  ")
        if not sep:
            problems.append(f"{SUMS} has a line that is not 'checksum  file': {line[:80]!r}")
            continue
        listed[name] = digest
    for name, digest in listed.items():
        if name not in entries:
            problems.append(f"{name}: listed in {SUMS} but missing from the pack")
        elif hashlib.sha256(entries[name]).hexdigest() != digest:
            problems.append(f"{name}: changed since the pack was written (checksum differs)")
    for name in sorted(set(entries) - set(listed) - {SUMS}):
        problems.append(f"{name}: not listed in {SUMS} (added after the pack was written)")
    return problems


def _compare_figures(entries: dict[str, bytes], verdict: Verdict) -> None:
    from monitor.archive import import_files
    from monitor.store.engine import make_engine
    from reports.stats import stats_object

    reports = [n for n in entries if n.startswith("summary/") and n.endswith(".json")]
    if len(reports) != 1:
        verdict.problems.append("the pack holds no single summary JSON file under summary/")
        return
    try:
        claimed = json.loads(entries[reports[0]])["figures"]
    except (ValueError, KeyError, TypeError):
        verdict.problems.append(f"{reports[0]} holds no figures to compare")
        return
    try:
        config = tomllib.loads(entries["config.toml"].decode("utf-8"))
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        verdict.problems.append(f"config.toml is missing or unreadable ({exc})")
        return
    with tempfile.TemporaryDirectory(prefix="hashmon-verify-") as tmp:
        archive = Path(tmp) / ARCHIVE
        archive.write_bytes(entries[ARCHIVE])
        db = Path(tmp) / "verify.db"
        for name, data in entries.items():
            if name.startswith("stakeholders/"):
                (Path(tmp) / name).parent.mkdir(exist_ok=True)
                (Path(tmp) / name).write_bytes(data)
        if isinstance(config.get("stakeholders"), dict):
            # the lists' paths are relative to config.toml, inside the pack
            config["stakeholders"] = {
                k: str(Path(tmp) / v)
                for k, v in config["stakeholders"].items()
                if isinstance(v, str)
            }
        settings = parse_settings(
            {**config, "database": {"url": f"sqlite:///{db}"}}, "config.toml in the pack"
        )
        engine = make_engine(settings.database.url)
        try:
            import_files(engine, [archive])
            with snapshot(engine) as conn:
                recomputed = stats_object(conn, settings)
        finally:
            engine.dispose()
    for key in ("days", "totals", "groups"):
        if key in claimed or key in recomputed:
            verdict.figures_checked += _diff(
                key, claimed.get(key), recomputed.get(key), verdict.problems
            )


def _diff(where: str, claimed: Any, recomputed: Any, problems: list[str]) -> int:
    """Append a line per figure that differs; return how many figures were compared."""
    if isinstance(claimed, dict) and isinstance(recomputed, dict):
        return sum(
            _diff(f"{where}.{k}", claimed.get(k), recomputed.get(k), problems)
            for k in sorted(set(claimed) | set(recomputed), key=str)
        )
    if isinstance(claimed, list) and isinstance(recomputed, list):
        if len(claimed) != len(recomputed):
            problems.append(f"{where}: {len(claimed)} in the pack, {len(recomputed)} recomputed")
            return 1
        return sum(
            _diff(f"{where}[{i}]", a, b, problems)
            for i, (a, b) in enumerate(zip(claimed, recomputed, strict=True))
        )
    if not _same(claimed, recomputed):
        problems.append(f"{where}: {claimed!r} in the pack, {recomputed!r} recomputed")
    return 1


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b

"""``hashmon verify-pack``: the pack's checksums, and its figures recomputed from its
archive in a new, empty database and compared with the summary's."""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import tomllib
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import parse_settings
from monitor.errors import HashmonError
from monitor.store.engine import snapshot
from reports.pack_archive import ARCHIVE

SUMS = "SHA256SUMS"
EQUAL = "every figure recomputed and equal"


def sums_text(entries: dict[str, bytes]) -> str:
    """Return ``sha256sum`` lines for every entry, sorted by name (``sha256sum -c`` reads it)."""
    return "".join(
        f"{hashlib.sha256(entries[name]).hexdigest()}  {name}\n" for name in sorted(entries)
    )


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

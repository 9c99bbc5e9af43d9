"""``python -m bench``: hashmon beside a floor and a peer, in one run, on the same data.

Every contender runs in a subprocess of its own, as a user would run it; the bench takes
its wall time, its peak RSS (``os.wait4``: that process alone) and the 1-minute load
average just before it starts (the machine is shared: the load says how far to trust a
figure). Runs of the contenders of one table section are interleaved (floor, hashmon,
peer, floor, ...), so a burst of load spreads over all of them. Each row prints the
median of its runs and its ratio to the floor of its section: ``× floor`` = its time
divided by the floor's, for the same posts.

Sections, per corpus size: importing the twarc2 file (floor: bench/floor.py; hashmon
into SQLite and into PostgreSQL; peer: ``sqlite-utils insert`` of the same posts,
flattened first, untimed); then, over the largest size's hashmon SQLite database, the
week's figures (floor: one GROUP BY; ``hashmon stats --json``; ``hashmon report
summary``; ``hashmon report summary --pack``, whose pack takes the rest of its time;
the naive pandas way). Last, ``cost`` (bench/cost.py): the simulated week's
post reads and charged reads under the old and new refresh schedules, each report's
engagements against the truth, ``hashmon plan``'s forecast. ``--only speed`` or
``--only cost`` runs one part; ``--quick`` leaves cost out unless asked for by name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.corpus import OUT, ensure_corpus, parse_size, size_label
from bench.cost import cost_section
from bench.idle import measure_idle
from bench.stakeholders import write_lists
from monitor.settings import Settings
from reports.periods import offset_segments

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get(
    "HASHMON_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DB = "hashmon_bench"
TARGETS = {
    "import-sqlite": 1 / 0.70,  # >= 70 % of the floor's posts/s
    "stats": 1.5,  # within 1.5x the floor's query time
}


@dataclass
class Run:
    seconds: float
    rss_mb: float
    load: float


@dataclass
class Row:
    section: str  # "import 1m", "week 1m"
    name: str
    posts: int  # what posts/s divides by
    runs: list[Run] = field(default_factory=list)
    floor: bool = False
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.runs)

    @property
    def load(self) -> float:
        return statistics.mean(r.load for r in self.runs)


def _env() -> dict[str, str]:
    # the contenders see no config or database of the user's: built-in defaults only
    return {k: v for k, v in os.environ.items() if not k.startswith("HASHMON_")}


def _vm_hwm_kib(pid: int) -> int:
    """Return the peak RSS so far of a running process (Linux), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _descendants(pid: int) -> list[int]:
    """Return the processes started by ``pid`` and theirs (Linux), as far as visible now."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def measure(cmd: Sequence[str | Path], cwd: Path, log: Path) -> Run:
    """Run ``cmd`` to completion and return its wall time, peak RSS and the load before it.

    Peak RSS is the process's own VmHWM, read every 10 ms while it runs (getrusage would
    include the bench's own memory, which a forked child starts with), plus the peak of
    each process it starts (hashmon's import reads big files in a child): a sum of peaks,
    so never less than the most the tree held at once. Raises RuntimeError, pointing at
    the log, when the command fails.
    """
    load = os.getloadavg()[0]
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(c) for c in cmd], cwd=cwd, env=_env(), stdout=out, stderr=subprocess.STDOUT
        )
        peaks: dict[int, int] = {}
        own = None
        while True:
            own = own or _cmdline(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            for p in _descendants(proc.pid):
                # a child between fork and exec is still the parent's image: not its own
                if _cmdline(p) not in (None, own):
                    peaks[p] = max(peaks.get(p, 0), _vm_hwm_kib(p))
            peaks[proc.pid] = max(peaks.get(proc.pid, 0), _vm_hwm_kib(proc.pid))
            time.sleep(0.01)
        peak = sum(peaks.values())
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-800:]
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{tail}")
    # without /proc (not Linux) fall back to getrusage, an upper bound (KiB on Linux)
    return Run(seconds, (peak or usage.ru_maxrss) / 1024, load)


def _fresh_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def pg_reachable(admin: str) -> str | None:
    """Return None when PostgreSQL answers at ``admin``, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install hashmon[bench])"
    try:
        with psycopg.connect(_libpq(admin), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def fresh_pg(admin: str) -> str:
    """Drop and create the bench database; return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return admin.rsplit("/", 1)[0] + "/" + PG_DB


def flatten(corpus: Path, out: Path) -> Path:
    """Return the corpus as one JSON post a line with its author inline (cached).

    Roughly what ``twarc2 flatten`` writes: what a user hands to ``sqlite-utils insert``.
    """
    flat = out / (corpus.stem + ".flat.jsonl")
    done = flat.with_suffix(".done")
    if flat.exists() and done.exists() and done.read_text() == str(corpus.stat().st_size):
        return flat
    tmp = flat.with_suffix(".partial")
    with corpus.open("rb", buffering=1 << 20) as src, tmp.open("wb") as dst:
        for line in src:
            page = orjson.loads(line)
            users = {u["id"]: u for u in page.get("includes", {}).get("users", ())}
            for post in page.get("data", ()):
                author = users.get(post.get("author_id"))
                dst.write(orjson.dumps({**post, "author": author} if author else post) + b"\n")
    tmp.replace(flat)
    done.write_text(str(corpus.stat().st_size))
    return flat


def window(settings: Settings) -> tuple[int, int, int, str, str]:
    """Return (lo, hi, offset, hashtag, account) of the campaign window for the floors."""
    c = settings.campaign
    segments = offset_segments(c.start, c.end, c.tz)
    if len(segments) != 1:
        raise SystemExit("the bench campaign must not span a summer-time change")
    seg = segments[0]
    return seg.lo, seg.hi, seg.offset, c.hashtag_terms[0], c.account_terms[0]


def _runs_for(posts: int, runs: int) -> int:
    # a million posts take a minute a run: half the runs there keeps the bench under 10 min
    return runs if posts < 1_000_000 else max(1, math.ceil(runs / 2))


def bench_imports(
    label: str, corpus: Path, meta: dict, out: Path, runs: int, pg: str | None, say
) -> list[Row]:
    """Return the import rows of one corpus; leaves hashmon's SQLite database behind."""
    flat = flatten(corpus, out)
    sightings = meta["sightings"]
    section = f"import {label}"
    floor_db, hm_db, peer_db = (out / f"{n}-{label}.db" for n in ("floor", "hashmon", "peer"))
    rows = {
        "floor": Row(section, "floor: sqlite3 + orjson, one executemany", sightings, floor=True),
        "sqlite": Row(section, "hashmon import → SQLite", sightings),
        "pg": Row(section, "hashmon import → PostgreSQL", sightings, note="RSS: client only"),
        "peer": Row(
            section, "peer: sqlite-utils insert --nl (posts)", sightings, note="flattening untimed"
        ),
    }
    logs = out / "logs"
    for i in range(runs):
        say(f"  {section}: run {i + 1} of {runs}")
        _fresh_sqlite(floor_db)
        rows["floor"].runs.append(
            measure(
                [sys.executable, "-m", "bench.floor", "import", corpus, floor_db],
                ROOT,
                logs / "floor.log",
            )
        )
        _fresh_sqlite(hm_db)
        rows["sqlite"].runs.append(
            measure(
                [BIN / "hashmon", "--database", f"sqlite:///{hm_db}", "import", corpus],
                out,
                logs / "hashmon-sqlite.log",
            )
        )
        if pg is not None:
            url = fresh_pg(pg)
            rows["pg"].runs.append(
                measure(
                    [BIN / "hashmon", "--database", url, "import", corpus],
                    out,
                    logs / "hashmon-pg.log",
                )
            )
        _fresh_sqlite(peer_db)
        rows["peer"].runs.append(
            measure(
                [
                    BIN / "sqlite-utils",
                    "insert",
                    peer_db,
                    "posts",
                    flat,
                    "--nl",
                    "--pk",
                    "id",
                    "--replace",
                    "--alter",
                ],
                out,
                logs / "peer.log",
            )
        )
    for db in (floor_db, peer_db):
        _fresh_sqlite(db)  # gigabytes each at 1m; hashmon's stays for the week section
    if pg is None:
        del rows["pg"]
    return list(rows.values())


PACK = "hashmon report summary --pack"


def bench_week(
    label: str, db: Path, settings: Settings, out: Path, runs: int, say
) -> tuple[list[Row], list[str]]:
    """Return the rows of the week's figures over hashmon's database, and sanity notes."""
    lo, hi, offset, tag, account = window(settings)
    with sqlite3.connect(db) as conn:
        posts = conn.execute(
            "SELECT COUNT(*) FROM posts WHERE created_at_us >= ? AND created_at_us < ?", (lo, hi)
        ).fetchone()[0]
    section = f"week {label}"
    window_args = [lo, hi, offset, tag, account]
    rows = {
        "floor": Row(section, "floor: sqlite3, one GROUP BY day", posts, floor=True),
        "stats": Row(section, "hashmon stats --json", posts),
        "stakeholders": Row(section, "hashmon stakeholders --json (1,000 + 650)", posts),
        "report": Row(section, "hashmon report summary (all formats)", posts),
        "pack": Row(section, PACK, posts, note="the summary, then its pack"),
        "naive": Row(section, "naive: pandas read_sql + groupby", posts),
    }
    logs = out / "logs"
    url = f"sqlite:///{db}"
    reports = out / "reports"
    lists = write_lists(db, out / "lists")
    for i in range(runs):
        say(f"  {section}: run {i + 1} of {runs}")
        rows["floor"].runs.append(
            measure(
                [sys.executable, "-m", "bench.floor", "stats", db, *window_args],
                ROOT,
                logs / "floor-stats.log",
            )
        )
        rows["stats"].runs.append(
            measure(
                [BIN / "hashmon", "--database", url, "stats", "--json"], out, logs / "stats.json"
            )
        )
        rows["stakeholders"].runs.append(
            measure(
                [BIN / "hashmon", "--config", lists, "--database", url, "stakeholders", "--json"],
                out,
                logs / "stakeholders.json",
            )
        )
        shutil.rmtree(reports, ignore_errors=True)
        rows["report"].runs.append(
            measure(
                [BIN / "hashmon", "--database", url, "report", "summary", "--out", reports],
                out,
                logs / "report.log",
            )
        )
        shutil.rmtree(reports, ignore_errors=True)
        rows["pack"].runs.append(
            measure(
                [BIN / "hashmon", "--database", url, "report", "summary", "--out", reports]
                + ["--pack"],
                out,
                logs / "pack.log",
            )
        )
        rows["naive"].runs.append(
            measure(
                [sys.executable, "-m", "bench.naive", db, *window_args],
                ROOT,
                logs / "naive.log",
            )
        )
    # the floor and hashmon must agree on what they count, or the ratio means nothing
    notes = []
    floor_posts = [
        int(line.split()[1]) for line in (logs / "floor-stats.log").read_text().split("\n") if line
    ]
    raw = (logs / "stats.json").read_bytes()  # stderr too: a note on the defaults comes first
    stats = orjson.loads(raw[raw.index(b"{") :])
    hm_posts = [d["posts"] for d in stats["days"]]
    if floor_posts != hm_posts:
        notes.append(f"WARNING: posts per day differ: floor {floor_posts}, hashmon {hm_posts}")
    return list(rows.values()), notes


def _fmt_rate(posts: int, seconds: float) -> str:
    return f"{posts / seconds:,.0f}" if seconds > 0 else "-"


def table(rows: list[Row]) -> list[str]:
    """Return the table lines: one per row, with the ratio to the floor of its section."""
    floors = {r.section: r.median for r in rows if r.floor}
    head = (
        f"{'section':<12} {'contender':<42} {'runs':>4} {'median s':>9} {'posts/s':>10} "
        f"{'peak RSS MB':>11} {'× floor':>8} {'load':>5}  note"
    )
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last is not None and r.section != last:
            lines.append("")
        last = r.section
        ratio = r.median / floors[r.section] if r.section in floors else float("nan")
        lines.append(
            f"{r.section:<12} {r.name:<42} {len(r.runs):>4} {r.median:>9.2f} "
            f"{_fmt_rate(r.posts, r.median):>10} {r.rss:>11.0f} {ratio:>8.2f} {r.load:>5.2f}  "
            f"{r.note}".rstrip()
        )
    return lines


def verdicts(rows: list[Row]) -> list[str]:
    """Return one line per target of the performance issue: the figure, met or not."""
    by = {(r.section, r.name): r for r in rows}
    floors = {r.section: r for r in rows if r.floor}
    out = []
    for (section, name), r in by.items():
        floor = floors.get(section)
        if floor is None or r is floor:
            continue
        share = floor.median / r.median
        if name.startswith("hashmon import → SQLite"):
            out.append(
                f"{section}: hashmon SQLite at {share:.0%} of the floor's posts/s "
                f"(target ≥ 70 %: {'met' if share >= 0.70 else 'NOT met'}); "
                f"peak RSS {r.rss:.0f} MB (target ≤ 150: {'met' if r.rss <= 150 else 'NOT met'})"
            )
        elif name.startswith("hashmon import → PostgreSQL"):
            sq = by.get((section, "hashmon import → SQLite"))
            if sq is not None:
                rel = sq.median / r.median
                out.append(
                    f"{section}: hashmon PostgreSQL at {rel:.0%} of hashmon SQLite's posts/s "
                    f"(target ≥ 50 %: {'met' if rel >= 0.5 else 'NOT met'})"
                )
        elif name.startswith("hashmon stats"):
            ratio = r.median / floor.median
            out.append(
                f"{section}: hashmon stats --json at {ratio:.2f}× the floor's time "
                f"(target ≤ 1.5×: {'met' if ratio <= 1.5 else 'NOT met'}); peak RSS "
                f"{r.rss:.0f} MB (target ≤ 150: {'met' if r.rss <= 150 else 'NOT met'})"
            )
        elif name.startswith("hashmon stakeholders"):
            stats = by.get((section, "hashmon stats --json"))
            if stats is not None:
                rel = r.median / stats.median
                out.append(
                    f"{section}: hashmon stakeholders --json (1,000 supporters, 650 decision "
                    f"makers) at {rel:.2f}× hashmon stats --json "
                    f"(target < 2×: {'met' if rel < 2 else 'NOT met'})"
                )
        elif name == PACK:
            summary = by.get((section, "hashmon report summary (all formats)"))
            if summary is not None:
                # the command writes the summary first: the pack's own time is the rest
                rel = (r.median - summary.median) / summary.median
                out.append(
                    f"{section}: the impact pack written in {rel:.2f}× the time of hashmon "
                    f"report summary (target < 3×: {'met' if rel < 3 else 'NOT met'})"
                )
        elif name.startswith("hashmon report summary"):
            out.append(
                f"{section}: hashmon report summary in {r.median:.1f} s "
                f"(target ≤ 4 s: {'met' if r.median <= 4 else 'NOT met'})"
            )
    return out


def machine() -> str:
    """Return one line describing where the figures come from."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node() or 'host'}: {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def speed_sections(
    args: argparse.Namespace,
    sizes: list[int],
    runs: int,
    out: Path,
    settings: Settings,
    say: Callable[[str], None],
) -> list[str]:
    """Run the speed sections (imports, the week's figures, idle) and return their lines."""
    pg: str | None = None
    pg_note = ""
    if args.pg.lower() != "none":
        problem = pg_reachable(args.pg)
        if problem is None:
            pg = args.pg
        else:
            pg_note = f"PostgreSQL rows skipped: {problem}"
            say(pg_note)
    rows: list[Row] = []
    notes: list[str] = []
    corpora = []
    for posts in sizes:
        corpus, meta = ensure_corpus(settings, posts, out, say)
        corpora.append((size_label(posts), meta))
        rows += bench_imports(size_label(posts), corpus, meta, out, _runs_for(posts, runs), pg, say)
    biggest = size_label(sizes[-1])
    week_rows, week_notes = bench_week(
        biggest, out / f"hashmon-{biggest}.db", settings, out, _runs_for(sizes[-1], runs), say
    )
    rows += week_rows
    notes += week_notes
    idle = None
    if args.idle_seconds > 0 and Path("/proc/self/stat").exists():
        say(f"  hashmon run: sampling {args.idle_seconds:.0f} s after its start-up pass")
        load = os.getloadavg()[0]
        cpu, rss = measure_idle(out, args.idle_seconds if not args.quick else 3.0, _env())
        idle = (
            f"hashmon run, idle after its start-up pass: {cpu:.2f} % CPU, {rss:.0f} MB RSS "
            f"(target ≤ 1 % and ≤ 150 MB: {'met' if cpu <= 1 and rss <= 150 else 'NOT met'}; "
            f"load {load:.2f})"
        )
    lines: list[str] = []
    for label, meta in corpora:
        lines.append(
            f"corpus {label}: {meta['posts']:,} posts, {meta['sightings']:,} sightings "
            f"(repeats included: what posts/s counts for imports) in {meta['pages']:,} "
            f"twarc2 lines, {meta['bytes'] / 1e6:,.0f} MB"
        )
    lines.append(
        "week: posts/s counts the window's posts; × floor = time / the floor's time "
        "(import: 1.43 = 70 % of its posts/s)"
    )
    lines.append("")
    lines += table(rows)
    lines.append("")
    lines += verdicts(rows)
    if idle:
        lines.append(idle)
    if pg_note:
        lines.append(pg_note)
    lines += notes
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="hashmon beside a plain-sqlite3 floor and sqlite-utils, on the same data.",
    )
    parser.add_argument("--sizes", default="100k,1m", help="corpus sizes (default 100k,1m)")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (1m: half)")
    parser.add_argument("--quick", action="store_true", help="a 2k corpus, one run: a smoke test")
    parser.add_argument("--out", type=Path, default=OUT, help="corpora, databases, logs")
    parser.add_argument(
        "--pg", default=PG_ADMIN, help="PostgreSQL admin URL, or 'none' (env HASHMON_BENCH_PG)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="sample an idle hashmon run (0: skip)"
    )
    parser.add_argument(
        "--only",
        choices=("speed", "cost"),
        help="one part: speed (imports, the week's figures, idle) or cost (the simulated week)",
    )
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in ("2k" if args.quick else args.sizes).split(",") if s]
    runs = 1 if args.quick else max(1, args.runs)
    out: Path = args.out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    settings = Settings()  # the built-in #IMHAW17 campaign: the simulator's and the CLI's

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    lines = [f"hashmon bench, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}"]
    if args.only != "cost":
        lines += speed_sections(args, sizes, runs, out, settings, say)
    if args.only == "cost" or (args.only is None and not args.quick):
        lines += ["", *cost_section(out / "cost", say)]
    lines.append(f"bench took {time.perf_counter() - started:.0f} s")
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

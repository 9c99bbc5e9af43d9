"""Crash tests: ``hashmon collect`` and ``hashmon import`` killed with SIGKILL at random
points, many times; after each kill a rerun leaves the database equal to a clean run's.

Each trial starts a ``hashmon`` process on an empty database (forked from the test
process, ``tests.harness.fork_hashmon``: ``jobs.cli.main`` in a process of its own, without
a new interpreter's second of imports), kills it (seeded
random points: a collect at the arrival of a chosen API request plus a random part of a
page's time, or at a random moment of a clean run's measured duration, start-up
included; an import once it has read a random part of a chosen archive file, an event
read from /proc, so the kill lands mid-run however loaded the machine),
checks that what the killed process left is consistent (the checkpoint never claims a
post that is not stored), reruns the command to completion and compares the database
with the clean reference: the same posts with the same figure columns, the same
``hashmon stats --json``, one observation per post (nothing read twice), the
checkpoint at the newest post and no interrupted pass on record.

Short mode (the default, and CI) runs ``COLLECT_KILLS`` + ``PG_COLLECT_KILLS`` and
``IMPORT_KILLS`` + ``PG_IMPORT_KILLS`` kill points; ``HASHMON_LONG=1`` runs five times
as many. ``HASHMON_CRASH_SEED`` changes the seed (default 20170612). The kill points
of a series are drawn from the seed up front and run in chunks of ``CHUNK`` trials, each
chunk a test of its own, all in one pytest-xdist group (the worker that runs them makes one
clean reference run), so the series spread over the cores beside the rest of the suite;
together the chunks run every trial of the series.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bench.twarc import write_twarc_jsonl
from monitor.config import API_BASE_ENV
from monitor.settings import Settings
from monitor.sources.simulated import simulate_campaign
from monitor.sources.x import TOKEN_ENV
from monitor.store.engine import make_engine
from tests.conftest import make_db_url
from tests.fakex import FakeXServer, simulated_pages
from tests.harness import (
    Forked,
    cli_main,
    figure_snapshot,
    fork_hashmon,
    stats_json,
    write_config,
    x_env,
)
from tests.xapi import CHAIN_FILE, TOKEN, FakeX

LONG = os.environ.get("HASHMON_LONG") == "1"
SCALE = 5 if LONG else 1
SEED = int(os.environ.get("HASHMON_CRASH_SEED", "20170612"))
COLLECT_KILLS = 50 * SCALE
PG_COLLECT_KILLS = 10 * SCALE
IMPORT_KILLS = 50 * SCALE
PG_IMPORT_KILLS = 10 * SCALE
CORPUS_POSTS = 800  # 8 pages of 100: enough page boundaries to land between
PAGE_DELAY = 0.03  # seconds the fake API takes per page, so a pass lasts ~1 s
CHUNK = 10  # trials per test: small enough for xdist to balance the series over cores

pytestmark = pytest.mark.slow


def _chunks(what: str, kind: str, kills: int) -> list[Any]:
    """The parameters of a series of ``kills`` trials cut into chunks of ``CHUNK``, all
    given to one pytest-xdist worker (its group): the series' clean reference is then
    run once, not once in each worker."""
    group = pytest.mark.xdist_group(f"crash-{what}-{kind}")
    return [
        pytest.param(kind, start, min(start + CHUNK, kills), id=f"{kind}-{start}", marks=group)
        for start in range(0, kills, CHUNK)
    ]


def _collect_plan(kills: int, pages: int) -> list[tuple[int | None, float]]:
    """Where each collect trial kills, drawn from the seed: (page, fraction of a page's
    time) or (None, fraction of the time from half the start-up to a clean run's end)."""
    rng = random.Random(SEED)
    plan: list[tuple[int | None, float]] = []
    for _ in range(kills):
        if rng.random() < 0.2:
            plan.append((None, rng.random()))  # anywhere, start-up included
        else:
            plan.append((rng.randint(1, pages), rng.random()))
    return plan


def _import_plan(kills: int, files: int) -> list[tuple[int, float]]:
    """Where each import trial kills, drawn from the seed: (archive file, fraction of its
    bytes read); fractions stop short of the end so the kill never races the commit."""
    rng = random.Random(SEED + 1)
    return [(rng.randrange(files), rng.random() * 0.9) for _ in range(kills)]


def _read_into(pid: int, path: Path) -> int | None:
    """Return how far the import ``pid`` (with its reader child) has read ``path``: the
    least offset of its open descriptors of it (the reader's, and the digest thread's
    while it hashes); None while none is open. Read from /proc, as the kernel sees it."""
    target = str(path.resolve())
    offsets = []
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += map(int, (task / "children").read_text().split())
    for p in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{p}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        info = Path(f"/proc/{p}/fdinfo/{fd.name}").read_text()
                        offsets.append(int(info.split("pos:", 1)[1].split()[0]))
    return min(offsets) if offsets else None


def _kill_when_read(proc: Forked, path: Path, fraction: float) -> None:
    """Wait until the import ``proc`` has read ``fraction`` of ``path`` (an event the
    kernel reports, not a time a loaded machine can stretch), or has ended.

    The file is read a megabyte at a time: its offset can jump past ``fraction`` to the
    end and the file be closed between two looks, so a file seen open and then closed
    has been read whole (its last records are still being stored).
    """
    wanted = int(path.stat().st_size * fraction)
    deadline = time.monotonic() + 300
    seen = False
    while proc.poll() is None and time.monotonic() < deadline:
        done = _read_into(proc.pid, path)
        if (done is not None and done >= wanted) or (done is None and seen):
            return
        seen = seen or done is not None
        # a look reads /proc (~0.3 ms of CPU, taken from the import); a megabyte read
        # takes the import tens of milliseconds to parse and store, so the kill still
        # lands within the part drawn
        time.sleep(0.003)


@dataclass
class Tally:
    """What a series of trials did, printed for docs/RELIABILITY.md."""

    name: str
    trials: int = 0
    killed: int = 0  # the process was still running when SIGKILL arrived
    left_interrupted: int = 0  # ... and left an interrupted pass for the rerun to resume
    lost: int = 0
    doubled: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"[crash] {self.name}: {self.trials} trials, {self.killed} killed mid-run, "
            f"{self.left_interrupted} left an interrupted pass; {self.lost} lost, "
            f"{self.doubled} doubled"
        )


def _kill(proc: Forked) -> bool:
    """SIGKILL ``proc`` if it is still running; return True if it was."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reap it: a zombie would still look alive to the lease
    return alive and proc.returncode == -signal.SIGKILL


def _startup_seconds(config: Path, env: dict[str, str]) -> float:
    """Return how long ``hashmon init`` takes: the start-up every command pays first."""
    started = time.monotonic()
    proc = fork_hashmon(["--config", str(config), "init"], env, config.parent)
    proc.communicate(timeout=60)
    return time.monotonic() - started


def _stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT id FROM posts"))}


def _id_key(i: str) -> tuple[int, str]:
    return (len(i), i)


def _assert_checkpoint_trustworthy(engine: Engine, corpus: list[str]) -> bool:
    """Check that what a killed pass left never claims more than is stored.

    Pages come newest first from an empty database, so the stored posts must be exactly
    the corpus from the newest down to the interrupted pass's oldest id (or all of it
    up to ``newest_id`` once the pass finished). Return True if a pass was interrupted.
    """
    with engine.connect() as conn:
        cp = conn.execute(
            text("SELECT newest_id, pass_newest_id, pass_oldest_id FROM checkpoints")
        ).first()
    stored = _stored_ids(engine)
    if cp is None:
        assert stored == set(), "posts stored with no checkpoint"
        return False
    newest_id, pass_newest, pass_oldest = cp
    if pass_oldest is not None:
        expected = {i for i in corpus if _id_key(i) >= _id_key(pass_oldest)}
        assert pass_newest == max(corpus, key=_id_key)
        assert stored == expected, "the interrupted pass's markers do not match what is stored"
        return True
    assert newest_id == max(corpus, key=_id_key)
    assert stored == set(corpus)
    return False


def _compare(engine: Engine, db_url: str, reference: dict[str, Any], tally: Tally) -> None:
    snap = figure_snapshot(engine)
    stored = {r[1] for r in snap["posts"]}
    expected = {r[1] for r in reference["snapshot"]["posts"]}
    tally.lost += len(expected - stored)
    tally.doubled += snap["observations"] - len(snap["posts"])
    assert snap == reference["snapshot"]
    assert stats_json(db_url) == reference["stats"]


# --- collect ---------------------------------------------------------------------------

# the clean references, one per database kind and test process: every chunk a process
# runs compares with the same one
_REFERENCES: dict[Any, dict[str, Any]] = {}


def _collect_reference(
    kind: str, fresh: Any, env: dict[str, str], server: FakeXServer, posts: int
) -> dict[str, Any]:
    """Return the clean, timed reference run of ``kind``: its figures, the requests it
    made and how long it and a start-up took (they place the kill points)."""
    if kind not in _REFERENCES:
        url, config = fresh("reference")
        server.reset_counts()
        started = time.monotonic()
        proc = fork_hashmon(["--config", str(config), "collect"], env, config.parent)
        _, err = proc.communicate(timeout=120)
        duration = time.monotonic() - started
        assert proc.returncode == 0, err
        requests = server.arrived
        assert requests == posts // 100
        engine = make_engine(url)
        figures = {"snapshot": figure_snapshot(engine), "stats": stats_json(url)}
        engine.dispose()
        assert figures["snapshot"]["observations"] == posts
        _REFERENCES[kind] = {
            "figures": figures,
            "requests": requests,
            "duration": duration,
            "startup": _startup_seconds(config, env),
        }
    return _REFERENCES[kind]


@pytest.fixture(scope="module")
def corpus_pages() -> list[dict[str, Any]]:
    return simulated_pages(CORPUS_POSTS)


@pytest.mark.parametrize(
    ("kind", "start", "stop"),
    _chunks("collect", "sqlite", COLLECT_KILLS)
    + _chunks("collect", "postgresql", PG_COLLECT_KILLS),
)
def test_collect_killed_at_random_points_then_rerun_equals_a_clean_run(
    tmp_path: Path,
    monkeypatch,
    corpus_pages: list[dict[str, Any]],
    kind: str,
    start: int,
    stop: int,
) -> None:
    fake = FakeX(corpus_pages)
    corpus = list(fake.posts)
    tally = Tally(f"collect/{kind} trials {start}-{stop - 1}")
    kills = stop - start
    with FakeXServer(fake, delay=PAGE_DELAY) as server:
        env = x_env(server.url)
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        monkeypatch.setenv(API_BASE_ENV, server.url)

        def fresh(name: str) -> tuple[str, Path]:
            folder = tmp_path / name
            folder.mkdir()
            url = make_db_url(kind, folder)
            return url, write_config(folder / "hashmon.toml", url)

        ref = _collect_reference(kind, fresh, env, server, len(corpus))
        reference, requests = ref["figures"], ref["requests"]
        duration, startup = ref["duration"], ref["startup"]
        per_page = duration / (requests + 1)  # ~ one page's share, start-up counted once

        plan = _collect_plan(stop, requests)
        for trial in range(start, stop):
            page, fraction = plan[trial]
            url, config = fresh(f"t{trial}")
            server.reset_counts()
            proc = fork_hashmon(["--config", str(config), "collect"], env, config.parent)
            if page is None:
                # anywhere in a run, start-up (imports, schema, lease, run row) included
                low = startup * 0.5
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=low + (duration - low) * fraction)
            else:
                # at page k: while its answer is awaited, parsed, stored or committed
                server.wait_for(page, timeout=60)
                time.sleep(per_page * fraction)
            tally.trials += 1
            tally.killed += _kill(proc)
            engine = make_engine(url)
            try:
                tally.left_interrupted += _assert_checkpoint_trustworthy(engine, corpus)
                assert cli_main(["--config", str(config), "collect"]) == 0
                _compare(engine, url, reference, tally)
                with engine.connect() as conn:
                    assert conn.execute(text("SELECT COUNT(*) FROM leases")).scalar() == 0
            finally:
                engine.dispose()
            if kind == "sqlite":
                shutil.rmtree(config.parent)
    print(tally.line())
    assert tally.killed >= kills * 0.6, tally.line()  # most kill points land mid-run
    assert tally.left_interrupted >= kills * 0.3, tally.line()
    assert (tally.lost, tally.doubled) == (0, 0)


# --- import ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three archives as users have them: simulated JSONL with repeat sightings, the
    same campaign's later polls gzipped, and a real recorded twarc2 file."""
    folder = tmp_path_factory.mktemp("archives")
    campaign = simulate_campaign(Settings(), seed=11, posts=1500)
    first = folder / "imhaw17-search.jsonl"
    write_twarc_jsonl(campaign, first, repeat_every=4)
    second = folder / "imhaw17-later.jsonl.gz"
    later = simulate_campaign(Settings(), seed=12, posts=500)
    write_twarc_jsonl(later, second, gzip=True, repeat_every=3)
    third = folder / CHAIN_FILE.name
    shutil.copy(CHAIN_FILE, third)
    return [first, second, third]


def _runs(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    """Return (import runs, imported files) of a database."""
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT kind, status, posts_read, posts_new FROM collection_runs ORDER BY id")
        )
        files = conn.execute(text("SELECT sha256, pages, posts FROM imported_files"))
        return [tuple(r) for r in runs], sorted(tuple(r) for r in files)


@pytest.mark.parametrize(
    ("kind", "start", "stop"),
    _chunks("import", "sqlite", IMPORT_KILLS) + _chunks("import", "postgresql", PG_IMPORT_KILLS),
)
def test_import_killed_at_random_points_then_rerun_equals_a_clean_run(
    tmp_path: Path, archive_files: list[Path], kind: str, start: int, stop: int
) -> None:
    tally = Tally(f"import/{kind} trials {start}-{stop - 1}")
    env = x_env("http://127.0.0.1:9")  # never used: import reads files only
    args = ["import", *map(str, archive_files)]

    def fresh(name: str) -> tuple[str, Path]:
        folder = tmp_path / name
        folder.mkdir()
        url = make_db_url(kind, folder)
        return url, write_config(folder / "hashmon.toml", url)

    if ("import", kind) not in _REFERENCES:
        url, config = fresh("reference")
        proc = fork_hashmon(["--config", str(config), *args], env, config.parent)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        engine = make_engine(url)
        _REFERENCES["import", kind] = {
            "snapshot": figure_snapshot(engine),
            "stats": stats_json(url),
            "runs": _runs(engine),
        }
        engine.dispose()
    reference = _REFERENCES["import", kind]
    # repeat sightings: more observations than posts, all from the one import run
    assert reference["snapshot"]["observations"] > len(reference["snapshot"]["posts"])

    plan = _import_plan(stop, len(archive_files))
    for trial in range(start, stop):
        file, fraction = plan[trial]
        url, config = fresh(f"t{trial}")
        proc = fork_hashmon(["--config", str(config), *args], env, config.parent)
        # killed once the import has read a drawn part of a drawn file: always mid-run,
        # inside its transaction, whatever the machine's load
        _kill_when_read(proc, archive_files[file], fraction)
        tally.trials += 1
        tally.killed += _kill(proc)
        engine = make_engine(url)
        try:
            # one transaction: a killed import stored nothing at all, or everything
            left = _runs(engine)
            assert left in (([], []), reference["runs"]), left
            assert cli_main(["--config", str(config), *args]) == 0
            snap = figure_snapshot(engine)
            tally.lost += len(reference["snapshot"]["posts"]) - len(snap["posts"])
            tally.doubled += snap["observations"] - reference["snapshot"]["observations"]
            assert snap == reference["snapshot"]
            assert stats_json(url) == reference["stats"]
            runs, files = _runs(engine)
            assert files == reference["runs"][1]  # each file imported once, whole
            # a rerun after a completed import is one more run that changed nothing
            extra = [("import", "ok", 0, 0)] if left[0] else []
            assert runs == reference["runs"][0] + extra
        finally:
            engine.dispose()
        if kind == "sqlite":
            shutil.rmtree(config.parent)
    print(tally.line())
    assert tally.killed == stop - start, tally.line()  # every kill lands mid-run
    assert (tally.lost, tally.doubled) == (0, 0)

"""Concurrency: collectors, reports, ``stats`` and the scheduler at once, on SQLite and
PostgreSQL, as real ``hashmon`` processes (forked from this one: tests/harness.py) against
the fake X API on loopback.

What a user relies on: no "database is locked" (or any other) failure reaches them, two
passes never run side by side (the lease), no write is lost or doubled, and a report
or ``stats`` made while a pass writes shows one consistent moment of the data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from monitor.store.engine import make_engine
from monitor.store.schema import Base
from tests.conftest import make_db_url
from tests.fakex import FakeXServer, simulated_pages
from tests.harness import (
    Forked,
    clean_collect,
    figure_snapshot,
    fork_hashmon,
    stats_json,
    write_config,
    x_env,
)
from tests.xapi import FakeX

pytestmark = pytest.mark.slow  # real processes, minutes: make test and CI, not make quick

ROUNDS = 3 * (5 if os.environ.get("HASHMON_LONG") == "1" else 1)
CORPUS_POSTS = 1200
# dates wide enough to hold every simulated post, so days add up to the stored total
ALL_DATES = ("--from", "2017-06-01", "--to", "2017-06-25")
BAD_WORDS = ("locked", "Traceback", "unexpected failure")


@pytest.fixture(scope="module")
def corpus_pages() -> list[dict[str, Any]]:
    return simulated_pages(CORPUS_POSTS, seed=3)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, corpus_pages: list[dict[str, Any]]
) -> dict[str, Any]:
    """The database one clean collect of the whole corpus makes (figures and stats)."""
    return clean_collect(tmp_path_factory.mktemp("reference"), corpus_pages)


def _finish(proc: subprocess.Popen[str] | Forked, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _assert_clean_exit(name: str, code: int, out: str, err: str) -> None:
    assert code == 0, f"{name} exited {code}: {err}"
    for word in BAD_WORDS:
        assert word not in out + err, f"{name}: {word!r} in {err}"


def _assert_passes_never_overlapped(engine: Engine) -> int:
    """Check that API-reading runs (collect, refresh, backfill) ran one after another."""
    with engine.connect() as conn:
        runs = conn.execute(
            text(
                "SELECT started_at, finished_at, status FROM collection_runs "
                "WHERE kind IN ('collect', 'backfill', 'refresh') ORDER BY started_at"
            )
        ).all()
    assert all(r.status == "ok" for r in runs), runs
    for before, after in zip(runs, runs[1:], strict=False):
        assert before.finished_at <= after.started_at, (before, after)
    return len(runs)


def _assert_consistent(figures: dict[str, Any], low: int, high: int) -> None:
    """A report's figures are one moment of the data: its days add up to its totals, and
    that total lies between what was stored before it started and after it ended."""
    days = figures["days"]
    totals = figures["totals"]
    for key in ("posts", "originals", "retweets", "quotes", "replies", "like_count"):
        assert sum(d[key] for d in days) == totals[key], key
    assert low <= totals["posts"] <= high
    assert totals["posts"] <= figures["stored"]["posts"] <= high


@pytest.mark.slow  # long rounds of real processes: make test, not make quick
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_collectors_and_a_report_at_once_never_overlap_lose_or_double_a_post(
    tmp_path: Path,
    corpus_pages: list[dict[str, Any]],
    reference: dict[str, Any],
    kind: str,
) -> None:
    url = make_db_url(kind, tmp_path)
    config = write_config(tmp_path / "hashmon.toml", url)
    # (three commands creating the schema at once: the test after this one)
    make_engine(url).dispose()
    fake = FakeX(corpus_pages, published=0)
    step = CORPUS_POSTS // ROUNDS
    stored_before = 0
    passes = 0
    with FakeXServer(fake, delay=0.04) as server:
        env = x_env(server.url)
        for r in range(ROUNDS):
            fake.publish(step if r < ROUNDS - 1 else CORPUS_POSTS)
            out_dir = tmp_path / f"reports-{r}"
            base = ["--config", str(config)]
            procs = {
                "collector A": fork_hashmon([*base, "collect"], env, tmp_path),
                "report": fork_hashmon(
                    [*base, "report", "summary", "--out", str(out_dir)], env, tmp_path
                ),
                "collector B": fork_hashmon([*base, "collect"], env, tmp_path),
            }
            results = {name: _finish(p) for name, p in procs.items()}
            for name, (code, out, err) in results.items():
                _assert_clean_exit(name, code, out, err)
            reads = sorted(
                int(results[n][1].split(" posts read")[0].split()[-1])
                for n in ("collector A", "collector B")
            )
            assert reads == [0, len(fake.visible()) - stored_before], reads
            engine = make_engine(url)
            try:
                snap = figure_snapshot(engine)
                assert len(snap["posts"]) == len(fake.visible())
                assert snap["observations"] == len(snap["posts"])  # nothing read twice
                passes = _assert_passes_never_overlapped(engine)
            finally:
                engine.dispose()
            (report_json,) = out_dir.glob("summary-*.json")
            report = json.loads(report_json.read_text(encoding="utf-8"))
            _assert_consistent(report["figures"], 0, len(snap["posts"]))
            stored_before = len(snap["posts"])
        assert server.max_in_flight == 1  # the two collectors never asked X at once
    engine = make_engine(url)
    try:
        assert figure_snapshot(engine) == reference["snapshot"]
    finally:
        engine.dispose()
    assert stats_json(url) == reference["stats"]
    assert passes == 2 * ROUNDS
    print(f"[concurrency] collectors+report/{kind}: {ROUNDS} rounds, {passes} passes, 0 overlaps")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_commands_started_at_once_on_a_new_database_all_succeed(tmp_path: Path, kind: str) -> None:
    """The first run of the week: ``hashmon run`` and a ``hashmon collect`` (or a report)
    started together each create the schema; neither may fail for the other."""
    failures = []
    for attempt in range(3):
        folder = tmp_path / f"a{attempt}"
        folder.mkdir()
        url = make_db_url(kind, folder)
        if kind == "postgresql":
            engine = make_engine(url, create=False)
            Base.metadata.drop_all(engine)  # a brand-new, empty database
            engine.dispose()
        env = x_env("http://127.0.0.1:9")
        procs = [fork_hashmon(["--database", url, "init"], env, folder) for _ in range(6)]
        for proc in procs:
            code, out, err = _finish(proc)
            if code != 0:
                failures.append(err.strip())
    assert failures == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_stats_read_while_a_pass_writes_is_one_consistent_moment(
    tmp_path: Path, corpus_pages: list[dict[str, Any]], kind: str
) -> None:
    url = make_db_url(kind, tmp_path)
    config = write_config(tmp_path / "hashmon.toml", url)
    make_engine(url).dispose()
    reads = partial = 0
    with FakeXServer(FakeX(corpus_pages), delay=0.05) as server:
        collector = fork_hashmon(["--config", str(config), "collect"], x_env(server.url), tmp_path)
        try:
            server.wait_for(1, timeout=30)
            last = 0
            while collector.poll() is None:
                figures = stats_json(url, *ALL_DATES)
                _assert_consistent(figures, last, CORPUS_POSTS)
                last = figures["totals"]["posts"]
                reads += 1
                partial += 0 < last < CORPUS_POSTS
        finally:
            code, out, err = _finish(collector)
        _assert_clean_exit("collector", code, out, err)
    assert stats_json(url, *ALL_DATES)["totals"]["posts"] == CORPUS_POSTS
    assert partial >= 3  # read while the pass was half-way: the case that matters
    print(
        f"[concurrency] stats during a pass/{kind}: {reads} reads ({partial} mid-pass), consistent"
    )


@pytest.mark.slow  # long rounds of real processes: make test, not make quick
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_scheduler_and_a_manual_collect_together_never_overlap_or_double(
    tmp_path: Path, corpus_pages: list[dict[str, Any]], reference: dict[str, Any], kind: str
) -> None:
    url = make_db_url(kind, tmp_path)
    config = write_config(
        tmp_path / "hashmon.toml", url, extra="\n[schedule]\ncollect_every_minutes = 1\n"
    )
    make_engine(url).dispose()
    with FakeXServer(FakeX(corpus_pages), delay=0.04) as server:
        env = x_env(server.url)
        scheduler = fork_hashmon(["--config", str(config), "-v", "run"], env, tmp_path)
        log = ""
        try:
            server.wait_for(1, timeout=30)  # the scheduler's start-up pass is under way
            code, out, err = _finish(
                fork_hashmon(["--config", str(config), "collect"], env, tmp_path)
            )
            _assert_clean_exit("manual collect", code, out, err)
            engine = make_engine(url)
            deadline = time.monotonic() + 60
            try:
                while time.monotonic() < deadline:
                    with engine.connect() as conn:
                        done = conn.execute(
                            text(
                                "SELECT COUNT(*) FROM collection_runs "
                                "WHERE kind = 'collect' AND status <> 'running'"
                            )
                        ).scalar()
                    if done >= 2:
                        break
                    time.sleep(0.1)
                assert _assert_passes_never_overlapped(engine) == 2
                assert figure_snapshot(engine) == reference["snapshot"]
            finally:
                engine.dispose()
        finally:
            scheduler.send_signal(signal.SIGTERM)
            try:
                _, log = scheduler.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(scheduler.pid, signal.SIGKILL)
                _, log = scheduler.communicate(timeout=30)
        assert scheduler.returncode == 0, log
        assert server.max_in_flight == 1
    for word in BAD_WORDS:
        assert word not in log, log
    assert stats_json(url) == reference["stats"]

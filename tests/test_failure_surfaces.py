"""Failure surfaces: the database gone mid-pass, the disk full, the output folder not
writable, the clock jumping backwards. Each gives one clear line and a non-zero exit
(a traceback only with ``-v``), and leaves nothing half-written that a later run
would trust: the checkpoint matches what is stored, and report files are whole.

Disk full is a small tmpfs where this process may mount one (root, as in CI), else a
file-size limit (RLIMIT_FSIZE) on the ``hashmon`` process; a read-only folder is a
read-only tmpfs, else a folder without write permission (non-root), else a path
through a regular file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from jobs import passes, schedule
from monitor.budget import month_posts_read
from monitor.settings import Settings, X
from monitor.sources.x import XSource
from monitor.store.engine import make_engine
from monitor.store.runs import read_checkpoint
from tests.conftest import PG_ADMIN_URL, make_db_url
from tests.fakex import FakeXServer, simulated_pages
from tests.harness import (
    HASHMON,
    clean_collect,
    figure_snapshot,
    run_forked,
    stats_json,
    write_config,
    x_env,
)
from tests.xapi import TOKEN, FakeX, read_pages

pytestmark = pytest.mark.slow  # real processes, minutes: make test and CI, not make quick

CORPUS = 1000


@pytest.fixture(scope="module")
def corpus_pages() -> list[dict[str, Any]]:
    return simulated_pages(CORPUS, seed=5)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, corpus_pages: list[dict[str, Any]]
) -> dict[str, Any]:
    """The database one clean collect of the whole corpus makes (figures and stats)."""
    return clean_collect(tmp_path_factory.mktemp("reference"), corpus_pages)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Check a failed command: exit 1, one ``Error:`` line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def assert_checkpoint_matches_store(engine: Engine, corpus: list[str]) -> None:
    """What a failed pass left is what a rerun may trust: stored = the markers' range."""
    key = lambda i: (len(i), i)  # noqa: E731
    with engine.connect() as conn:
        cp = conn.execute(
            text("SELECT newest_id, pass_newest_id, pass_oldest_id FROM checkpoints")
        ).first()
        stored = {r[0] for r in conn.execute(text("SELECT id FROM posts"))}
    if cp is None:
        assert stored == set()
    elif cp.pass_oldest_id is not None:
        assert stored == {i for i in corpus if key(i) >= key(cp.pass_oldest_id)}
    else:
        assert stored == {i for i in corpus if key(i) <= key(cp.newest_id)}


def assert_equal_to_reference(url: str, reference: dict[str, Any]) -> None:
    engine = make_engine(url)
    try:
        assert figure_snapshot(engine) == reference["snapshot"]
    finally:
        engine.dispose()
    assert stats_json(url) == reference["stats"]


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, readonly: bool = False) -> Iterator[bool]:
    """Mount a tmpfs of ``size`` on ``path`` for the block; yield False if that is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if readonly else "")
    try:
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                capture_output=True,
                timeout=10,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        mounted = False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def limit_file_size(limit: int) -> Any:
    """Return a preexec_fn giving the child a file-size limit: writes past it fail (EFBIG)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_limited(args: list[str], env: dict[str, str], cwd: Path, limit: int):
    return subprocess.run(
        [*HASHMON, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size(limit),
    )


# --- the database goes away mid-pass ------------------------------------------------------


def _pg_admin(sql: str, **params: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql), params)
    finally:
        admin.dispose()


@pytest.mark.parametrize("comes_back", [True, False], ids=["reconnects", "stays-down"])
def test_postgresql_connection_killed_between_pages(
    tmp_path: Path,
    corpus_pages: list[dict[str, Any]],
    reference: dict[str, Any],
    comes_back: bool,
) -> None:
    url = make_db_url("postgresql", tmp_path)
    name = url.rsplit("/", 1)[1]
    config = write_config(tmp_path / "hashmon.toml", url)
    make_engine(url).dispose()
    fake = FakeX(corpus_pages)

    def cut() -> None:
        if not comes_back:
            _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _pg_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=name,
        )

    fake.before(4, cut)  # while page 4 is on its way: three pages are committed
    try:
        with FakeXServer(fake) as server:
            result = run_forked(["--config", str(config), "collect"], x_env(server.url), tmp_path)
            if comes_back:
                # pool_pre_ping finds the dead connection and opens a new one: no harm done
                assert result.returncode == 0, result.stderr
            else:
                assert_one_line_error(result, "database")
                _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
                engine = make_engine(url)
                assert_checkpoint_matches_store(engine, list(fake.posts))
                engine.dispose()
                rerun = run_forked(
                    ["--config", str(config), "collect"], x_env(server.url), tmp_path
                )
                assert rerun.returncode == 0, rerun.stderr
    finally:
        _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert_equal_to_reference(url, reference)


def test_sqlite_file_removed_mid_pass_then_the_next_pass_collects_everything_again(
    tmp_path: Path, corpus_pages: list[dict[str, Any]], reference: dict[str, Any]
) -> None:
    """SQLite keeps writing to a file deleted under it; the next command starts a new one,
    and its pass, starting from no checkpoint, reads everything the search still holds."""
    db = tmp_path / "hashmon.db"
    url = f"sqlite:///{db}"
    config = write_config(tmp_path / "hashmon.toml", url)
    fake = FakeX(corpus_pages)

    def remove() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

    fake.before(4, remove)
    with FakeXServer(fake) as server:
        first = run_forked(["--config", str(config), "collect"], x_env(server.url), tmp_path)
        assert "Traceback" not in first.stderr
        second = run_forked(["--config", str(config), "collect"], x_env(server.url), tmp_path)
        assert second.returncode == 0, second.stderr
    assert_equal_to_reference(url, reference)


def test_a_database_that_cannot_be_opened_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'hashmon.db'}"
    result = run_forked(["--database", url, "stats"], x_env("http://127.0.0.1:9"), tmp_path)
    assert_one_line_error(result, "cannot use database", "no-such-folder")
    verbose = run_forked(["--database", url, "-v", "stats"], x_env("http://127.0.0.1:9"), tmp_path)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # -v shows it


# --- the disk is full -----------------------------------------------------------------------


def test_a_full_disk_mid_pass_fails_in_one_line_and_the_rerun_completes_the_data(
    tmp_path: Path, corpus_pages: list[dict[str, Any]], reference: dict[str, Any]
) -> None:
    small = tmp_path / "small"
    fake = FakeX(corpus_pages)
    with tmpfs(small, "400k") as mounted, FakeXServer(fake) as server:
        db = small / "hashmon.db"
        url = f"sqlite:///{db}"
        config = write_config(tmp_path / "hashmon.toml", url)
        make_engine(url).dispose()
        env = x_env(server.url)
        args = ["--config", str(config), "collect"]
        if mounted:
            result = run_forked(args, env, tmp_path)
        else:  # no tmpfs here: the process may not grow any file past 400 kB
            result = run_limited(args, env, tmp_path, 400 * 1024)
        line = assert_one_line_error(result, "database")
        assert "full" in line or "I/O" in line, line
        engine = make_engine(url)
        assert_checkpoint_matches_store(engine, list(fake.posts))
        engine.dispose()
        # the user frees space (here: moves the database somewhere roomier) and reruns
        roomy = tmp_path / "roomy.db"
        for suffix in ("", "-wal"):
            if Path(f"{db}{suffix}").exists():
                shutil.copy(f"{db}{suffix}", f"{roomy}{suffix}")
        url = f"sqlite:///{roomy}"
        rerun = run_forked(["--database", url, *args], env, tmp_path)
        assert rerun.returncode == 0, rerun.stderr
    assert_equal_to_reference(url, reference)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_full_disk_while_writing_a_report_leaves_the_previous_files_whole(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    small = tmp_path / "reports"
    # a copy of the reference database, and a first report that fits
    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = make_engine(url)
    with FakeXServer(FakeX(simulated_pages(CORPUS, seed=5))) as server:
        assert (
            run_forked(["--database", url, "collect"], x_env(server.url), tmp_path).returncode == 0
        )
    engine.dispose()
    args = ["--database", url, "report", "summary", "--out", str(small)]
    env = x_env("http://127.0.0.1:9")
    with tmpfs(small, "3m") as mounted:
        assert run_forked(args, env, tmp_path).returncode == 0
        before = _files(small)
        if mounted:
            # fill the disk to the last block, then write the report again
            filler = small / "filler.bin"
            with contextlib.suppress(OSError), filler.open("wb") as fh:
                while True:
                    fh.write(b"\0" * 65536)
            result = run_forked(args, env, tmp_path)
            filler.unlink()
        else:
            result = run_limited(args, env, tmp_path, 20_000)  # smaller than the PDF
        assert_one_line_error(result, "cannot write reports to", str(small))
        after = _files(small)
    assert after == before  # every earlier file whole, no temporary file left behind


# --- the output folder cannot be written ---------------------------------------------------


def test_an_output_folder_that_cannot_be_written_is_one_line_and_writes_nothing(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    make_engine(url).dispose()
    env = x_env("http://127.0.0.1:9")
    locked = tmp_path / "locked"
    with tmpfs(locked, "1m", readonly=True) as mounted:
        if not mounted:
            locked.mkdir(exist_ok=True)
            locked.chmod(0o555)
        target = locked if (mounted or os.geteuid() != 0) else tmp_path / "a-file" / "sub"
        (tmp_path / "a-file").write_text("not a folder")
        for command in (["report", "summary"], ["report", "daily", "--date", "2017-06-12"]):
            result = run_forked(["--database", url, *command, "--out", str(target)], env, tmp_path)
            assert_one_line_error(result, "cannot write reports to", str(target))
        if target.is_dir():
            assert list(target.iterdir()) == []


def test_a_scheduled_report_that_cannot_be_written_logs_one_line_not_a_traceback(
    tmp_path: Path, caplog
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    (tmp_path / "a-file").write_text("not a folder")
    config = tmp_path / "hashmon.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[reports]\nout_dir = "{tmp_path / "a-file" / "out"}"\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO):
        schedule.summary_report_job(str(config), None)  # as APScheduler calls it
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cannot write reports to" in errors[0].getMessage()
    assert errors[0].exc_info is None
    engine = make_engine(url)
    with engine.connect() as conn:
        run = conn.execute(text("SELECT kind, status, message FROM collection_runs")).one()
    engine.dispose()
    assert run[:2] == ("report", "failed") and "\n" not in run[2]


# --- the clock jumps backwards between passes -------------------------------------------------


def test_the_clock_jumping_back_between_passes_loses_and_doubles_nothing(engine: Engine) -> None:
    fake = FakeX(read_pages(), published=200)
    settings = Settings(x=X(max_retries=0))
    t = dt.datetime(2023, 4, 1, 12, 0, tzinfo=dt.UTC)
    with FakeXServer(fake) as server:
        live = settings.model_copy(update={"x": X(max_retries=0, api_base_url=server.url)})

        def source() -> XSource:
            return XSource(live, TOKEN, sleep=lambda s: None)

        passes.collect(live, engine, source=source(), now=t)
        fake.publish(300)
        # the machine's clock is set back three hours (NTP, a VM restored, DST done wrong)
        second = passes.collect(live, engine, source=source(), now=t - dt.timedelta(hours=3))
        assert second.new == 300
        fake.metric_bump = 7  # counts moved since
        refreshed = passes.refresh_metrics(
            live,
            engine,
            dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            now=t - dt.timedelta(hours=5),
            source=source(),
        )
    snap = figure_snapshot(engine)
    assert len(snap["posts"]) == 500 and snap["most_sightings_in_a_run"] == 1
    assert read_checkpoint(engine, "x:recent").newest_id == fake.order[-1]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, kind, like_count FROM posts")).all()
    refreshable = [r for r in rows if r.kind != "retweet"]  # a retweet's counts are its original's
    assert refreshed.posts_read == len(refreshable) > 0
    # the latest sighting wins, though its timestamp is the earliest of the three
    for post_id, _kind, likes in refreshable:
        assert likes == fake.posts[post_id]["public_metrics"]["like_count"] + 7
    assert month_posts_read(engine, t) == 500 + len(refreshable)

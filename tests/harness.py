"""Shared harness of the reliability tests: run ``hashmon`` as a real process, and compare
databases by what the figures are made of.

``figure_snapshot`` is a database reduced to what METRICS.md figures read (every post's
id and figure columns, the authors, the checkpoint), plus the counts that expose a lost
or doubled post; ``stats_json`` is ``hashmon stats --json`` through the CLI. Two
databases that agree on both report the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from jobs.cli import cli, main
from monitor.config import API_BASE_ENV, CONFIG_ENV, DATABASE_ENV, DEFAULTS_NOTICE
from monitor.sources.x import TOKEN_ENV
from tests.xapi import TOKEN

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("hashmon")
HASHMON = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "from jobs.cli import main; main()"]
)

# the posts columns that METRICS.md figures read (bookkeeping such as first_seen_at,
# first_run_id and sightings differs between a clean run and a crashed-and-resumed one)
FIGURE_COLUMNS = (
    "platform",
    "id",
    "author_id",
    "created_at_us",
    "text",
    "kind",
    "hashtags",
    "mentions",
    "author_followers",
    "like_count",
    "retweet_count",
    "reply_count",
    "quote_count",
    "impression_count",
)


def hashmon_env(**extra: str) -> dict[str, str]:
    """Return an environment for a ``hashmon`` process: no inherited HASHMON_* or proxy
    settings (a proxy must never see a loopback request), plus ``extra``."""
    dropped = {CONFIG_ENV, DATABASE_ENV, API_BASE_ENV, TOKEN_ENV}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and "proxy" not in k.lower() and not k.startswith("HASHMON_")
    }
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def x_env(api_base: str, **extra: str) -> dict[str, str]:
    """Return ``hashmon_env`` for the X source: the fake token and the fake API's address."""
    return hashmon_env(**{TOKEN_ENV: TOKEN, API_BASE_ENV: api_base, **extra})


def write_config(path: Path, db_url: str, *, source: str = "x", extra: str = "") -> Path:
    """Write a config for the X source on ``db_url`` (fast retries) and return its path."""
    path.write_text(
        f"[database]\nurl = {json.dumps(db_url)}\n\n"
        f'[source]\nkind = "{source}"\n\n'
        "[x]\nmonthly_post_cap = 10000000\nmax_retries = 2\nrequest_timeout_seconds = 10\n" + extra,
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run_hashmon(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``hashmon ARGS`` to completion and return it (stdout and stderr as text)."""
    return subprocess.run(
        [*HASHMON, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


class Forked:
    """``hashmon ARGS`` in a child forked from this process: the part of ``Popen`` the
    trials use (``pid``, ``poll``, ``wait``, ``communicate``, ``returncode``)."""

    def __init__(self, pid: int, out: IO[bytes], err: IO[bytes]) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._out, self._err = out, err

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["hashmon"], timeout or 0)
            time.sleep(0.002)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        texts = []
        for stream in (self._out, self._err):
            stream.seek(0)
            texts.append(stream.read().decode("utf-8", "replace"))
            stream.close()
        return texts[0], texts[1]


def fork_hashmon(args: list[str], env: dict[str, str], cwd: Path) -> Forked:
    """Start ``hashmon ARGS`` as a child forked from this process and return it.

    The child runs ``jobs.cli.main(ARGS)`` as the ``hashmon`` script does, in ``cwd`` with
    exactly ``env``, its output in files, and ends with ``os._exit``: nothing of this
    process (its pooled connections, its servers' sockets) is closed or flushed by it.
    Forking skips the start-up a new interpreter pays (about a second of imports here),
    which is most of a crash trial; what is killed is still a process of its own.
    """
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - Forked owns them
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return Forked(pid, out, err)
    code = 70
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the child's own
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        root = logging.getLogger()
        for handler in list(root.handlers):  # the test run's capture handlers
            root.removeHandler(handler)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        code = 0
        main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must never return into pytest
        with contextlib.suppress(Exception):
            traceback.print_exc()
        code = 70
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def run_forked(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``run_hashmon`` in a forked child (``fork_hashmon``): for tests that need a process
    of its own but not a new interpreter."""
    proc = fork_hashmon(args, env, cwd)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(["hashmon", *args], proc.returncode, out, err)


def figure_snapshot(engine: Engine) -> dict[str, Any]:
    """Return what the figures of a database are made of, for comparing two databases.

    ``posts`` (figure columns, by id), ``authors``, ``observations`` (rows) and
    ``most_sightings_in_a_run`` (a post stored twice by one pass would show 2), and
    ``checkpoints`` (name, newest_id, whether an interrupted pass is on record).
    """
    cols = ", ".join(FIGURE_COLUMNS)
    with engine.connect() as conn:
        posts = [tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM posts"))]
        authors = [
            tuple(r)
            for r in conn.execute(
                text("SELECT platform, id, username, name, followers_count FROM authors")
            )
        ]
        observations = conn.execute(text("SELECT COUNT(*) FROM observations")).scalar_one()
        most = conn.execute(
            text(
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM observations "
                "GROUP BY platform, post_id, run_id) AS per_run"
            )
        ).scalar_one()
        checkpoints = [
            (r[0], r[1], r[2] is not None)
            for r in conn.execute(
                text("SELECT name, newest_id, pass_oldest_id FROM checkpoints ORDER BY name")
            )
        ]
    return {
        "posts": sorted(posts, key=lambda r: (r[0], len(r[1]), r[1])),
        "authors": sorted(authors),
        "observations": int(observations),
        "most_sightings_in_a_run": int(most),
        "checkpoints": checkpoints,
    }


def stats_json(db_url: str, *args: str, config: Path | None = None) -> dict[str, Any]:
    """Return ``hashmon stats --json`` of ``db_url`` (through the CLI, in this process)."""
    head = ["--config", str(config)] if config is not None else []
    result = CliRunner().invoke(cli, [*head, "--database", db_url, "stats", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # stderr may say it runs on the defaults


def clean_collect(folder: Path, pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Collect ``pages`` once, cleanly, into a new SQLite database in ``folder`` (one
    ``hashmon collect`` process against the fake API) and return its ``figure_snapshot``
    and ``stats --json``: the reference that interrupted or contended runs must equal."""
    from monitor.store.engine import make_engine
    from tests.fakex import FakeXServer
    from tests.xapi import FakeX

    url = f"sqlite:///{folder / 'reference.db'}"
    config = write_config(folder / "hashmon.toml", url)
    with FakeXServer(FakeX(pages)) as server:
        result = run_hashmon(["--config", str(config), "collect"], x_env(server.url), folder)
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    try:
        return {"snapshot": figure_snapshot(engine), "stats": stats_json(url)}
    finally:
        engine.dispose()


def cli_main(args: list[str]) -> int:
    """Run ``jobs.cli.main(args)`` in this process and return its exit status."""
    import logging

    from jobs.cli import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        # the CLI sets up logging on the root logger, bound to this moment's stderr:
        # put it back, or later tests would log into a closed capture
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return 0


# --- the CLI in this process ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No override from the environment, no ./hashmon.toml, and no log handler left behind.

    Autouse where imported: a test module of CLI runs imports it by name.
    """
    for name in (CONFIG_ENV, DATABASE_ENV, API_BASE_ENV):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hashmon", False):
            root.removeHandler(handler)


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run ``hashmon ARGS`` through ``main``; return (exit status, standard error).

    Without a config file every command first says it runs on the defaults (tested
    apart): that one line is left out, so the error line is what remains.
    """
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    err = capsys.readouterr().err
    return caught.value.code, err.replace(f"note: {DEFAULTS_NOTICE}\n", "", 1)

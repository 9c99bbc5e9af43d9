"""One collector at a time per database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine, func, select

from jobs import passes
from monitor import lease
from monitor.errors import LockedError
from monitor.settings import Settings, X
from monitor.sources.x import XSource
from monitor.store.engine import make_engine
from monitor.store.schema import Observation
from tests.xapi import TOKEN, FakeX, read_pages

ROOT = Path(__file__).resolve().parents[1]


def test_a_second_holder_is_refused_with_a_clear_message(engine: Engine) -> None:
    first = lease.Lease(engine)
    first.acquire()
    with pytest.raises(LockedError) as err:
        lease.Lease(engine).acquire(wait_seconds=0)
    assert first.holder in str(err.value) and "wait for it to finish" in str(err.value)
    first.release()
    lease.Lease(engine).acquire()  # free again


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    long_ago = dt.datetime(2017, 6, 12, tzinfo=dt.UTC)
    lease.Lease(engine, seconds=180, clock=lambda: long_ago).acquire()  # a holder that died
    taker = lease.Lease(engine)
    taker.acquire(wait_seconds=0)
    assert lease.read_lease(engine).holder == taker.holder


def test_the_lost_holder_learns_it_when_renewing(engine: Engine) -> None:
    long_ago = dt.datetime(2017, 6, 12, tzinfo=dt.UTC)
    slow = lease.Lease(engine, clock=lambda: long_ago)
    slow.acquire()
    lease.Lease(engine).acquire()
    with pytest.raises(LockedError, match="lost"):
        slow.renew()


def test_threads_racing_for_the_lease_never_hold_it_together(engine: Engine) -> None:
    inside, most, lock = [0], [0], threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with lease.held(engine, wait_seconds=20, poll_seconds=0.02):
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.05)
                with lock:
                    inside[0] -= 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1


def test_a_second_collect_waits_for_the_pass_in_progress_then_reads_only_new_posts(
    engine: Engine,
) -> None:
    settings = Settings(x=X(max_retries=1))
    results: dict[str, object] = {}
    in_flight, most = [0], [0]
    lock = threading.Lock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeX(read_pages())
        # each page takes a while, so the two passes would overlap if the lease let them
        original = fake._search

        def slow_search(params: dict[str, str]) -> tuple[int, object]:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.03)
            with lock:
                in_flight[0] -= 1
            return original(params)

        fake._search = slow_search  # type: ignore[method-assign]
        fake.register(rsps)

        def run(name: str) -> None:
            src = XSource(settings, TOKEN, sleep=lambda s: None)
            try:
                results[name] = passes.collect(settings, engine, source=src, wait_seconds=30)
            except BaseException as exc:  # noqa: BLE001 - checked below
                results[name] = exc

        threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert most[0] == 1
    reads = sorted(r.posts_read for r in results.values())  # type: ignore[union-attr]
    assert reads == [0, 500]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Observation)).scalar() == 500


def test_collect_refuses_at_once_when_told_not_to_wait(engine: Engine) -> None:
    holder = lease.Lease(engine)
    holder.acquire()
    with pytest.raises(LockedError, match="another collector"):
        passes.collect(Settings(), engine, source=None, wait_seconds=0)
    holder.release()


def test_the_lease_of_a_killed_process_on_this_host_is_taken_over_at_once(db_url: str) -> None:
    engine = make_engine(db_url)
    code = (
        "import sys, time\n"
        "from monitor import lease\n"
        "from monitor.store.engine import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "lease.Lease(engine, seconds=300).acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockedError):
            lease.Lease(engine).acquire(wait_seconds=0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        # wait_seconds=0: taken over at once, or LockedError (no five-minute wait)
        lease.Lease(engine).acquire(wait_seconds=0)
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()

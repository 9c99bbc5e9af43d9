"""Stopping ``hashmon run`` cleanly: no job started once the scheduler is shut down, and
the jobs under way given a grace to reach a page end before the process leaves."""

from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import suppress

from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler

log = logging.getLogger("jobs.schedule")  # its lines are the runner's, as before the split


class StopSafe:
    """Process no jobs once shut down.

    APScheduler 3's loop wakes up on shutdown and processes due jobs even though its
    executor is gone: the submission fails and the job's due time moves on, so a report
    due at that moment would be lost instead of run after the restart.
    """

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:  # type: ignore[attr-defined]
            return None
        return super()._process_jobs()  # type: ignore[misc]


def shutdown(scheduler: BaseScheduler) -> None:
    with suppress(Exception):  # not running yet, or already stopped
        scheduler.shutdown(wait=False)


def wait_for_jobs(grace: float) -> None:
    """Give running jobs ``grace`` seconds to finish their page; then leave without them."""
    deadline = threading.Event()
    timer = threading.Timer(grace, deadline.set)
    timer.daemon = True
    timer.start()
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        while thread.is_alive() and not deadline.is_set():
            thread.join(0.1)
    timer.cancel()
    alive = [
        t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon
    ]
    if alive:
        # a request can hang up to [x] request_timeout_seconds; what is committed is safe
        log.warning(
            "a job is still running after %.0f s; leaving it (the next pass resumes)", grace
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

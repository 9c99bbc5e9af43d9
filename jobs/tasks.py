"""Report jobs: write a report's files and record them as a run of kind "report"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from monitor.config import Settings
from monitor.errors import HashmonError
from monitor.store.runs import recorded_run


def _record(engine: Engine, kind: str, what: str, write: Callable[[], Any]) -> Any:
    """Return what ``write`` returns, recorded as a run of ``kind`` so that status shows it."""
    with recorded_run(engine, kind, what):
        return write()


@contextmanager
def _writable(out: str) -> Iterator[None]:
    """Turn a failure to write into the folder into one clear HashmonError (as the CLI does).

    Report files are written atomically, so the folder keeps whole files whatever failed.
    """
    try:
        yield
    except OSError as exc:
        raise HashmonError(
            f"cannot write reports to {out}: {exc.strerror or exc}; free some space or fix "
            "the folder's permissions, or set [reports] out_dir"
        ) from None


def _write_daily(engine: Engine, settings: Settings, day: dt.date, out: str) -> Any:
    from reports.build import write_daily_report
    from reports.html import write_index

    simulated = settings.source.kind == "simulated"
    with _writable(out):
        written = write_daily_report(engine, settings, day, out, simulated=simulated)
        write_index(out)
    return written


def _write_summary(engine: Engine, settings: Settings, out: str) -> Any:
    from reports.build import write_summary_report
    from reports.html import write_index

    simulated = settings.source.kind == "simulated"
    with _writable(out):
        written = write_summary_report(engine, settings, out, simulated=simulated)
        write_index(out)
    return written


def daily_report(
    settings: Settings,
    engine: Engine,
    day: dt.date,
    out_dir: str | None = None,
    *,
    write: Callable[..., Any] | None = None,
) -> Any:
    """Write the daily report of local ``day`` and return what the writer returns.

    ``write(engine, settings, day, out_dir)`` defaults to reports.build.write_daily_report
    (marked simulated for the simulated source) followed by the folder's index.html.
    Recorded as a run of kind "report".
    """
    write = write or _write_daily
    out = out_dir or settings.reports.out_dir
    return _record(
        engine, "report", f"daily report {day} in {out}", lambda: write(engine, settings, day, out)
    )


def summary_report(
    settings: Settings,
    engine: Engine,
    out_dir: str | None = None,
    *,
    write: Callable[..., Any] | None = None,
) -> Any:
    """Write the end-of-campaign summary and return what the writer returns.

    ``write(engine, settings, out_dir)`` defaults to reports.build.write_summary_report
    followed by the folder's index.html. Recorded as a run of kind "report".
    """
    write = write or _write_summary
    out = out_dir or settings.reports.out_dir
    return _record(
        engine, "report", f"summary report in {out}", lambda: write(engine, settings, out)
    )

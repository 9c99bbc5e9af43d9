"""The one way to write reports: ``hashmon report``, the scheduler and the demo call it.

Each call reads the report's data in one snapshot (``reports.build``), writes every
configured format into the folder, refreshes its ``index.html``, and is recorded as a
run of kind "report" (in ``collection_runs``; an impact pack, of kind "pack"), so
``hashmon status`` shows it whoever wrote it. Matplotlib loads only when a report is
written, not when this module is imported (the scheduler imports it at start).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from monitor.errors import HashmonError
from monitor.settings import Settings
from monitor.store.runs import recorded_run
from monitor.times import utc_text

Which = Literal["daily", "summary"]

#: what to do when the folder cannot be written, said to whoever started the report
CLI_HINT = "choose another --out or fix the folder's permissions"
SCHEDULED_HINT = "free some space or fix the folder's permissions, or set [reports] out_dir"


@dataclass(frozen=True)
class Written:
    """The files of the reports written, in order, and the folder's index page."""

    files: list[Path]
    index: Path
    # what the reports say on their face about being of nothing (outside the window, no posts)
    notices: tuple[str, ...] = ()


def write_report(
    settings: Settings,
    engine: Engine,
    which: Which,
    *,
    day: dt.date | None = None,
    out_dir: str | Path | None = None,
    hint: str = SCHEDULED_HINT,
    shareable: bool | None = None,
) -> Written:
    """Write the daily report of local ``day`` (``which="daily"``) or the end-of-campaign
    summary (``which="summary"``) into ``out_dir`` (default ``[reports] out_dir``), then
    the folder's index.html; record the run and return what was written.

    Reports of the simulated source are marked simulated. A folder that cannot be
    written raises one HashmonError ending in ``hint``; files already there stay whole.
    """
    from reports.build import daily_report_data, summary_report_data, write_report

    out = Path(out_dir or settings.reports.out_dir)
    simulated = settings.source.kind == "simulated"
    if shareable is None:
        shareable = settings.reports.shareable
    kw = {"simulated": simulated, "shareable": shareable}
    if which == "daily":
        if day is None:
            raise ValueError("a daily report needs its day")
        what = f"daily report {day} in {out}"
        read = lambda: daily_report_data(engine, settings, day, **kw)  # noqa: E731
    else:
        what = _summary_run(out)
        read = lambda: summary_report_data(engine, settings, **kw)  # noqa: E731

    def write() -> Written:
        from reports.wording import report_notices

        with _writable(out, hint):
            data = read()
            written = _with_index(write_report(data, out), out)
        return Written(written.files, written.index, tuple(report_notices(data)))

    return _record(engine, what, write)


def write_so_far(
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    out_dir: str | Path | None = None,
) -> Written | None:
    """Write "today so far" (``today.html``: the daily report of the local day of ``now``,
    as it stands) into ``out_dir`` (default ``[reports] out_dir``), then the index; record
    the run and return what was written.

    None, and nothing written, outside the campaign days or once the day's daily report
    is in the folder (the index then drops the stale page). Never e-mailed.
    """
    from reports.build import daily_report_data, write_so_far

    now = now or dt.datetime.now(dt.UTC)
    local = now.astimezone(settings.campaign.tz)
    day = local.date()
    out = Path(out_dir or settings.reports.out_dir)
    tail = "-shareable" if settings.reports.shareable else ""
    if day not in settings.campaign.days() or (out / f"daily-{day}{tail}.html").is_file():
        return None
    up_to = local.strftime("%H:%M %Z")
    simulated = settings.source.kind == "simulated"

    def write() -> Written:
        with _writable(out, SCHEDULED_HINT):
            data = daily_report_data(
                engine,
                settings,
                day,
                simulated=simulated,
                now=now,
                shareable=settings.reports.shareable,
            )
            return _with_index([write_so_far(data, out, up_to)], out)

    return _record(engine, f"today so far ({day}, up to {up_to}) in {out}", write)


def write_campaign_reports(
    settings: Settings, engine: Engine, out_dir: str | Path, *, simulated: bool, now: dt.datetime
) -> Written:
    """Write the daily report of every campaign day, the summary and its shareable version,
    then the index, as one recorded run stamped ``now`` (the demo's simulated clock stamps
    reports and run).

    Every report's data is read first, then the reports are drawn two at a time
    (``reports.build.write_reports``). OSError passes through: the caller says what to do.
    """
    from reports.build import daily_report_data, summary_report_data, write_reports

    out = Path(out_dir)
    days = settings.campaign.days()

    def write() -> Written:
        reports = [
            daily_report_data(engine, settings, day, simulated=simulated, now=now) for day in days
        ]
        reports.append(summary_report_data(engine, settings, simulated=simulated, now=now))
        # and the summary to forward to funders, MPs and the press, beside the full one
        reports.append(
            summary_report_data(engine, settings, simulated=simulated, now=now, shareable=True)
        )
        return _with_index(write_reports(reports, out), out)

    what = f"daily reports {days[0]} to {days[-1]} and the summary in {out}"
    return _record(engine, what, write, now=now)


def write_impact_pack(
    settings: Settings,
    engine: Engine,
    out_dir: str | Path | None = None,
    *,
    shareable: bool = False,
    now: dt.datetime | None = None,
    hint: str = SCHEDULED_HINT,
) -> Path:
    """Write the impact pack of the campaign (``reports.pack``) into ``out_dir`` (default
    ``[reports] out_dir``), recorded as a run of kind "pack" so status shows it; return
    its path. ``now`` stamps the pack and the run (the demo's clock); the wall clock when None.
    """
    from reports.pack import write_pack

    out = Path(out_dir or settings.reports.out_dir)
    simulated = settings.source.kind == "simulated"
    what = _pack_run(out, shareable)
    stamp = utc_text(now) if now is not None else None
    with (
        recorded_run(engine, "pack", what, started_at=stamp, finished_at=stamp),
        _writable(out, hint),
    ):
        return write_pack(engine, settings, out, simulated=simulated, now=now, shareable=shareable)


def write_summary_and_pack(
    settings: Settings,
    engine: Engine,
    out_dir: str | Path | None = None,
    *,
    shareable: bool = False,
    hint: str = SCHEDULED_HINT,
    then: Callable[[Written], None] | None = None,
) -> tuple[Written, Path]:
    """Write the summary (as ``write_report``) and its impact pack (as
    ``write_impact_pack``) from one reading: the summary is computed and drawn once, in
    the pack's snapshot, and the folder's copy is made from it. Recorded as a "report"
    run, then a "pack" run; ``then`` is called with the summary written, before the pack
    (``hashmon report summary --pack`` says where it went and e-mails it there, so a
    failed send stops before the pack, as when the two were written apart).
    """
    from reports.pack import open_pack
    from reports.wording import report_notices

    out = Path(out_dir or settings.reports.out_dir)
    simulated = settings.source.kind == "simulated"
    with ExitStack() as stack:
        with recorded_run(engine, "report", _summary_run(out)), _writable(out, hint):
            pack = stack.enter_context(
                open_pack(engine, settings, out, simulated=simulated, shareable=shareable)
            )
            index = _with_index(pack.write_summary(out), out)
        written = Written(index.files, index.index, tuple(report_notices(pack.report)))
        if then is not None:
            then(written)
        with recorded_run(engine, "pack", _pack_run(out, shareable)), _writable(out, hint):
            return written, pack.finish()


def _summary_run(out: Path) -> str:
    """The message of a summary's run, as status lists it."""
    return f"summary report in {out}"


def _pack_run(out: Path, shareable: bool) -> str:
    """The message of a pack's run, as status lists it."""
    return f"{'shareable ' if shareable else ''}impact pack in {out}"


def _with_index(files: list[Path], out: Path) -> Written:
    from reports.html import write_index

    return Written(files=files, index=write_index(out))


@contextmanager
def _writable(out: Path, hint: str) -> Iterator[None]:
    """Turn a failure to write into the folder into one clear HashmonError.

    Report files are written atomically, so the folder keeps whole files whatever failed.
    """
    try:
        yield
    except OSError as exc:
        raise HashmonError(
            f"cannot write reports to {out}: {exc.strerror or exc}; {hint}"
        ) from None


def _record(
    engine: Engine, what: str, write: Callable[[], Written], *, now: dt.datetime | None = None
) -> Written:
    """Return what ``write`` returns, recorded as a run of kind "report" so status shows it.

    ``now`` stamps the run (its start and end); the wall clock when None.
    """
    stamp = utc_text(now) if now is not None else None
    with recorded_run(engine, "report", what, started_at=stamp, finished_at=stamp):
        return write()

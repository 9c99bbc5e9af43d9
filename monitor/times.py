"""Time: the one home for instants, stored time forms, local days and their boundaries.

Posts' times are stored as UTC epoch microseconds (exact, and what the reach tie-break
compares); bookkeeping times (runs, leases, checkpoints) as fixed-width UTC text. A
campaign-local date is a ``day``; its boundaries are local midnights in the campaign's
time zone, summer time included.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = dt.date(1970, 1, 1)
_US = dt.timedelta(microseconds=1)
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_text(moment: dt.datetime) -> str:
    """Return the fixed-width UTC text form used for every stored bookkeeping time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_text() -> str:
    return utc_text(utc_now())


def epoch_us(moment: dt.datetime) -> int:
    """Return UTC epoch microseconds of ``moment`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _US


def from_epoch_us(us: int) -> dt.datetime:
    """Return the aware UTC datetime of epoch microseconds (exact, no float rounding)."""
    return _EPOCH + dt.timedelta(microseconds=us)


def utc_text_us(us: int) -> str:
    """Return ``utc_text(from_epoch_us(us))``, the same text, without a datetime.

    The impact pack writes one per post (a million): the text up to the minute cached
    (posts come in time order), the seconds by integer arithmetic, is a fraction of a
    datetime and strftime each.
    """
    minute, rest = divmod(us, 60_000_000)
    digits = str(rest + 100_000_000)  # "1SSffffff": the seconds and microseconds, padded
    return f"{_utc_minute_text(minute)}{digits[1:3]}.{digits[3:]}Z"


@lru_cache(maxsize=1024)
def _utc_minute_text(minute: int) -> str:
    return from_epoch_us(minute * 60_000_000).strftime("%Y-%m-%dT%H:%M:")


def local_at(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """Return the aware instant of wall-clock time ``at`` on local ``day`` in ``tz``."""
    return dt.datetime.combine(day, at, tzinfo=tz)


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Return the start of local ``day`` in zone ``tz``, as an aware datetime."""
    return local_at(day, dt.time(0), tz)


def local_midnight_us(day: dt.date, tz: dt.tzinfo) -> int:
    return epoch_us(local_midnight(day, tz))


def day_bounds_us(first: dt.date, last: dt.date, tz: dt.tzinfo) -> tuple[int, int]:
    """Return ``[lo, hi)`` in UTC epoch µs of the local dates ``first..last``."""
    return local_midnight_us(first, tz), local_midnight_us(last + dt.timedelta(days=1), tz)


def dates(first: dt.date, last: dt.date) -> list[dt.date]:
    """Return every date from ``first`` to ``last``, both included (none when reversed)."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def day_number(day: dt.date) -> int:
    """Return a local date as days since 1970-01-01: the key SQL groups days by."""
    return (day - _EPOCH_DAY).days


def local_stamp(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Return ``moment`` in campaign time as ``2017-06-12 21:00 BST``."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    """Return the first instant (UTC) of the calendar month of ``now``."""
    now = (now or utc_now()).astimezone(dt.UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

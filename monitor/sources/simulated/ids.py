"""X-style ids, times and the cheap seeded draws the simulator renders posts with."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from typing import Any

#: X snowflake ids count milliseconds from this moment (2010-11-04T01:42:54.657Z)
SNOWFLAKE_EPOCH_MS = 1288834974657
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: the largest sequence number in the low 22 bits of a snowflake
SEQ_MAX = (1 << 22) - 1

M64 = (1 << 64) - 1
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(moment: dt.datetime) -> int:
    """Return UTC epoch milliseconds of an aware ``moment`` (snowflakes count in ms)."""
    return (moment - _UNIX_EPOCH) // dt.timedelta(milliseconds=1)


def mix(x: int) -> int:
    """Return a 64-bit hash of ``x`` (splitmix64): per-post draws without stored state."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Draw:
    """A tiny deterministic stream of draws from a hashed seed (far cheaper than a Random).

    A 64-bit LCG: its high bits are plenty for choosing words and shaping counts.
    """

    __slots__ = ("h",)

    def __init__(self, h: int) -> None:
        self.h = h

    def u(self) -> float:
        self.h = (self.h * 6364136223846793005 + 1442695040888963407) & M64
        return (self.h >> 11) * (1.0 / 9007199254740992.0)

    def n(self, k: int) -> int:
        self.h = (self.h * 6364136223846793005 + 1442695040888963407) & M64
        return ((self.h >> 32) * k) >> 32

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.n(len(seq))]

    def normal(self) -> float:
        u1 = self.u() or 1e-12
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * self.u())


def base36(n: int) -> str:
    """Return ``n`` in base 36 (lower case): short unique tails for names and links."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def snowflake(ms: int, seq: int = 0) -> int:
    """Return an X-style id for UTC epoch milliseconds ``ms`` (ids grow with time)."""
    return ((ms - SNOWFLAKE_EPOCH_MS) << 22) | seq


def snowflake_ms(post_id: int | str) -> int:
    """Return the UTC epoch milliseconds an X-style id was made at."""
    return (int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS


def iso(ms: int) -> str:
    """Return UTC epoch milliseconds as the API writes times (``...T12:00:00.000Z``)."""
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000))}.{ms % 1000:03d}Z"

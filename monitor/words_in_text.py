"""What counts as a word in a #tag or @name found in a post's text (not in its entities).

Python's ``\\w`` leaves out combining marks, which Unicode counts as word characters;
the class here adds them, found once per process by scanning the planes that can hold
them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# Unicode assigns nothing in planes 4 to 13, and planes 15 and 16 are for private use:
# combining marks can only be in these (tests/test_normalize.py scans them all)
PLANES_WITH_MARKS = (0, 1, 2, 3, 14)


def mark_ranges(planes: tuple[int, ...] = PLANES_WITH_MARKS) -> list[tuple[int, int]]:
    """Return the ranges of combining marks (categories Mn, Mc, Me) in ``planes``."""
    ranges: list[tuple[int, int]] = []
    for plane in planes:
        start = prev = None
        for cp in range(plane << 16, (plane + 1) << 16):
            if unicodedata.category(chr(cp))[0] == "M":
                if start is None:
                    start = cp
                prev = cp
            elif start is not None:
                ranges.append((start, prev))
                start = None
        if start is not None:
            ranges.append((start, prev))
    return ranges


@cache
def term_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return the patterns for ``#tag`` and ``@name`` in text, built on first use.

    Python's ``\\w`` leaves out combining marks (Mn, Mc, Me), which Unicode counts as word
    characters: without them "#भारत" would stop at its first vowel sign. Building the
    class scans the planes that can hold marks once (~0.06 s), so only posts without
    entities pay for it.
    """
    word = "[\\w" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in mark_ranges()) + "]"
    return (
        re.compile(f"(?<!{word})#({word}+)"),
        re.compile(f"(?<!{word})@({word}+)"),
    )

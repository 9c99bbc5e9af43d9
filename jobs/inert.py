"""The one terminal-safety filter: every text from outside passes it before it is printed.

Server error details, file names, post and config text can hold escape sequences
(``ESC ] 0;...`` retitles the window, others move the cursor or make hyperlinks) and
bidi overrides; stored in a run's message, they would replay at every ``status``. Error
lines, status lines, pass summaries and log records all go through ``inert``; JSON
output through ``inert_json``. Kept free of rich so the CLI starts fast.
"""

from __future__ import annotations

import re
from typing import Any

import click

# bidi embeddings, overrides and isolates: they reorder what a terminal shows
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SPACES = str.maketrans("\t\n\r\v\f", "     ")
# Unicode's control characters (category Cc): C0, DEL and C1, ESC and the one-byte CSI
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
# C0/C1 controls (ESC, and 0x9b, the one-byte CSI) and bidi controls inside JSON text
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(value: Any) -> str:
    """Return text from outside (a server's error detail, a file name, config text) safe
    to print: the one terminal-safety filter of every line hashmon prints.

    Control characters (escape sequences that retitle the window, move the cursor or
    make hyperlinks, ``ESC ] 0;...``) and bidi overrides are dropped; line breaks and
    tabs become spaces, so a message stays one line.
    """
    return _CONTROLS.sub("", _BIDI.sub("", str(value)).translate(_SPACES))


def inert_json(text: str) -> str:
    """Return JSON text with the controls ``json.dumps`` leaves raw (DEL, C1, bidi) escaped.

    The data is unchanged (``\\u009b`` reads back as the same character); only the
    terminal never sees it raw.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def echo(message: Any, *, err: bool = False) -> None:
    """Print one line through ``inert``."""
    click.echo(inert(message), err=err)

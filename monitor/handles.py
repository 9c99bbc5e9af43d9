"""The forms a user may write accounts and posts in: handles and post addresses.

METRICS.md ("Handles"): ``@Name``, ``Name``, ``twitter.com/Name``, ``x.com/Name``, with
or without ``https://``, ``www.`` or ``mobile.``, with a trailing ``/`` or ``?query``, all
mean the username ``name`` (casefolded). A post is its id, or its address
``https://x.com/NAME/status/ID`` (twitter.com too, same prefixes).
"""

from __future__ import annotations

import re

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_HOST = re.compile(r"(?i)^(?:https?://)?(?:(?:www|mobile)\.)?(?:twitter|x)\.com/")
_POST_ID = re.compile(r"[0-9]{1,19}")
_STATUS = re.compile(r"(?i)^(?:[A-Za-z0-9_]{1,15}|i(?:/web)?)/status(?:es)?/([0-9]{1,19})$")


def _strip_tail(value: str) -> str:
    return value.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def username_of(handle: str) -> str:
    """Return the casefolded username a handle means; raise ValueError for anything else."""
    value = handle.strip()
    host = _HOST.match(value)
    if host:
        value = _strip_tail(value[host.end() :])
    else:
        value = value.removeprefix("@")
        if "?" in value or "/" in value:
            value = _strip_tail(value)
    if not _USERNAME.fullmatch(value):
        raise ValueError(
            f"{handle!r} is not an account: expected a handle like @first1001days, "
            "first1001days or https://x.com/first1001days"
        )
    return value.casefold()


def post_id_of(ref: str | int) -> str:
    """Return the post id a post id or post address means; raise ValueError for anything else."""
    value = str(ref).strip()
    host = _HOST.match(value)
    if host:
        found = _STATUS.match(_strip_tail(value[host.end() :]))
        value = found.group(1) if found else ""
    if not _POST_ID.fullmatch(value):
        raise ValueError(
            f"{ref!r} is not a post: expected a post id like 874583463395364864 or its "
            "address like https://x.com/first1001days/status/874583463395364864"
        )
    return str(int(value))  # ids are compared as stored: no leading zeros

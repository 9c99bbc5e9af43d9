"""Secrets in a config file that others can read: one warning naming the file and what
it seems to hold, never the secret.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.settings import SMTP_PASSWORD_ENV, TOKEN_ENV

log = logging.getLogger(__name__)

_SECRET_KEY = re.compile(r"(?i)(token|secret|passw(or)?d|api_?key|credential)")
_DSN_PASSWORD = re.compile(r"(?i)\bpassword\s*=\s*\S")
_BEARER = re.compile(r"(?i)\bbearer\s+\S{16,}")
_X_APP_TOKEN = re.compile(r"A{16,}[A-Za-z0-9%+/=_-]{16,}")  # X app-only tokens start so
_OPAQUE = re.compile(r"[A-Za-z0-9%+=_-]{48,}")
_warned: set[str] = set()


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Yield (dotted key, string) for every string value in a TOML table, keys included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


def _looks_secret(key: str, value: str) -> str | None:
    """Return what kind of secret ``value`` (under ``key``) seems to be, or None."""
    if not value.strip():
        return None
    for name in (TOKEN_ENV, SMTP_PASSWORD_ENV):
        secret = os.environ.get(name, "").strip()
        if len(secret) >= 4 and secret in value:
            return f"the value of {name}"
    if _SECRET_KEY.search(key.rsplit(".", 1)[-1]):
        return f"a value under a key named {key}"
    if "://" in value:
        try:
            if urlsplit(value).password:
                return f"a password in {key}"
        except ValueError:
            pass
    if _DSN_PASSWORD.search(value):
        return f"a password in {key}"
    if _BEARER.search(value) or _X_APP_TOKEN.search(value):
        return f"something that looks like a bearer token in {key}"
    for run in _OPAQUE.findall(value):
        if (
            any(c.isdigit() for c in run)
            and any(c.isupper() for c in run)
            and any(c.islower() for c in run)
        ):
            return f"something that looks like a token in {key}"
    return None


def warn_if_exposed(path: Path, data: dict) -> str | None:
    """Warn (one log line, once per file) when a config file holding a secret is readable
    by others; return the warning, or None.

    The line names the file, what kind of secret it seems to hold and ``chmod 600``, never
    the secret itself.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o044:  # neither group nor others may read it
        return None
    what = next((w for k, v in _strings(data) if (w := _looks_secret(k, v))), None)
    if what is None:
        return None
    message = (
        f"config file {path} holds a secret ({what}) and other users can read it: "
        f"run chmod 600 {path}"
    )
    if str(path.resolve()) not in _warned:
        _warned.add(str(path.resolve()))
        log.warning(message)
    return message

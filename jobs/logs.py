"""Logging set-up: levels by ``-v`` count, and a filter that keeps secrets out of every record."""

from __future__ import annotations

import logging
import os
import re

from jobs.inert import inert

SECRET_ENV = ("HASHMON_X_BEARER_TOKEN", "HASHMON_SMTP_PASSWORD")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+)?[^'\",}\s]+")


class RedactSecrets(logging.Filter):
    """Replace any secret value, and any Authorization header, in a record by ``[redacted]``,
    and pass the message through the terminal-safety filter (``jobs.inert``).

    tweepy logs request headers at DEBUG level, Authorization included; this filter
    sits on the root handler so no library's record reaches output unredacted, and no
    server's escape sequence reaches the terminal.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = inert(redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact(message: str) -> str:
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            message = message.replace(value, "[redacted]")
    return _AUTH_HEADER.sub(r"\1[redacted]", message)


def setup_logging(verbose: int) -> None:
    """Send logs to stderr: warnings by default, INFO with -v, DEBUG with -vv."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hashmon", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._hashmon = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(level)

"""Named errors. Each message says what is wrong and what to do; none carries a secret."""

from __future__ import annotations


class HashmonError(Exception):
    """Base of every error hashmon raises on purpose; the CLI prints it as one line."""

    exit_code = 1


class ConfigError(HashmonError):
    """The config file, an override or the database URL is unusable (exit 2)."""

    exit_code = 2


class UsageError(HashmonError):
    """A command was called with arguments it cannot use (exit 2)."""

    exit_code = 2


class DatabaseError(HashmonError):
    """The database could not be reached or written."""


class ImportFileError(HashmonError):
    """An archive file, or one of its lines, cannot be used."""

    def __init__(self, path: str, line: int | None, problem: str, hint: str = "") -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else path
        msg = f"{where}: {problem}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class SourceError(HashmonError):
    """A source (the X API, say) failed in a way a retry will not fix."""


class LockedError(HashmonError):
    """Another collector holds this database's collection lease."""


class DeliveryError(HashmonError):
    """An e-mail could not be handed to the SMTP server.

    ``server`` is ``host:port``; ``fault`` one of "DNS", "connection", "TLS", "login",
    "sender refused", "recipient refused", "message refused", "timeout", "SMTP". The
    message names both and what to do, never the password.
    """

    def __init__(self, server: str, fault: str, detail: str, hint: str = "") -> None:
        self.server = server
        self.fault = fault
        self.detail = detail
        msg = f"e-mail not sent via {server}: {fault} failure ({detail})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class PassStopped(Exception):
    """Raised by a source, a callback or a sleep to end a pass early; the next pass resumes.

    Not a failure: the run is recorded with ``status`` ("stopped" when the monthly budget
    ran out, "interrupted" when the process was asked to stop) and collect_pass returns.
    """

    def __init__(self, message: str, status: str = "stopped") -> None:
        super().__init__(message)
        self.status = status


def db_detail(exc: BaseException) -> str:
    """Return one line saying why a database call failed: the driver's first line.

    Never ``str(exc)`` of a SQLAlchemy error: that carries the SQL statement and its
    parameters (post text, and the URL of a connection error can follow it).
    """
    orig = getattr(exc, "orig", None)
    said = str(orig if orig is not None else exc).strip()
    line = said.splitlines()[0].strip() if said else ""
    return (line or type(exc).__name__)[:300]

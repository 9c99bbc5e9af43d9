"""E-mail delivery: a written report's digest (``digest``), the SMTP hand-over (``smtp``)."""

from reports.mail.digest import (
    ReportFileError,
    WrittenReport,
    digest_message,
    read_written_report,
)
from reports.mail.messages import trial_message
from reports.mail.smtp import send

__all__ = [
    "ReportFileError",
    "WrittenReport",
    "digest_message",
    "read_written_report",
    "send",
    "trial_message",
]

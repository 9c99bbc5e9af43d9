"""``[email]`` in the config: what is refused, and the SMTP password kept out of every log."""

from __future__ import annotations

import logging

import pytest

from jobs.logs import RedactSecrets
from monitor.config import parse_settings
from monitor.errors import ConfigError

GOOD = {"host": "smtp.example.org", "from": "hashmon@example.org", "to": ["team@example.org"]}


def _email(**changes: object) -> dict:
    return {"email": {**GOOD, **changes}}


def test_defaults_starttls_on_587_sending_reports_and_alerting_after_an_hour() -> None:
    email = parse_settings(_email(), "t.toml").email
    assert email is not None
    assert (email.security, email.smtp_port, email.send_reports) == ("starttls", 587, True)
    assert email.alert_after_minutes == 60
    assert parse_settings({}, "t.toml").email is None
    assert parse_settings(_email(security="ssl"), "t.toml").email.smtp_port == 465


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"password": "hunter22"}, "HASHMON_SMTP_PASSWORD"),
        ({"security": "none"}, "127.0.0.1"),
        ({"to": []}, "[email] to"),
        ({"from": "a@b.org\r\nBcc: all@x.org"}, "[email] from"),
        ({"to": ["ok@x.org", "two@x.org, three@x.org"]}, "[email] to"),
        ({"subject_prefix": "x\nBcc: all@x.org"}, "[email] subject_prefix"),
        ({"host": "smtp.example.org/evil"}, "[email] host"),
    ],
)
def test_bad_email_settings_are_one_line_naming_the_key(changes: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(_email(**changes), "t.toml")
    said = str(info.value)
    assert expected in said and "\n" not in said
    assert "hunter22" not in said


def test_none_is_allowed_on_loopback_only() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        assert parse_settings(_email(host=host, security="none"), "t").email.smtp_port == 25


def test_the_smtp_password_is_redacted_from_every_log_record(monkeypatch) -> None:
    monkeypatch.setenv("HASHMON_SMTP_PASSWORD", "pa55-Word-xyz")
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "login %s failed", ("pa55-Word-xyz",), None
    )
    RedactSecrets().filter(record)
    assert "pa55-Word-xyz" not in record.getMessage() and "[redacted]" in record.getMessage()

"""The settings: each table of the config file as a frozen pydantic model, with its defaults
(which describe #IMHAW17) and the rules its values must keep; where the secrets come from
(the environment only). Reading a file is
monitor/config.py's; an error's words are monitor/config_errors.py's.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import unicodedata
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.errors import ConfigError
from monitor.handles import post_id_of, username_of

DEFAULT_API_BASE = "https://api.twitter.com"
# plain http is for a test server on this machine only: the bearer token travels in a header
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
TOKEN_ENV = "HASHMON_X_BEARER_TOKEN"  # bearer_token reads it; named to spot it in files
SMTP_PASSWORD_ENV = "HASHMON_SMTP_PASSWORD"  # the only place the SMTP password comes from
BASELINE_METRICS = (
    "posts",
    "contributors",
    "potential_impressions",
    "potential_reach",
    "engagements",
)
REPORT_FORMATS = ("html", "png", "csv", "xlsx", "pdf", "json")
BUILT_IN = "built-in defaults"  # the origin of settings read from no file
# one search term each: a hashtag is letters (any script, with their combining marks),
# digits and underscores; an account is X's username rule. Anything else (a space, OR,
# from:, -is:retweet) would change the query sent, and so the figures, without a word
ACCOUNT = re.compile(r"@?[A-Za-z0-9_]{1,15}")
# the dates a campaign, a report or ``stats`` may cover: from X's first post to the end
# of the century, at most a few years at once (a day's figures are a query each)
EARLIEST_DATE = dt.date(2006, 3, 21)
LATEST_DATE = dt.date(2099, 12, 31)
MAX_WINDOW_DAYS = 3 * 366
# a baseline is a count (posts, people, impressions): finite, and at most a quadrillion
BASELINE_RANGE = (1.0, 1e15)


def is_hashtag(term: str) -> bool:
    """Return True when ``term`` (``#`` optional) is one hashtag X can search for."""
    body = term.removeprefix("#")
    return bool(body) and all(c == "_" or unicodedata.category(c)[0] in "LMN" for c in body)


def check_window(start: dt.date, end: dt.date, what: str) -> None:
    """Raise ValueError unless ``start``..``end`` lies within the dates hashmon covers."""
    for day in (start, end):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValueError(
                f"{what} {day} is outside {EARLIEST_DATE}..{LATEST_DATE}, the dates X can hold"
            )
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise ValueError(
            f"{what} {start} to {end} is {(end - start).days + 1} days; "
            f"hashmon covers at most {MAX_WINDOW_DAYS} days at once"
        )


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Campaign(_Section):
    name: str = "IMHAW17"
    hashtags: tuple[str, ...] = ("IMHAW17",)
    accounts: tuple[str, ...] = ("first1001days",)
    start: dt.date = dt.date(2017, 6, 12)
    end: dt.date = dt.date(2017, 6, 16)
    timezone: str = "Europe/London"
    theme: str = "Begin Before Birth"
    supporters: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name such as Europe/London") from None
        return value

    @field_validator("hashtags")
    @classmethod
    def _single_hashtags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for term in value:
            if not is_hashtag(term.strip()):
                raise ValueError(
                    f"{term!r} is not one hashtag: expected letters, digits and _ only, "
                    "like IMHAW17 (one term per entry, no spaces or search operators)"
                )
        return value

    @field_validator("accounts")
    @classmethod
    def _single_accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for term in value:
            if not ACCOUNT.fullmatch(term.strip()):
                raise ValueError(
                    f"{term!r} is not one X username: expected 1 to 15 of A-Z, a-z, 0-9 "
                    "and _, like first1001days (one per entry, no spaces or search operators)"
                )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Campaign:
        if self.end < self.start:
            raise ValueError(
                f"[campaign] end = {self.end} is before [campaign] start = {self.start}: "
                "the end must be on or after the start, e.g. start = 2017-06-12, end = 2017-06-16"
            )
        check_window(self.start, self.end, "the campaign")
        if not self.hashtags and not self.accounts:
            raise ValueError(
                "[campaign] hashtags and accounts are both empty: give at least one, "
                'e.g. hashtags = ["IMHAW17"]'
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hashtag_terms(self) -> tuple[str, ...]:
        """Hashtags without ``#``, casefolded: the form matching compares."""
        return tuple(dict.fromkeys(t.strip().lstrip("#").casefold() for t in self.hashtags))

    @property
    def account_terms(self) -> tuple[str, ...]:
        """Accounts without ``@``, casefolded."""
        return tuple(dict.fromkeys(a.strip().lstrip("@").casefold() for a in self.accounts))

    def _terms(self) -> list[str]:
        """Return ``#tag`` and ``@account`` terms as written, configured marks or not."""
        terms = [f"#{t.strip().lstrip('#')}" for t in self.hashtags]
        return terms + [f"@{a.strip().lstrip('@')}" for a in self.accounts]

    def query(self) -> str:
        """Return the X search query: ``(#IMHAW17 OR @first1001days)``, one term bare.

        Repeated terms are given once. Its length is the source's to check (X's limit).
        """
        terms = list(dict.fromkeys(self._terms()))
        return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"

    def display_terms(self) -> str:
        """Return the hashtags and accounts as a reader sees them: ``#IMHAW17 @first1001days``."""
        return " ".join(self._terms())

    def days(self) -> list[dt.date]:
        """Return the campaign's local dates, ``start`` to ``end`` inclusive."""
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]


class Baseline(_Section):
    label: str = "#IMHAW16"
    metric: Literal[
        "posts", "contributors", "potential_impressions", "potential_reach", "engagements"
    ] = "potential_impressions"
    value: float = Field(default=10_000_000, gt=0, allow_inf_nan=False)

    @field_validator("value")
    @classmethod
    def _sane_value(cls, value: float) -> float:
        low, high = BASELINE_RANGE
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"expected a count from {low:g} to {high:g}")
        return value


class Database(_Section):
    url: str = "sqlite:///hashmon.db"


class Source(_Section):
    kind: Literal["x", "simulated"] = "x"
    seed: int = 42


class X(_Section):
    # "pay-per-use": each post read is charged once a UTC day; "cap": a monthly post cap
    # where every read counts (monitor/budget.py)
    billing: Literal["pay-per-use", "cap"] = "pay-per-use"
    monthly_post_cap: int = Field(default=10_000, gt=0)
    monthly_budget: float | None = Field(default=None, gt=0)
    full_archive: bool = False
    price_per_post_read: float = Field(default=0.005, ge=0)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    max_wait_seconds: float = Field(default=900.0, gt=0)
    # where the X API v2 answers; only a test server or a proxy needs anything else
    api_base_url: str = DEFAULT_API_BASE

    @field_validator("api_base_url")
    @classmethod
    def _safe_base(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        secure = parts.scheme == "https" and bool(parts.hostname)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if not (secure or local) or parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(
                "expected https://HOST[:PORT] (http:// only on 127.0.0.1 or localhost, for a "
                "test server): the bearer token must never cross a network in clear"
            )
        return value.rstrip("/")


class Schedule(_Section):
    collect_every_minutes: int = Field(default=15, gt=0)
    # a periodic refresh of the posts younger than refresh_metrics_for_hours; 0: none
    # (the default: refresh_before_reports gives the reports exact counts for fewer reads)
    refresh_metrics_every_minutes: int = Field(default=0, ge=0)
    refresh_metrics_for_hours: int = Field(default=48, gt=0)
    # refresh the posts a report shows right before it is written (the day's posts before
    # a daily report, every campaign post before the summary: the final refresh)
    refresh_before_reports: bool = True
    daily_report_at: dt.time = dt.time(21, 0)
    # "today so far" (today.html, HTML only) rewritten this often on campaign days; 0: none
    so_far_every_minutes: int = Field(default=60, ge=0)
    summary_at: dt.time = dt.time(9, 0)
    misfire_grace_minutes: int = Field(default=360, gt=0)


class Reports(_Section):
    out_dir: str = "hashmon-reports"
    formats: tuple[Literal["html", "png", "csv", "xlsx", "pdf", "json"], ...] = REPORT_FORMATS
    top_n: int = Field(default=10, gt=0, le=100)
    shareable: bool = False  # scheduled reports are the shareable version (METRICS.md)


class Shareable(_Section):
    # a private individual's latest follower count is below this (METRICS.md)
    min_followers: int = Field(default=5000, ge=0)


def _address(value: str) -> str:
    """Return a plain e-mail address, refusing anything that could smuggle a header."""
    value = value.strip()
    if (
        not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.?[^@\s<>,;\"]*", value)
        or "\r" in value
        or "\n" in value
    ):
        raise ValueError("expected a plain address like team@example.org")
    return value


class Email(_Section):
    """``[email]``: where digests and alerts go. The password comes from the environment only."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str
    port: int | None = Field(default=None, gt=0, lt=65536)  # 587 starttls, 465 ssl, 25 none
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    sender: str = Field(alias="from")
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject_prefix: str = ""
    send_reports: bool = True
    alert_after_minutes: int = Field(default=60, gt=0)
    tls_ca_file: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and any("pass" in str(k).lower() for k in data):
            raise ValueError(
                f"the SMTP password is read only from {SMTP_PASSWORD_ENV}, never from the "
                "config file: remove it from [email] and set that variable"
            )
        return data

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str) -> str:
        value = value.strip().strip("[]")
        if not re.fullmatch(r"[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+", value):
            raise ValueError("expected a host name like smtp.example.org or an IP address")
        return value

    @field_validator("sender")
    @classmethod
    def _one_sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("to", "cc")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_address(v) for v in value)

    @field_validator("subject_prefix", "username")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("expected one line of text")
        return value

    @model_validator(mode="after")
    def _safe(self) -> Email:
        if not self.to:
            raise ValueError(
                '[email] to = []: give at least one address, e.g. to = ["team@example.org"]'
            )
        if self.security == "none" and self.host not in LOOPBACK_HOSTS:
            raise ValueError(
                'security = "none" is allowed only for 127.0.0.1, ::1 or localhost: the '
                "password and the reports must never cross a network in clear; use "
                '"starttls" or "ssl"'
            )
        return self

    @property
    def smtp_port(self) -> int:
        """The port in force: the configured one, else the usual one for ``security``."""
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.to + self.cc))


class Stakeholders(_Section):
    # CSV or XLSX lists (METRICS.md "Stakeholders"); relative paths are made relative to
    # the config file when it is read
    supporters: str | None = None
    decision_makers: str | None = None
    # the handles of the old ``[campaign] supporters`` key of a config file: supporters
    # until a list file is named; not a key of [stakeholders]
    supporter_handles: tuple[str, ...] = Field(default=(), exclude=True)

    @field_validator("supporters", "decision_makers")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected the path of a .csv or .xlsx file, or no key at all")
        return value


class Moderation(_Section):
    """Posts hidden (counted, never shown) and excluded (neither counted nor shown)."""

    hide_posts: tuple[str, ...] = ()
    hide_accounts: tuple[str, ...] = ()
    exclude_posts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()

    @field_validator("hide_posts", "exclude_posts", mode="before")
    @classmethod
    def _posts(cls, value: Any) -> Any:
        # a post id may be written as a TOML integer; keep it as written, in text
        if isinstance(value, list | tuple):
            value = tuple(
                str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value
            )
            for v in value:
                if isinstance(v, str):
                    post_id_of(v)
        return value

    @field_validator("hide_accounts", "exclude_accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for v in value:
            username_of(v)
        return value

    @property
    def hidden_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(post_id_of(v) for v in self.hide_posts))

    @property
    def excluded_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(post_id_of(v) for v in self.exclude_posts))

    @property
    def hidden_usernames(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(username_of(v) for v in self.hide_accounts))

    @property
    def excluded_usernames(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(username_of(v) for v in self.exclude_accounts))

    @property
    def active(self) -> bool:
        """Whether any list names anything."""
        return bool(
            self.hide_posts or self.hide_accounts or self.exclude_posts or self.exclude_accounts
        )


class Settings(_Section):
    campaign: Campaign = Campaign()
    baseline: Baseline | None = Baseline()
    database: Database = Database()
    source: Source = Source()
    x: X = X()
    schedule: Schedule = Schedule()
    reports: Reports = Reports()
    email: Email | None = None
    stakeholders: Stakeholders = Stakeholders()
    moderation: Moderation = Moderation()
    shareable: Shareable = Shareable()
    # where the settings came from, for messages; not a key of the file
    origin: str = Field(default=BUILT_IN, exclude=True)


def bearer_token(token: str | None = None) -> str:
    """Return the bearer token given, else ``$HASHMON_X_BEARER_TOKEN``.

    Raises ConfigError (exit 2) naming the variable, never a value, when there is none.
    """
    token = token or os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"no X bearer token: set the environment variable {TOKEN_ENV} to your app's "
            "bearer token (never put it in the config file), or use [source] kind = "
            '"simulated" to try hashmon without an account'
        )
    return token

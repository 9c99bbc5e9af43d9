"""Configuration: frozen pydantic models read from TOML, with environment overrides.

Precedence, highest first: command-line options, ``HASHMON_CONFIG`` /
``HASHMON_DATABASE_URL``, the config file, the defaults (which describe #IMHAW17).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import math
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import ConfigError
from monitor.handles import post_id_of, username_of

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "hashmon.toml"
CONFIG_ENV = "HASHMON_CONFIG"
DATABASE_ENV = "HASHMON_DATABASE_URL"
API_BASE_ENV = "HASHMON_X_API_BASE"
DEFAULT_API_BASE = "https://api.twitter.com"
# plain http is for a test server on this machine only: the bearer token travels in a header
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
TOKEN_ENV = "HASHMON_X_BEARER_TOKEN"  # bearer_token reads it; named here to spot it in files
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
DEFAULTS_NOTICE = (
    "no config file found (no --config, no $HASHMON_CONFIG, no ./hashmon.toml): running on "
    "the built-in #IMHAW17 defaults; copy config.example.toml to hashmon.toml for your campaign"
)
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


# keys whose values may carry credentials: an error about them never repeats the value
_QUIET_KEYS = ("database.url", "x.api_base_url")
_BOUNDS = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}


def _toml(value: Any) -> str:
    """Return ``value`` as a TOML file writes it: ``"june"``, ``2017-06-12``, ``["a"]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # as TOML escapes it: a line break or a control character stays one visible escape,
        # so the error is one line and a value cannot write its own lines
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _section(table: str) -> type[BaseModel] | None:
    """Return the model of a table of the file (``[baseline]`` may be absent), or None."""
    field = Settings.model_fields.get(table)
    if field is None or table == "origin":
        return None
    kinds = (field.annotation, *get_args(field.annotation))
    return next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)


def _form(annotation: Any) -> str:
    """Return the form a value of ``annotation`` takes, in a reader's words."""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(_toml(a) for a in get_args(annotation))
    if get_origin(annotation) is tuple:
        return "a list of " + _form(get_args(annotation)[0]).removeprefix("a ")
    return {
        dt.date: "a date written YYYY-MM-DD, without quotes",
        dt.time: "a time written HH:MM:SS, without quotes",
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text in quotes",
    }.get(annotation, "a value")


def _expected(table: str, name: str, item: bool) -> str:
    """Return the form expected for ``[table] name`` (or one item of it), with an example."""
    section = _section(table)
    if section is None or name not in section.model_fields:
        return ""
    info = section.model_fields[name]
    annotation = info.annotation
    if item and get_origin(annotation) is tuple:
        annotation = get_args(annotation)[0]
    form = _form(annotation)
    bounds = [
        f"{_BOUNDS[attr]} {getattr(m, attr):,g}"
        for m in info.metadata
        for attr in _BOUNDS
        if getattr(m, attr, None) is not None
    ]
    if bounds:
        form += " " + " and ".join(bounds)
    return f"expected {form}, e.g. {name} = {_toml(info.default)}"


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return the known name closest to a misspelt one, or ""."""
    close = difflib.get_close_matches(word, [c for c in choices if c != "origin"], n=1)
    return close[0] if close else ""


def _describe(err: dict) -> str:
    """Return one validation error in the file's own words: the key as written
    (``[campaign] end``), the value found, the form expected with an example."""
    loc = tuple(err["loc"])
    names = [str(p) for p in loc if not isinstance(p, int)]
    items = [p for p in loc if isinstance(p, int)]
    msg = err["msg"].removeprefix("Value error, ")
    if len(names) < 2:
        if err["type"] == "extra_forbidden" and names:
            tables = ", ".join(f"[{t}]" for t in Settings.model_fields if t != "origin")
            close = _did_you_mean(names[0], Settings.model_fields)
            hint = f"did you mean [{close}]? " if close else ""
            return f"[{names[0]}]: unknown table; {hint}hashmon reads {tables}"
        if names and err["type"] != "value_error":
            got = err.get("input")
            return (
                f"{names[0]} = {_toml(got)}: expected a table, a line [{names[0]}] "
                "with its keys on the lines below"
            )
        return msg  # a rule across keys: its message names them in the file's words
    key = f"[{names[0]}] {'.'.join(names[1:])}" + (f", item {items[0] + 1}" if items else "")
    if err["type"] == "extra_forbidden":
        section = _section(names[0])
        close = _did_you_mean(names[-1], section.model_fields if section else ())
        hint = f"did you mean {close}? " if close else ""
        return f"{key}: unknown key; {hint}see config.example.toml for the keys hashmon reads"
    got = err.get("input")
    quiet = ".".join(names) in _QUIET_KEYS and not isinstance(got, (int, float))
    shown = "" if quiet or isinstance(got, dict) else f" = {_toml(got)}"
    if err["type"] == "value_error":
        return f"{key}{shown}: {msg}"
    return f"{key}{shown}: {_expected(names[0], names[1], bool(items)) or msg}"


# --- secrets in a config file that others can read ----------------------------------------

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


def parse_settings(data: dict, origin: str) -> Settings:
    """Return validated settings from the dict of a TOML file; raise ConfigError naming the key."""
    data = dict(data)
    if "baseline" in data and data["baseline"] is None:
        data.pop("baseline")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"config error in {origin}: {_describe(exc.errors()[0])}") from None
    if "baseline" not in data and origin != BUILT_IN:
        # a config file without [baseline] compares against nothing (METRICS.md)
        settings = settings.model_copy(update={"baseline": None})
    settings = _moved_supporters(settings, data, origin)
    return settings.model_copy(update={"origin": origin})


def _moved_supporters(settings: Settings, data: dict, origin: str) -> Settings:
    """Carry the old ``[campaign] supporters`` handles over to the stakeholders, with a
    one-line notice; the simulator still reads them from ``campaign.supporters``."""
    old = settings.campaign.supporters
    if not isinstance(data.get("campaign"), dict) or "supporters" not in data["campaign"]:
        return settings
    if settings.stakeholders.supporters:
        log.warning(
            "config notice in %s: [campaign] supporters is replaced by [stakeholders] "
            "supporters, which is set: the old key is ignored; remove it",
            origin,
        )
        return settings
    log.warning(
        "config notice in %s: [campaign] supporters moved to [stakeholders] supporters "
        "(the path of a CSV or XLSX list with name and handle columns); %s",
        origin,
        f"its {len(old)} handles count as supporters until then" if old else "remove it",
    )
    stakeholders = settings.stakeholders.model_copy(update={"supporter_handles": old})
    return settings.model_copy(update={"stakeholders": stakeholders})


def _relative_to(settings: Settings, path: Path) -> Settings:
    """Return settings whose stakeholder list paths are relative to the config file."""
    s = settings.stakeholders
    update = {}
    for key in ("supporters", "decision_makers"):
        value = getattr(s, key)
        if value and not Path(value).expanduser().is_absolute():
            update[key] = str(path.parent / value)
        elif value:
            update[key] = str(Path(value).expanduser())
    if not update:
        return settings
    return settings.model_copy(update={"stakeholders": s.model_copy(update=update)})


def load_settings(config_path: str | None = None, database_url: str | None = None) -> Settings:
    """Return the settings in force.

    ``config_path`` (``--config``) beats ``HASHMON_CONFIG``, which beats ``./hashmon.toml``;
    without any of them the built-in #IMHAW17 defaults apply. ``database_url``
    (``--database``) beats ``HASHMON_DATABASE_URL``, which beats ``[database] url``;
    ``HASHMON_X_API_BASE`` beats ``[x] api_base_url``. Raises ConfigError for a missing
    or invalid file. Logs a warning when the file holds a secret others can read.
    """
    explicit = config_path or os.environ.get(CONFIG_ENV) or None
    path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    if path.is_file():
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"config error in {path}: not valid TOML ({exc}); fix the file"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        warn_if_exposed(path, data)
        settings = _relative_to(parse_settings(data, str(path)), path)
    elif explicit:
        hint = f" (from {CONFIG_ENV})" if not config_path else ""
        raise ConfigError(
            f"config file {path}{hint} not found; copy config.example.toml there or pass --config"
        )
    else:
        settings = Settings()
    url = database_url or os.environ.get(DATABASE_ENV) or None
    if url:
        settings = settings.model_copy(update={"database": Database(url=url)})
    base = os.environ.get(API_BASE_ENV, "").strip()
    if base:
        try:
            x = X.model_validate({**settings.x.model_dump(), "api_base_url": base})
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{API_BASE_ENV}: {problem}") from None
        settings = settings.model_copy(update={"x": x})
    return settings


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

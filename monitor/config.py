"""Configuration: frozen pydantic models read from TOML, with environment overrides.

Precedence, highest first: command-line options, ``HASHMON_CONFIG`` /
``HASHMON_DATABASE_URL``, the config file, the defaults (which describe #IMHAW17).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "hashmon.toml"
CONFIG_ENV = "HASHMON_CONFIG"
DATABASE_ENV = "HASHMON_DATABASE_URL"
API_BASE_ENV = "HASHMON_X_API_BASE"
DEFAULT_API_BASE = "https://api.twitter.com"
# plain http is for a test server on this machine only: the bearer token travels in a header
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
TOKEN_ENV = "HASHMON_X_BEARER_TOKEN"  # bearer_token reads it; named here to spot it in files
BASELINE_METRICS = (
    "posts",
    "contributors",
    "potential_impressions",
    "potential_reach",
    "engagements",
)
REPORT_FORMATS = ("html", "png", "csv", "xlsx", "pdf", "json")
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
            raise ValueError("campaign.end must be on or after campaign.start")
        check_window(self.start, self.end, "the campaign")
        if not self.hashtags and not self.accounts:
            raise ValueError("give at least one of campaign.hashtags or campaign.accounts")
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
    monthly_post_cap: int = Field(default=10_000, gt=0)
    full_archive: bool = False
    price_per_post_read: float = Field(default=0.0, ge=0)
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
    refresh_metrics_every_minutes: int = Field(default=360, gt=0)
    refresh_metrics_for_hours: int = Field(default=48, gt=0)
    daily_report_at: dt.time = dt.time(21, 0)
    summary_at: dt.time = dt.time(9, 0)
    misfire_grace_minutes: int = Field(default=360, gt=0)


class Reports(_Section):
    out_dir: str = "hashmon-reports"
    formats: tuple[Literal["html", "png", "csv", "xlsx", "pdf", "json"], ...] = REPORT_FORMATS
    top_n: int = Field(default=10, gt=0, le=100)


class Settings(_Section):
    campaign: Campaign = Campaign()
    baseline: Baseline | None = Baseline()
    database: Database = Database()
    source: Source = Source()
    x: X = X()
    schedule: Schedule = Schedule()
    reports: Reports = Reports()
    # where the settings came from, for messages; not a key of the file
    origin: str = Field(default="built-in defaults", exclude=True)


# keys whose values may carry credentials: an error about them never repeats the value
_QUIET_KEYS = ("database.url", "x.api_base_url")


def _describe(err: dict) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key; see config.example.toml for the keys hashmon reads"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    quiet = isinstance(got, dict) or got is None or key in _QUIET_KEYS
    shown = "" if quiet else f" (got {got!r})"
    return f"{key}: {msg}{shown}"


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
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token and token in value:
        return f"the value of {TOKEN_ENV}"
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
    if "baseline" not in data and origin != "built-in defaults":
        # a config file without [baseline] compares against nothing (METRICS.md)
        settings = settings.model_copy(update={"baseline": None})
    return settings.model_copy(update={"origin": origin})


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
        settings = parse_settings(data, str(path))
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

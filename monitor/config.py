"""Loading the settings: which file, and the environment's overrides.

Precedence, highest first: command-line options, ``HASHMON_CONFIG`` /
``HASHMON_DATABASE_URL``, the config file, the defaults (which describe #IMHAW17).
The models are monitor/settings.py's.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from monitor.config_errors import describe_error
from monitor.config_secrets import warn_if_exposed
from monitor.errors import ConfigError
from monitor.settings import BUILT_IN, Campaign, Database, Settings, X

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "hashmon.toml"
CONFIG_ENV = "HASHMON_CONFIG"
DATABASE_ENV = "HASHMON_DATABASE_URL"
API_BASE_ENV = "HASHMON_X_API_BASE"
DEFAULTS_NOTICE = (
    "no config file found (no --config, no $HASHMON_CONFIG, no ./hashmon.toml): running on "
    "the built-in #IMHAW17 defaults; copy config.example.toml to hashmon.toml for your campaign"
)


def parse_settings(data: dict, origin: str) -> Settings:
    """Return validated settings from the dict of a TOML file; raise ConfigError naming the key."""
    data = dict(data)
    if "baseline" in data and data["baseline"] is None:
        data.pop("baseline")
    if isinstance(data.get("campaign"), dict) and origin != BUILT_IN:
        data["campaign"] = _own_campaign(data["campaign"], origin)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"config error in {origin}: {describe_error(exc.errors()[0])}") from None
    if "baseline" not in data and origin != BUILT_IN:
        # a config file without [baseline] compares against nothing (METRICS.md)
        settings = settings.model_copy(update={"baseline": None})
    settings = _moved_supporters(settings, data, origin)
    return settings.model_copy(update={"origin": origin})


def _terms(values: tuple[str, ...]) -> set[str]:
    return {v.strip().lstrip("#@").casefold() for v in values}


def _own_campaign(table: dict, origin: str) -> dict:
    """Return a file's ``[campaign]`` with what it leaves out filled for *its* campaign.

    The built-in defaults are #IMHAW17's. A table whose search terms are its own must not
    inherit the rest: it gives its dates (never June 2017's), and a missing theme, account
    or hashtag list is empty (a report would quote "Begin Before Birth", a pass collect
    mentions of @first1001days), a missing name its first term. Terms that are not valid
    are left for the model's validation to name.
    """
    given = {k: table[k] for k in ("hashtags", "accounts") if k in table}
    try:
        terms = Campaign.model_validate(given)
    except ValidationError:
        return table
    built_in = Campaign()
    if all(_terms(getattr(terms, k)) == _terms(getattr(built_in, k)) for k in given):
        return table
    for key, example in (("start", "2017-06-12"), ("end", "2017-06-16")):
        if key not in table:
            raise ConfigError(
                f"config error in {origin}: [campaign] {key} is missing; give the campaign's "
                f"{'first' if key == 'start' else 'last'} local day, e.g. {key} = {example}"
            )
    table = {"theme": "", "hashtags": [], "accounts": [], **table}
    if "name" not in table:
        words = [t.strip().lstrip("#@") for k in given for t in getattr(terms, k)]
        table["name"] = next((w for w in words if w), "campaign")
    return table


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

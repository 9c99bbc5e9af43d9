"""Adding to the config file's [moderation] lists without disturbing the rest of it.

Python reads TOML (``tomllib``) but cannot write it, and a user's config holds comments
and a layout worth keeping, so the edit is textual and small: the list's key is
rewritten (or added) inside the ``[moderation]`` table (added at the end of the file when
there is none), every other line stays byte for byte, and the result is parsed again and
must equal the old file with only that list changed before it replaces the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.config import CONFIG_ENV, DEFAULT_CONFIG_FILE, parse_settings
from monitor.errors import ConfigError, UsageError
from monitor.handles import post_id_of, username_of

MODERATION_KEYS = ("hide_posts", "hide_accounts", "exclude_posts", "exclude_accounts")
_HEADER = re.compile(r"^\s*\[\s*moderation\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def classify(refs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Return (post ids, usernames) that command-line arguments name, in order.

    Digits alone, or a post address, name a post; any other handle form an account (an
    account whose name is all digits is written with its ``@``). Raises UsageError naming
    the first argument that is neither.
    """
    posts: list[str] = []
    accounts: list[str] = []
    for ref in refs:
        try:
            posts.append(post_id_of(ref))
            continue
        except ValueError:
            pass
        try:
            accounts.append(username_of(ref))
        except ValueError:
            raise UsageError(
                f"{ref!r} is neither an account nor a post: give a handle like @first1001days "
                "or x.com/first1001days, or a post id or address like "
                "https://x.com/first1001days/status/874583463395364864"
            ) from None
    return posts, accounts


def config_file(config_path: str | None) -> Path:
    """Return the config file in force, as ``load_settings`` chooses it.

    Raises ConfigError when there is none: the built-in defaults have no file to add to.
    """
    explicit = config_path or os.environ.get(CONFIG_ENV) or None
    path = Path(explicit or DEFAULT_CONFIG_FILE)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} not found: the lists are kept in the config file; copy "
            "config.example.toml there or pass --config"
        )
    return path


def _value_end(lines: list[str], start: int) -> int:
    """Return the index after the last line of the key/value that starts at ``start``."""
    for end in range(start + 1, len(lines) + 1):
        try:
            tomllib.loads("".join(lines[start:end]))
            return end
        except tomllib.TOMLDecodeError:
            continue
    return start + 1


def _edit(text: str, key: str, values: list[str]) -> str:
    """Return ``text`` with ``[moderation] key`` set to ``values``, everything else kept."""
    line = f"{key} = {json.dumps(values, ensure_ascii=False)}\n"
    lines = text.splitlines(keepends=True)
    header = next((i for i, s in enumerate(lines) if _HEADER.match(s)), None)
    if header is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}\n[moderation]\n{line}"
    end = next(
        (i for i in range(header + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines)
    )
    pattern = re.compile(rf"^\s*{key}\s*=")
    for i in range(header + 1, end):
        if pattern.match(lines[i]):
            return "".join(lines[:i] + [line] + lines[_value_end(lines, i) :])
    # after the table's last non-blank line, so a blank line before the next table stays
    last = end
    while last > header + 1 and not lines[last - 1].strip():
        last -= 1
    if last and not lines[last - 1].endswith("\n"):
        lines[last - 1] += "\n"
    return "".join(lines[:last] + [line] + lines[last:])


def _normal(key: str, value: Any) -> str:
    return post_id_of(value) if key.endswith("_posts") else username_of(str(value))


def add_to_moderation(path: Path, key: str, entries: Sequence[str]) -> list[str]:
    """Add ``entries`` (post ids, or usernames) to the list ``key`` of the config at
    ``path``; return those that were not listed yet.

    Raises ConfigError when the file cannot be read, is not valid, or keeps [moderation]
    in a form this edit does not handle (then nothing is written).
    """
    if key not in MODERATION_KEYS:
        raise ValueError(key)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config error in {path}: not valid TOML ({exc}); fix the file") from None
    parse_settings(data, str(path))  # a broken file is fixed first, never written over
    section = data.get("moderation", {})
    if "moderation" in data and not any(_HEADER.match(s) for s in text.splitlines()):
        raise ConfigError(
            f"{path} sets moderation without a [moderation] table; add {key} there by hand"
        )
    current = list(section.get(key, []))
    known = {_normal(key, v) for v in current}
    added = []
    for entry in entries:
        if entry not in known:
            known.add(entry)
            added.append(entry)
    if not added:
        return []
    shown = [e if key.endswith("_posts") else f"@{e}" for e in added]
    values = [str(v) for v in current] + shown
    new_text = _edit(text, key, values)
    try:
        new_data = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        new_data = None
    expected = {**data, "moderation": {**section, key: values}}
    if new_data != expected:
        raise ConfigError(
            f"could not add to [moderation] {key} in {path} without changing anything else; "
            "add it by hand"
        )
    parse_settings(new_data, str(path))
    _replace(path, new_text)
    return added


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically, keeping the file's permissions."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""A config file's validation error in the file's own words: the key as written
(``[campaign] end``), the value found as TOML writes it, the form expected with an example.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from monitor.settings import Settings

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


def describe_error(err: dict) -> str:
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

"""Stakeholder lists: the campaign's supporters and the decision makers it hopes to reach.

A list is a CSV (UTF-8, a BOM allowed) or XLSX file (first sheet) with a header row,
read with pandas (METRICS.md, "Stakeholders"). Columns are matched case-insensitively
and trimmed; ``name`` and ``handle`` are required, ``role`` is read for decision makers,
every other column is kept as text. Rows with the same name are one stakeholder with
several handles; blank rows are skipped. A list is taken whole or refused whole: any
bad row raises ConfigError naming the file, the row and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from monitor.errors import ConfigError
from monitor.handles import username_of
from monitor.settings import Settings

SUPPORTERS = "supporters"
DECISION_MAKERS = "decision_makers"


@dataclass(frozen=True)
class Stakeholder:
    """One supporter or decision maker: a name, its handles (casefolded, file order),
    its role (decision makers; None when not given) and its other columns as text."""

    name: str
    handles: tuple[str, ...]
    role: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


class Lists(NamedTuple):
    """The configured lists; None where no list is configured."""

    supporters: list[Stakeholder] | None
    decision_makers: list[Stakeholder] | None


def handle_username(value: str) -> str | None:
    """Return the casefolded username a handle means (monitor.handles: every form METRICS.md
    names), or None if it is not a valid one."""
    try:
        return username_of(value)
    except ValueError:
        return None


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _frame(path: Path) -> Any:
    """Return the file's cells as a DataFrame of text, header row included (row 0)."""
    import pandas as pd  # only commands that read a list pay for pandas

    suffix = path.suffix.casefold()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ConfigError(f"stakeholder list {path}: expected a .csv or .xlsx file")
    if not path.is_file():
        raise ConfigError(
            f"stakeholder list {path} not found; check the path in [stakeholders] "
            "(relative to the config file)"
        )
    options = {"header": None, "dtype": str, "keep_default_na": False}
    try:
        if suffix == ".csv":
            # skip_blank_lines=False keeps row numbers equal to the file's records
            return pd.read_csv(path, encoding="utf-8-sig", skip_blank_lines=False, **options)
        return pd.read_excel(path, sheet_name=0, engine="openpyxl", **options)
    except UnicodeDecodeError:
        raise ConfigError(
            f"stakeholder list {path}: not UTF-8 text; save it as CSV UTF-8 or XLSX"
        ) from None
    except pd.errors.EmptyDataError:
        raise ConfigError(
            f"stakeholder list {path}: empty; it needs a header row with name and handle"
        ) from None
    except pd.errors.ParserError as exc:
        problem = " ".join(str(exc).split())[:200]
        raise ConfigError(f"stakeholder list {path}: not readable as CSV ({problem})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read stakeholder list {path}: {exc.strerror}") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl and zipfile raise many kinds
        raise ConfigError(
            f"stakeholder list {path}: not a readable XLSX file ({type(exc).__name__}); "
            "save it again from your spreadsheet as .xlsx or .csv"
        ) from None


def read_list(path: Path, kind: str = SUPPORTERS) -> list[Stakeholder]:
    """Return the stakeholders of one list file, in file order.

    ``kind`` is SUPPORTERS or DECISION_MAKERS (only the latter reads ``role``). Raises
    ConfigError, naming the file, the row (as a spreadsheet numbers it, header = 1) and
    the value, for a missing file or column, an invalid handle, a row without a name or
    handle, or a handle on two stakeholders. Nothing of a refused list is returned.
    """
    frame = _frame(path)
    if frame.empty:
        raise ConfigError(
            f"stakeholder list {path}: empty; it needs a header row with name and handle"
        )
    header = [_cell(v) for v in frame.iloc[0].tolist()]
    keys = [h.casefold() for h in header]
    for required in ("name", "handle"):
        if required not in keys:
            found = ", ".join(h for h in header if h) or "none"
            raise ConfigError(
                f"stakeholder list {path}: no {required!r} column (columns found: {found}); "
                "the header row needs name and handle"
            )
    name_at, handle_at = keys.index("name"), keys.index("handle")
    role_at = keys.index("role") if kind == DECISION_MAKERS and "role" in keys else None
    special = {name_at, handle_at, role_at}
    extra = [(i, h) for i, h in enumerate(header) if i not in special and h]

    by_name: dict[str, dict[str, Any]] = {}
    owner: dict[str, str] = {}  # username -> casefolded name holding it
    for index, values in enumerate(frame.itertuples(index=False, name=None)):
        if index == 0:
            continue
        row = index + 1
        cells = [_cell(v) for v in values]
        if not any(cells):
            continue
        name, raw = cells[name_at], cells[handle_at]
        if not name or not raw:
            missing, value = ("name", raw) if not name else ("handle", name)
            raise ConfigError(
                f"stakeholder list {path}, row {row}: no {missing} (row of {value!r}); "
                "every row needs a name and a handle"
            )
        username = handle_username(raw)
        if username is None:
            raise ConfigError(
                f"stakeholder list {path}, row {row}: {raw!r} is not an X handle "
                "(@name, name or an x.com/twitter.com address; 1-15 letters, digits or _)"
            )
        key = name.casefold()
        if owner.setdefault(username, key) != key:
            other = by_name[owner[username]]["name"]
            raise ConfigError(
                f"stakeholder list {path}, row {row}: handle {raw!r} is also {other!r}'s; "
                "a handle belongs to one stakeholder"
            )
        entry = by_name.setdefault(key, {"name": name, "handles": [], "role": "", "columns": {}})
        if username not in entry["handles"]:
            entry["handles"].append(username)
        if role_at is not None and not entry["role"]:
            entry["role"] = cells[role_at]
        for i, head in extra:
            if cells[i] and not entry["columns"].get(head):
                entry["columns"][head] = cells[i]
    return [
        Stakeholder(
            name=e["name"],
            handles=tuple(e["handles"]),
            role=(e["role"] or None) if kind == DECISION_MAKERS else None,
            columns={h: e["columns"].get(h, "") for _, h in extra},
        )
        for e in by_name.values()
    ]


def legacy_supporters(handles: tuple[str, ...], origin: str) -> list[Stakeholder]:
    """Return the supporters of the old ``[campaign] supporters`` key: one per handle,
    named by the handle as written. Raises ConfigError for an invalid handle."""
    out: dict[str, Stakeholder] = {}
    for raw in handles:
        username = handle_username(raw)
        if username is None:
            raise ConfigError(
                f"config error in {origin}: campaign.supporters: {raw!r} is not an X handle; "
                "list supporters in a file named by [stakeholders] supporters"
            )
        out.setdefault(username, Stakeholder(name=raw.strip(), handles=(username,)))
    return list(out.values())


@lru_cache(maxsize=8)
def _read_cached(path: str, kind: str, stamp: tuple[int, int]) -> tuple[Stakeholder, ...]:
    # a report reads the lists for its figures and for its sections: read the file once
    # per version of it (modification time and size)
    return tuple(read_list(Path(path), kind))


def _read(path: str, kind: str) -> list[Stakeholder]:
    try:
        st = Path(path).stat()
    except OSError:
        return read_list(Path(path), kind)  # raises the error naming the file
    return list(_read_cached(path, kind, (st.st_mtime_ns, st.st_size)))


def load_lists(settings: Settings, which: tuple[str, ...] = (SUPPORTERS, DECISION_MAKERS)) -> Lists:
    """Return the configured stakeholder lists named in ``which`` (others: None).

    Paths were made relative to the config file when it was read. Without a supporters
    file, the handles of the old ``[campaign] supporters`` key read from a config file
    stand in for it. Raises ConfigError for a bad list.
    """
    s = settings.stakeholders
    supporters = decision_makers = None
    if SUPPORTERS in which:
        if s.supporters:
            supporters = _read(s.supporters, SUPPORTERS)
        elif s.supporter_handles:
            supporters = legacy_supporters(s.supporter_handles, settings.origin)
    if DECISION_MAKERS in which and s.decision_makers:
        decision_makers = _read(s.decision_makers, DECISION_MAKERS)
    return Lists(supporters, decision_makers)

"""The codebase keeps its shape: imports flow jobs -> reports -> monitor, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"monitor": {"reports", "jobs"}, "reports": {"jobs"}}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


PRODUCT = ("monitor", "reports", "jobs")
MAX_LINES = 450


def _product_modules() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


def _from_imports(path: Path) -> list[tuple[str, set[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.module, {alias.name for alias in node.names})
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    ]


def test_sources_never_import_the_passes_that_consume_them() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "monitor" / "sources").rglob("*.py"))
        for module, _ in _from_imports(path)
        if module.startswith(("monitor.collect", "monitor.refresh", "monitor.archive"))
    ]
    assert offenders == []


def test_time_helpers_come_from_the_time_module_only() -> None:
    # monitor/times.py is the one home of time; the normaliser only parses created_at
    time_names = {"utc_text", "epoch_us", "from_epoch_us", "now_text", "local_midnight"}
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(names & time_names)} from {module}"
        for path in [*_product_modules(), *sorted((ROOT / "tests").glob("*.py"))]
        for module, names in _from_imports(path)
        if names & time_names and module != "monitor.times"
    ]
    assert offenders == []


def test_no_product_module_is_longer_than_a_newcomer_can_read() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _product_modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}  # word lists and other data live in data files


def test_each_module_name_means_one_thing_across_packages() -> None:
    seen: dict[str, list[str]] = {}
    for path in _product_modules():
        if path.name != "__init__.py":
            seen.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


# import name of each declared distribution (where the two differ only in case or dashes
# the import name is the lowered distribution name)
_IMPORT_NAME = {"psycopg[binary]": "psycopg", "pillow": "PIL"}


def _declared() -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    found = set()
    for spec in names:
        dist = re.split(r"[<>=!~ ;]", spec, maxsplit=1)[0]
        found.add(_IMPORT_NAME.get(dist, dist.lower().replace("-", "_")))
    return found


def test_the_product_imports_what_it_declares_and_declares_what_it_imports() -> None:
    import sys

    imported = set()
    for path in _product_modules():
        imported |= _imported_packages(path)
    third_party = imported - set(sys.stdlib_module_names) - set(PRODUCT)
    # psycopg is loaded by SQLAlchemy from a URL, never imported by name
    assert third_party == _declared() - {"psycopg"}

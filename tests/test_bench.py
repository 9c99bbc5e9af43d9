"""``python -m bench --quick`` runs end to end and prints its one table.

No timings are asserted: speed is what the bench measures, not what tests decide.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.slow  # the bench: make test and CI, not make quick


def test_quick_bench_prints_the_table_with_the_floor_and_the_peer(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--pg", "none"]
        + ["--idle-seconds", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    for contender in (
        "floor: sqlite3 + orjson, one executemany",
        "hashmon import → SQLite",
        "peer: sqlite-utils insert --nl (posts)",
        "floor: sqlite3, one GROUP BY day",
        "hashmon stats --json",
        "hashmon stakeholders --json (1,000 + 650)",
        "hashmon report summary (all formats)",
        "hashmon report summary --pack",
        "naive: pandas read_sql + groupby",
    ):
        assert contender in table
    assert "× floor" in table
    assert "the impact pack written in" in table  # the pack beside the summary it writes
    assert "WARNING" not in table  # the floor and hashmon counted the same posts
    floor_rows = [line for line in table.splitlines() if "floor:" in line]
    assert all(line.split()[-2] != "nan" for line in floor_rows)


def test_the_cost_section_measures_the_simulated_week_against_issue_16s_targets(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "cost", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "hashmon import" not in out  # --only cost: no speed section
    for row in (
        "old default (every 6 h over 48 h):",
        "new default (before each report):",
        "charged pay-per-use",
        "hashmon plan (N = ",
        "daily 2017-06-16: shown",
        "summary: shown",
    ):
        assert row in out
    verdicts = out.split("new default against issue 16's targets:")[1].splitlines()
    verdicts = [line for line in verdicts if line.startswith("  ")]
    assert len(verdicts) == 4 and all(line.endswith(")") for line in verdicts)
    # the new default schedule keeps within every target on the simulated week
    assert "NOT met" not in out and out.count(": met)") == 5

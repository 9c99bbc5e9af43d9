"""Stakeholder lists for the bench: 1,000 supporters and 650 decision makers.

Most handles are authors of the bench database, picked with a seeded generator, the
rest match nobody (silent supporters, decision makers who never posted), as a real
campaign's lists would.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from pathlib import Path

SUPPORTERS, DECISION_MAKERS = 1000, 650
ROLES = ("MP", "councillor", "commissioner")


def write_lists(db: Path, out: Path, seed: int = 42) -> Path:
    """Write the two lists and a config naming them into ``out``; return the config."""
    with sqlite3.connect(db) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT username FROM authors WHERE username IS NOT NULL ORDER BY id LIMIT 200000"
            )
        ]
    rng = random.Random(seed)
    picked = rng.sample(names, min(len(names), 1100))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "supporters.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "handle", "event"])
        for i in range(SUPPORTERS):
            handle = picked[i] if i < 700 and i < len(picked) else f"nosuchorg{i}"
            w.writerow([f"Supporter {i}", "@" + handle, "an event"])
    with (out / "decision_makers.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "handle", "role"])
        for i in range(DECISION_MAKERS):
            k = 700 + i
            handle = picked[k] if i < 400 and k < len(picked) else f"nosuchdm{i}"
            w.writerow([f"Decision maker {i}", handle, ROLES[i % len(ROLES)]])
    config = out / "stakeholders.toml"
    config.write_text(
        '[stakeholders]\nsupporters = "supporters.csv"\ndecision_makers = "decision_makers.csv"\n',
        encoding="utf-8",
    )
    return config

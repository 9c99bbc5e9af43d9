"""The naive way to the week's figures: the whole ``posts`` table into pandas, then groupby.

Run as ``python -m bench.naive DB LO HI OFFSET TAG MENTION``; it prints the per-day rows
(the same figures as ``bench.floor stats``). This is what hashmon must never do on a
report path (STYLE.md): every row and column crosses into Python, so time and memory
grow with the table, not with the answer.
"""

from __future__ import annotations

import sqlite3
import sys

import pandas as pd

DAY_US = 86_400_000_000


def per_day(db: str, lo: int, hi: int, offset: int, tag: str, mention: str) -> pd.DataFrame:
    """Return one row per local day of ``[lo, hi)`` with the figures one GROUP BY gives."""
    with sqlite3.connect(db) as conn:
        posts = pd.read_sql("SELECT * FROM posts", conn)
    week = posts[(posts["created_at_us"] >= lo) & (posts["created_at_us"] < hi)].copy()
    week["day"] = (week["created_at_us"] + offset) // DAY_US
    not_rt = week["kind"] != "retweet"
    for col in ("like_count", "retweet_count", "reply_count", "quote_count"):
        week[col] = week[col].fillna(0).where(not_rt, 0)
    week["followers"] = week["author_followers"].fillna(0)
    week["tag"] = week["hashtags"].str.contains(f" {tag} ", regex=False)
    week["mention"] = week["mentions"].str.contains(f" {mention} ", regex=False)
    groups = week.groupby("day")
    out = pd.DataFrame(
        {
            "posts": groups.size(),
            "originals": groups["kind"].apply(lambda k: (k == "original").sum()),
            "retweets": groups["kind"].apply(lambda k: (k == "retweet").sum()),
            "hashtag_posts": groups["tag"].sum(),
            "mention_posts": groups["mention"].sum(),
            "contributors": groups["author_id"].nunique(),
            "potential_impressions": groups["followers"].sum(),
            "like_count": groups["like_count"].sum(),
            "impressions": groups["impression_count"].sum(),
        }
    )
    return out


def main(argv: list[str]) -> None:
    db, lo, hi, offset, tag, mention = argv
    print(per_day(db, int(lo), int(hi), int(offset), tag, mention).to_string())


if __name__ == "__main__":
    main(sys.argv[1:])

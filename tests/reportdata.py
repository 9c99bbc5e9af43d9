"""Small known databases for the report tests, built the way real data arrives.

Each builder writes hand-made X API v2 search pages (one JSON object per line, as
twarc2 writes them) and imports them with ``monitor.archive.import_files``: the reports
then read exactly what an import stores. The pages are hand-written to isolate the
rules the reports depend on (local days in summer time, reach across days, own posts,
hostile text); the expected figures beside them are worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.archive import import_files
from monitor.settings import Settings

CAMPAIGN_TAG = "IMHAW17"

# id, username, name, followers (None: the page carries no public_metrics for them)
USERS = {
    "101": ("first1001days", "1001 Critical Days", 5000),
    "102": ("alice", "Alice Health Visitor", 1000),
    "103": ("bob", "Bob", 200),
    "104": ("carol", "Carol", None),
}


def user(uid: str, username: str, name: str, followers: int | None) -> dict[str, Any]:
    """Return an API v2 user object; without ``followers`` it has no public_metrics."""
    out: dict[str, Any] = {"id": uid, "username": username, "name": name}
    if followers is not None:
        out["public_metrics"] = {"followers_count": followers, "following_count": 1}
    return out


def post(
    pid: str,
    author_id: str | None,
    created_at: str,
    text: str,
    *,
    kind: str = "original",
    tags: tuple[str, ...] = (CAMPAIGN_TAG,),
    mentions: tuple[str, ...] = (),
    likes: int = 0,
    retweets: int = 0,
    replies: int = 0,
    quotes: int = 0,
    impressions: int | None = None,
) -> dict[str, Any]:
    """Return an API v2 post object with entities, public_metrics and its kind's reference."""
    metrics = {
        "like_count": likes,
        "retweet_count": retweets,
        "reply_count": replies,
        "quote_count": quotes,
    }
    if impressions is not None:
        metrics["impression_count"] = impressions
    item: dict[str, Any] = {
        "id": pid,
        "text": text,
        "created_at": created_at,
        "public_metrics": metrics,
        "entities": {
            "hashtags": [{"start": 0, "end": 1, "tag": t} for t in tags],
            "mentions": [{"start": 0, "end": 1, "username": m} for m in mentions],
        },
    }
    if author_id is not None:
        item["author_id"] = author_id
    ref = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}.get(kind)
    if ref:
        item["referenced_tweets"] = [{"type": ref, "id": "1"}]
    return item


def page(posts: list[dict[str, Any]], users: dict[str, tuple]) -> dict[str, Any]:
    """Return a search page delivering ``posts`` with ``users`` under includes."""
    return {
        "data": posts,
        "includes": {"users": [user(uid, *values) for uid, values in users.items()]},
        "meta": {"result_count": len(posts)},
    }


def write_jsonl(path: Path, pages: list[dict[str, Any]]) -> Path:
    """Write one page per line and return the path."""
    with path.open("w", encoding="utf-8") as fh:
        for p in pages:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    return path


def known_pages() -> list[dict[str, Any]]:
    """Return pages of a small campaign whose figures are worked out in ``KNOWN``.

    Europe/London is UTC+1 in June: 23:30Z on the 11th is 00:30 on the 12th locally.
    The 14th has no posts at all. Alice's second page reports more followers, which
    only her later post carries (author_followers is fixed at first sighting).
    """
    day1 = [
        post(
            "1001",
            "101",
            "2017-06-11T23:30:00Z",
            "Begin before birth #IMHAW17",
            likes=10,
            retweets=5,
            replies=1,
            quotes=1,
            impressions=900,
        ),
        post(
            "1002",
            "102",
            "2017-06-12T08:15:00Z",
            "Proud to support #IMHAW17 #maternalmentalhealth",
            mentions=("first1001days",),
            likes=3,
            tags=(CAMPAIGN_TAG, "maternalMentalHealth"),
        ),
        post(
            "1003",
            "103",
            "2017-06-12T08:40:00Z",
            "RT @first1001days: Begin before birth",
            kind="retweet",
            likes=99,
            retweets=5,
        ),
        post(
            "1004",
            "104",
            "2017-06-12T12:00:00Z",
            "@first1001days yes!",
            kind="reply",
            tags=(),
            mentions=("first1001days",),
            likes=1,
        ),
        post("1005", None, "2017-06-12T13:00:00Z", "no author here #IMHAW17"),
    ]
    day2 = [
        post(
            "1006",
            "102",
            "2017-06-13T09:00:00Z",
            "Day two #IMHAW17 #perinatal",
            tags=(CAMPAIGN_TAG, "perinatal"),
            likes=4,
            quotes=2,
        ),
        post(
            "1007",
            "103",
            "2017-06-13T22:59:59Z",
            "late quote #IMHAW17",
            kind="quote",
            likes=2,
            impressions=50,
        ),
    ]
    day4 = [
        post(
            "1008",
            "101",
            "2017-06-15T10:00:00Z",
            "Thank you all #IMHAW17 #perinatal",
            tags=(CAMPAIGN_TAG, "perinatal"),
            likes=20,
            retweets=8,
            replies=3,
        ),
        # 23:30Z on the 16th is 00:30 local on the 17th: outside the window
        post("1009", "102", "2017-06-16T23:30:00Z", "after the week #IMHAW17", likes=50),
    ]
    users_day1 = dict(USERS)
    users_day2 = {"102": ("alice", "Alice Health Visitor", 1100), "103": USERS["103"]}
    return [
        page(day1, users_day1),
        page(day2, users_day2),
        page(day4, {"101": USERS["101"], "102": ("alice", "Alice Health Visitor", 1200)}),
    ]


# figures of known_pages(), worked out by hand from the pages above
KNOWN = {
    "2017-06-12": {
        "posts": 5,
        "contributors": 4,
        # 5000 + 1000 + 200 + 0 (carol: no count) + 0 (no author)
        "potential_impressions": 6200,
        "potential_reach": 6200,
        # retweet 1003 excluded: (10+5+1+1) + 3 + 1 + 0
        "engagements": 21,
        "posts_without_followers": 2,
    },
    "2017-06-13": {
        "posts": 2,
        "contributors": 2,
        "potential_impressions": 1100 + 200,
        "potential_reach": 1300,
        "engagements": 6 + 2,
    },
    "2017-06-14": {"posts": 0, "contributors": 0, "potential_reach": 0},
    "2017-06-15": {"posts": 1, "contributors": 1, "potential_impressions": 5000},
    "2017-06-16": {"posts": 0},
    # alice counted once (latest post: 1100), bob once, first1001days once, carol 0
    "window_reach": 5000 + 1100 + 200 + 0,
    "window_potential_impressions": 6200 + 1300 + 5000,
}


def hostile_strings() -> list[str]:
    """Return text a report must render inert in every format."""
    return [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        '=HYPERLINK("http://evil")',
        "+1+1",
        "-2",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "\u202egnp.exe",
    ]


def hostile_pages() -> list[dict[str, Any]]:
    """Return pages whose post texts, usernames and names are hostile strings.

    Every hostile post is a top post (most engagements) and every hostile author a top
    contributor, so each string reaches each table of each format.
    """
    bad = hostile_strings()
    users: dict[str, tuple] = {}
    posts = []
    for i, s in enumerate(bad):
        uid = str(900 + i)
        users[uid] = (s, s, 10_000 + i)
        posts.append(
            post(
                str(9000 + i),
                uid,
                f"2017-06-12T{9 + i % 10:02d}:00:00Z",
                s,
                tags=(CAMPAIGN_TAG, s.strip() or "x"),
                likes=100 + i,
            )
        )
    users["999"] = ("javascript:alert(1)//", "N" * 10_000, 50_000)
    posts.append(post("9999", "999", "2017-06-12T20:00:00Z", "x" * 10_000, likes=500))
    return [page(posts, users)]


def bulk_pages(n_posts: int, settings: Settings, seed: int = 42) -> list[dict[str, Any]]:
    """Return seeded pages of ``n_posts`` posts spread over the campaign window.

    Heavy-tailed follower counts, a daily rhythm, every kind, a few extra hashtags:
    enough to measure a report's speed, not to check a figure.
    """
    rng = random.Random(seed)
    c = settings.campaign
    start = dt.datetime.combine(c.start, dt.time(0), tzinfo=c.tz).astimezone(dt.UTC)
    span_s = int(((c.end - c.start).days + 1) * 86_400)
    n_users = max(1, n_posts // 4)
    followers = {str(10_000 + u): int(rng.paretovariate(1.2) * 50) for u in range(n_users)}
    tags = ["perinatal", "maternalmentalhealth", "infantmentalhealth", "parenting", "nhs"]
    kinds = ["original"] * 4 + ["retweet"] * 4 + ["reply", "quote"]
    pages, batch, batch_users = [], [], {}
    for i in range(n_posts):
        uid = str(10_000 + rng.randrange(n_users))
        at = start + dt.timedelta(seconds=rng.randrange(span_s))
        extra = tuple(rng.sample(tags, rng.randrange(3)))
        batch.append(
            post(
                str(20_000_000 + i),
                uid,
                at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                f"Post {i} about infant mental health #IMHAW17",
                kind=rng.choice(kinds),
                tags=(CAMPAIGN_TAG, *extra),
                likes=rng.randrange(20),
                retweets=rng.randrange(5),
                replies=rng.randrange(3),
                quotes=rng.randrange(2),
            )
        )
        batch_users[uid] = (f"user{uid}", f"User {uid}", followers[uid])
        if len(batch) == 100:
            pages.append(page(batch, batch_users))
            batch, batch_users = [], {}
    if batch:
        pages.append(page(batch, batch_users))
    return pages


def build(engine: Engine, tmp_path: Path, pages: list[dict[str, Any]], name: str) -> Path:
    """Write ``pages`` to ``tmp_path/name`` and import them; return the file's path."""
    path = write_jsonl(tmp_path / name, pages)
    import_files(engine, [path])
    return path

"""Small hand-written X API v2 pages, for tests that isolate one METRICS.md rule.

Real recorded responses (tests/fixtures/x-api-v2) are the default arrangement; these
helpers build the minimal page that shows one rule and nothing else, in the API's own
shape (``data``, ``includes.users``, ``includes.tweets``, ``public_metrics``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from monitor.store.schema import Base

_UNSET: Any = object()


def post(
    id: str,
    text: str = "a post",
    *,
    author_id: str | None = "100",
    created_at: str | None = "2017-06-12T10:00:00.000Z",
    metrics: dict | None = _UNSET,
    refs: Iterable[str] = (),
    hashtags: Iterable[str] | None = (),
    mentions: Iterable[str] | None = (),
    entities: Any = _UNSET,
) -> dict:
    """Return one post as the API delivers it in ``data``.

    ``metrics`` defaults to all four engagement counts at 0; ``None`` leaves
    ``public_metrics`` out. ``entities`` overrides the object built from ``hashtags``
    and ``mentions`` (``None`` gives ``entities: null``); to leave the key out
    altogether, use :func:`without`. ``hashtags=None`` leaves ``entities.hashtags`` out.
    """
    item: dict[str, Any] = {"id": id, "text": text}
    if author_id is not None:
        item["author_id"] = author_id
    if created_at is not None:
        item["created_at"] = created_at
    if metrics is _UNSET:
        metrics = {"like_count": 0, "retweet_count": 0, "reply_count": 0, "quote_count": 0}
    if metrics is not None:
        item["public_metrics"] = dict(metrics)
    refs = list(refs)
    if refs:
        item["referenced_tweets"] = [{"type": t, "id": str(900 + i)} for i, t in enumerate(refs)]
    if entities is _UNSET:
        entities = {}
        if hashtags is not None:
            entities["hashtags"] = [{"start": 0, "end": len(h) + 1, "tag": h} for h in hashtags]
        if mentions is not None:
            entities["mentions"] = [
                {"start": 0, "end": len(m) + 1, "username": m, "id": "1"} for m in mentions
            ]
    item["entities"] = entities
    return item


def without(item: dict, *keys: str) -> dict:
    """Return a copy of ``item`` without ``keys`` (e.g. no ``entities`` object at all)."""
    return {k: v for k, v in item.items() if k not in keys}


def counts(like: int = 0, retweet: int = 0, reply: int = 0, quote: int = 0, **more: int) -> dict:
    """Return a ``public_metrics`` object (``impression=`` adds ``impression_count``)."""
    out = {"like_count": like, "retweet_count": retweet, "reply_count": reply, "quote_count": quote}
    if "impression" in more:
        out["impression_count"] = more.pop("impression")
    out.update(more)
    return out


def user(id: str, followers: int | None = None, username: str | None = None) -> dict:
    """Return a user as in ``includes.users``; ``followers=None`` omits ``public_metrics``."""
    out: dict[str, Any] = {"id": id, "username": username or f"user{id}", "name": f"User {id}"}
    if followers is not None:
        out["public_metrics"] = {
            "followers_count": followers,
            "following_count": 1,
            "tweet_count": 1,
            "listed_count": 0,
        }
    return out


def page(*posts: dict, users: Iterable[dict] = (), tweets: Iterable[dict] = ()) -> dict:
    """Return a search page: ``data`` with ``includes.users`` and ``includes.tweets``."""
    includes: dict[str, Any] = {}
    users, tweets = list(users), list(tweets)
    if users:
        includes["users"] = users
    if tweets:
        includes["tweets"] = tweets
    out: dict[str, Any] = {"data": list(posts)}
    if includes:
        out["includes"] = includes
    out["meta"] = {"result_count": len(posts)}
    return out


def write_jsonl(path: Path, *pages: dict) -> Path:
    """Write ``pages`` as twarc2 JSONL (one page per line) and return ``path``."""
    path.write_text("".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")
    return path


def dump_tables(engine: Engine, only: Iterable[str] | None = None) -> dict[str, list[tuple]]:
    """Return every row of every hashmon table (or of ``only``), sorted, for comparisons."""
    wanted = set(only) if only is not None else None
    out: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if wanted is not None and table.name not in wanted:
                continue
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out

"""API v2 pages of a simulated campaign: recent search pages and GET /2/tweets lookups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from monitor.sources.base import Page
from monitor.sources.simulated.generator import ORIGINAL
from monitor.sources.simulated.ids import base36, mix, snowflake_ms

if TYPE_CHECKING:
    from monitor.sources.simulated.campaign import SimulatedCampaign

PAGE_SIZE = 100


def page_body(
    c: SimulatedCampaign,
    indices: Sequence[int],
    now_ms: int,
    user_json: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """Return ``data`` and ``includes`` for campaign posts ``indices`` (in that order).

    ``user_json`` caches users as serialised orjson fragments across the pages of a
    file being written (a user never changes); pages handed to callers never use it.
    """
    memo: dict[int, tuple[str, dict]] = {}
    data = [c.post(i, now_ms, memo) for i in indices]
    users: dict[int, None] = {}
    refs: dict[int, None] = {}
    for i in indices:
        users[c.author[i]] = None
        if c.kind[i] != ORIGINAL:
            refs[c.ref[i]] = None
        quoted = c.also_quotes.get(i)
        if quoted is not None:
            refs[quoted] = None
    tweets = []
    for code in refs:
        if code >= 0:
            tweets.append(c.post(code, now_ms, memo))
        else:
            tweets.append(c.external_post(-2 - code, now_ms))
        users[c.ref_author(code)] = None
    if user_json is None:
        user_list: list[Any] = [c.user(a) for a in users]
    else:
        if len(user_json) > 50_000:
            user_json.clear()  # bounded: ordinary people rarely come back
        user_list = []
        for a in users:
            fragment = user_json.get(a)
            if fragment is None:
                # a copy, exactly sized: orjson's own buffer keeps kilobytes spare
                raw = bytes(memoryview(orjson.dumps(c.user(a))))
                fragment = user_json[a] = orjson.Fragment(raw)
            user_list.append(fragment)
    body: dict[str, Any] = {"data": data, "includes": {"users": user_list}}
    if tweets:
        body["includes"]["tweets"] = tweets
    return body


def search_pages(
    c: SimulatedCampaign,
    lo: int,
    hi: int,
    now_ms: int,
    *,
    page_size: int = PAGE_SIZE,
    user_json: dict[int, Any] | None = None,
) -> Iterator[Page]:
    """Yield search pages for campaign posts ``lo`` .. ``hi - 1``, newest first.

    Each page is built when asked for; the last one has no ``next_token``. With no
    posts in range, one page with ``result_count`` 0, as the API answers.
    """
    if hi <= lo:
        yield {"meta": {"result_count": 0}}
        return
    top = hi
    while top > lo:
        bottom = max(lo, top - page_size)
        indices = range(top - 1, bottom - 1, -1)
        page = page_body(c, indices, now_ms, user_json)
        meta: dict[str, Any] = {
            "newest_id": str(c.ids[top - 1]),
            "oldest_id": str(c.ids[bottom]),
            "result_count": len(indices),
        }
        if bottom > lo:
            meta["next_token"] = base36(mix(c.ids[bottom] ^ c.salt ^ now_ms))
        page["meta"] = meta
        yield page
        top = bottom


def lookup_page(c: SimulatedCampaign, ids: Sequence[str], now_ms: int) -> Page:
    """Return a GET /2/tweets page for ``ids`` as of ``now_ms``; unknown ids in errors.

    A post created after ``now_ms`` does not exist yet. External (context) posts are
    found too: they exist on the platform, outside the campaign.
    """
    found: list[dict[str, Any]] = []
    campaign_found: list[int] = []
    extra_users: dict[int, None] = {}
    errors: list[dict[str, Any]] = []
    for raw in ids:
        value = str(raw)
        pid = int(value) if value.isascii() and value.isdigit() else -1
        i = c.index_of(pid) if pid >= 0 else None
        e = c.ext_index.get(pid) if i is None else None
        if i is not None and snowflake_ms(pid) <= now_ms:
            campaign_found.append(i)
            found.append({"campaign": i})
        elif e is not None and snowflake_ms(pid) <= now_ms:
            found.append(c.external_post(e, now_ms))
            extra_users[c.ext_author[e]] = None
        else:
            errors.append(
                {
                    "value": value,
                    "detail": f"Could not find tweet with ids: [{value}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": value,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
    page: dict[str, Any] = {}
    if found:
        body = page_body(c, campaign_found, now_ms)
        by_index = iter(body["data"])
        page["data"] = [next(by_index) if "campaign" in f else f for f in found]
        users = body["includes"]["users"]
        known = {u["id"] for u in users}
        for a in extra_users:
            if c.user_id(a) not in known:
                users.append(c.user(a))
        page["includes"] = body["includes"]
    if errors:
        page["errors"] = errors
    return page

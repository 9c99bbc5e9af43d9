"""Simulated campaigns as twarc2 JSONL archives (the benchmark corpus and archive tests)."""

from __future__ import annotations

import datetime as dt
import gzip as gzip_module
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import orjson

from monitor.sources.base import Page
from monitor.sources.simulated import SimulatedCampaign, epoch_ms
from monitor.sources.simulated.pages import search_pages


def write_twarc_jsonl(
    campaign: SimulatedCampaign,
    path: str | Path,
    *,
    now: dt.datetime | None = None,
    gzip: bool = False,
    repeat_every: int = 10,
    step: dt.timedelta = dt.timedelta(hours=1),
) -> int:
    """Write the campaign as a twarc2 JSONL archive and return the sightings written.

    One search response page per line, each with a ``__twarc`` object (url, version,
    retrieved_at) as ``twarc2 search`` writes. Lines follow a collector polling every
    ``step`` from the start of the span to ``now`` (default: the end of the span): each
    poll writes the pages of the posts made since the previous poll, newest first, with
    counts as of the poll; then, when ``repeat_every`` is N > 0, every Nth page of the
    previous poll again, counts grown (repeat sightings). Streams page by page, so 1M
    posts need no more memory than one page. The return value counts every post item
    written, repeats included (an import's ``posts_seen``). ``gzip`` writes a .gz stream.
    """
    end_ms = epoch_ms(now) if now is not None else epoch_ms(campaign.span_end_at)
    step_ms = int(step / dt.timedelta(milliseconds=1))
    if step_ms <= 0:
        raise ValueError("step must be positive")
    url = (
        "https://api.twitter.com/2/tweets/search/recent?expansions=author_id%2C"
        "referenced_tweets.id%2Creferenced_tweets.id.author_id&tweet.fields=author_id%2C"
        "conversation_id%2Ccreated_at%2Centities%2Cid%2Cin_reply_to_user_id%2Clang%2C"
        "public_metrics%2Creferenced_tweets%2Ctext&user.fields=created_at%2Cdescription%2C"
        "id%2Cname%2Cpublic_metrics%2Cusername%2Cverified&max_results=100&query="
        + url_quote(campaign.campaign.query())
    )
    written = 0
    with (
        open(path, "wb") as raw,
        (
            # mtime 0: the same campaign gives the same bytes, so the same sha256 on import
            gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            if gzip
            else raw
        ) as fh,
    ):

        def emit(page: Page, at_ms: int) -> None:
            nonlocal written
            retrieved = dt.datetime.fromtimestamp(at_ms // 1000, dt.UTC).isoformat()
            page["__twarc"] = {
                "url": url,
                "version": "hashmon-simulated",
                "retrieved_at": retrieved,
            }
            fh.write(orjson.dumps(page) + b"\n")
            written += len(page.get("data", ()))

        user_json: dict[int, Any] = {}
        previous: list[tuple[int, int]] = []  # (lo, hi) of the pages of the previous poll
        lo = 0
        poll_ms = epoch_ms(campaign.span_start_at)
        page_no = 0
        while True:
            poll_ms = min(poll_ms + step_ms, end_ms)
            hi = campaign.index_after(poll_ms)
            current: list[tuple[int, int]] = []
            if hi > lo:
                for page in search_pages(campaign, lo, hi, poll_ms, user_json=user_json):
                    emit(page, poll_ms)
                    page_no += 1
                    if repeat_every > 0 and page_no % repeat_every == 0:
                        meta = page["meta"]
                        bottom = campaign.index_of(int(meta["oldest_id"]))
                        top = campaign.index_of(int(meta["newest_id"]))
                        current.append((bottom, top + 1))
            for r_lo, r_hi in previous:
                for page in search_pages(campaign, r_lo, r_hi, poll_ms, user_json=user_json):
                    emit(page, poll_ms)
            previous = current
            lo = hi
            if poll_ms >= end_ms:
                break
    return written

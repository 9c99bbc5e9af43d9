"""The simulated source: a seeded campaign served as X API v2 pages, checked from its pages.

Every figure here is recomputed from the pages the source serves (plain Python over the
JSON), never read back from the generator's internals, except where a test says so.
"""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bench.twarc import write_twarc_jsonl
from monitor import archive
from monitor.collect import collect_pass
from monitor.normalize import normalize_page
from monitor.settings import Campaign, Settings
from monitor.sources.base import SinceIdTooOld
from monitor.sources.simulated import (
    SNOWFLAKE_EPOCH_MS,
    SimulatedCampaign,
    SimulatedSource,
    simulate_campaign,
)
from monitor.store.schema import Post

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings()  # the built-in #IMHAW17 campaign
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def imhaw17() -> SimulatedCampaign:
    return simulate_campaign(SETTINGS, seed=42)


def sweep(campaign: SimulatedCampaign, step: dt.timedelta = 3 * DAY) -> list[dict[str, Any]]:
    """Return the pages a collector polling every ``step`` gets: each post sighted once."""
    source = SimulatedSource(campaign, clock=campaign.span_start_at)
    pages: list[dict[str, Any]] = []
    since: str | None = None
    while True:
        source.now = min(source.now + step, campaign.span_end_at)
        for page in source.search(since_id=since):
            pages.append(page)
            newest = page.get("meta", {}).get("newest_id")
            if newest is not None and (since is None or int(newest) > int(since)):
                since = newest
        if source.now >= campaign.span_end_at:
            return pages


@pytest.fixture(scope="module")
def first_sightings(imhaw17: SimulatedCampaign) -> list[dict[str, Any]]:
    return sweep(imhaw17)


def posts_of(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page.get("data", [])]


def followers_by_post(pages: list[dict[str, Any]]) -> dict[str, int | None]:
    """Return each post's author followers from the page that first delivered it."""
    out: dict[str, int | None] = {}
    for page in pages:
        users = {u["id"]: u for u in page.get("includes", {}).get("users", [])}
        for item in page.get("data", []):
            if item["id"] not in out:
                metrics = users.get(item["author_id"], {}).get("public_metrics")
                out[item["id"]] = metrics["followers_count"] if metrics else None
    return out


def created_ms(item: dict[str, Any]) -> int:
    """Return a post's created_at as UTC epoch milliseconds."""
    created = dt.datetime.fromisoformat(item["created_at"])
    return (created - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def local_day(created_at: str, campaign: Campaign) -> dt.date:
    return dt.datetime.fromisoformat(created_at).astimezone(campaign.tz).date()


def dumps(pages: Any) -> bytes:
    return json.dumps(pages, ensure_ascii=False).encode()


# --- determinism -------------------------------------------------------------------------


@pytest.mark.slow
def test_the_same_seed_gives_byte_identical_pages(imhaw17: SimulatedCampaign) -> None:
    again = simulate_campaign(SETTINGS, seed=42)
    now = imhaw17.window_start_at + 2 * DAY
    a, b = SimulatedSource(imhaw17, clock=now), SimulatedSource(again, clock=now)
    assert dumps(list(a.search())) == dumps(list(b.search()))
    ids = [imhaw17.post_id(i) for i in range(0, len(imhaw17), 37)]
    assert dumps(list(a.lookup(ids))) == dumps(list(b.lookup(ids)))


@pytest.mark.slow
def test_the_same_seed_gives_the_same_pages_in_another_process(
    imhaw17: SimulatedCampaign,
) -> None:
    # string hashing is salted per process: nothing may depend on it
    script = (
        "import hashlib, json, datetime as dt\n"
        "from monitor.settings import Settings\n"
        "from monitor.sources.simulated import SimulatedSource, simulate_campaign\n"
        "c = simulate_campaign(Settings(), seed=42)\n"
        "s = SimulatedSource(c, clock=c.window_start_at + dt.timedelta(days=2))\n"
        "pages = json.dumps(list(s.search()), ensure_ascii=False).encode()\n"
        "print(hashlib.sha256(pages).hexdigest())\n"
    )
    source = SimulatedSource(imhaw17, clock=imhaw17.window_start_at + 2 * DAY)
    expected = hashlib.sha256(dumps(list(source.search()))).hexdigest()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_another_seed_gives_another_campaign(imhaw17: SimulatedCampaign) -> None:
    other = simulate_campaign(SETTINGS, seed=43)
    now = imhaw17.window_end_at
    a, b = SimulatedSource(imhaw17, clock=now), SimulatedSource(other, clock=now)
    assert dumps(next(a.search())) != dumps(next(b.search()))
    assert {imhaw17.post_id(i) for i in range(100)}.isdisjoint(other.post_id(i) for i in range(100))


# --- the search contract -------------------------------------------------------------------


def test_search_pages_come_newest_first_at_most_100_with_their_meta(
    imhaw17: SimulatedCampaign,
) -> None:
    now = imhaw17.window_start_at + 3 * DAY + dt.timedelta(hours=7, minutes=13)
    source = SimulatedSource(imhaw17, clock=now)
    pages = list(source.search())
    assert len(pages) > 20 and source.requests == len(pages)
    now_ms = int(now.timestamp() * 1000)
    seen: list[int] = []
    for n, page in enumerate(pages):
        ids = [int(item["id"]) for item in page["data"]]
        assert 0 < len(ids) <= 100
        meta = page["meta"]
        assert meta["result_count"] == len(ids)
        assert (meta["newest_id"], meta["oldest_id"]) == (str(ids[0]), str(ids[-1]))
        assert ("next_token" in meta) == (n < len(pages) - 1)
        for item in page["data"]:
            assert now_ms - 7 * 86_400_000 <= created_ms(item) <= now_ms
        seen += ids
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    # everything made in the last 7 days up to now, and nothing else
    expected = [i for i in range(len(imhaw17)) if now - 7 * DAY <= imhaw17.created_at(i) <= now]
    assert len(seen) == len(expected)


def test_since_id_and_until_id_bound_the_search(imhaw17: SimulatedCampaign) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.window_start_at + DAY)
    everything = [int(p["id"]) for p in posts_of(list(source.search()))]
    since, until = everything[-500], everything[40]
    bounded = [
        int(p["id"])
        for p in posts_of(list(source.search(since_id=str(since), until_id=str(until))))
    ]
    assert bounded == [i for i in everything if since < i < until]
    assert list(source.search(since_id=str(everything[0])))[0] == {"meta": {"result_count": 0}}


def test_ids_are_snowflakes_that_grow_with_created_at(
    first_sightings: list[dict[str, Any]],
) -> None:
    posts = posts_of(first_sightings)
    for item in posts:
        assert (int(item["id"]) >> 22) + SNOWFLAKE_EPOCH_MS == created_ms(item)
        assert item["created_at"].endswith("Z") and len(item["created_at"]) == 24
    by_id = sorted(posts, key=lambda p: int(p["id"]))
    by_time = sorted(posts, key=created_ms)
    assert [p["id"] for p in by_id] == [p["id"] for p in by_time]


def test_a_since_id_older_than_seven_days_is_refused(imhaw17: SimulatedCampaign) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.window_end_at)
    eight_days_old = imhaw17.count_until(imhaw17.window_end_at - 8 * DAY) - 1
    six_days_old = imhaw17.count_until(imhaw17.window_end_at - 6 * DAY) - 1
    with pytest.raises(SinceIdTooOld, match="more than 7 days"):
        next(source.search(since_id=imhaw17.post_id(eight_days_old)))
    assert source.requests == 1
    assert next(source.search(since_id=imhaw17.post_id(six_days_old)))["data"]


def test_an_overlapping_search_delivers_posts_again_with_grown_counts(
    imhaw17: SimulatedCampaign,
) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.window_start_at + DAY)
    early = {p["id"]: p for p in posts_of(list(source.search()))}
    source.now = imhaw17.window_start_at + 2 * DAY
    later = {p["id"]: p for p in posts_of(list(source.search()))}
    again = early.keys() & later.keys()
    reach = source.now - 7 * DAY  # recent search forgets what is older
    assert again == {
        i for i, p in early.items() if dt.datetime.fromisoformat(p["created_at"]) >= reach
    }
    assert len(again) > 0.9 * len(early)
    for key in ("like_count", "retweet_count", "reply_count", "quote_count"):
        before = sum(early[i]["public_metrics"][key] for i in again)
        after = sum(later[i]["public_metrics"][key] for i in again)
        assert after > before
    for i in again:  # content is the first sighting's, whatever the moment
        assert (early[i]["text"], early[i].get("entities")) == (
            later[i]["text"],
            later[i].get("entities"),
        )
        for key, value in early[i]["public_metrics"].items():
            assert later[i]["public_metrics"][key] >= value


# --- lookup --------------------------------------------------------------------------------


def test_lookup_returns_grown_counts_later_and_errors_for_unknown_ids(
    imhaw17: SimulatedCampaign,
) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.window_start_at + DAY)
    made = imhaw17.count_until(source.now)
    ids = [imhaw17.post_id(i) for i in range(made - 150, made)]
    first = list(source.lookup(ids))
    assert [len(p["data"]) for p in first] == [100, 50] and source.requests == 2
    assert all("meta" not in p and "errors" not in p for p in first)
    source.now += 2 * DAY
    second = list(source.lookup(ids))
    before = {p["id"]: p["public_metrics"] for p in posts_of(first)}
    after = {p["id"]: p["public_metrics"] for p in posts_of(second)}
    assert list(before) == ids == list(after)  # in the order asked
    assert sum(m["like_count"] for m in after.values()) > sum(
        m["like_count"] for m in before.values()
    )
    assert all(after[i][k] >= v for i in ids for k, v in before[i].items())

    future = imhaw17.post_id(imhaw17.count_until(source.now))  # not made yet
    page = next(source.lookup(["20", future, ids[0]]))
    assert [p["id"] for p in page["data"]] == [ids[0]]
    assert page["errors"] == [
        {
            "value": value,
            "detail": f"Could not find tweet with ids: [{value}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": value,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        for value in ("20", future)
    ]
    assert next(source.lookup(["20"])).keys() == {"errors"}


# --- what the campaign looks like ---------------------------------------------------------


def test_every_post_is_sighted_once_by_a_polling_collector(
    imhaw17: SimulatedCampaign, first_sightings: list[dict[str, Any]]
) -> None:
    ids = [p["id"] for p in posts_of(first_sightings)]
    assert len(ids) == len(set(ids)) == len(imhaw17)
    assert 4_000 <= len(imhaw17) <= 8_000


def test_kinds_come_in_realistic_shares(first_sightings: list[dict[str, Any]]) -> None:
    kinds = collections.Counter(
        post.kind for page in first_sightings for post in normalize_page(page).posts
    )
    n = sum(kinds.values())
    assert 0.35 <= kinds["retweet"] / n <= 0.55
    assert 0.20 <= kinds["original"] / n <= 0.45
    assert 0.05 <= kinds["reply"] / n <= 0.20
    assert 0.04 <= kinds["quote"] / n <= 0.15
    both = [
        [r["type"] for r in p["referenced_tweets"]]
        for p in posts_of(first_sightings)
        if len(p.get("referenced_tweets", [])) == 2
    ]
    assert both, "some replies also quote"
    assert ["quoted", "replied_to"] in both and ["replied_to", "quoted"] in both


def test_retweets_carry_their_originals_retweet_count_and_no_other_counts(
    first_sightings: list[dict[str, Any]],
) -> None:
    retweets = 0
    for page in first_sightings:
        context = {t["id"]: t for t in page.get("includes", {}).get("tweets", [])}
        users = {u["id"]: u for u in page["includes"]["users"]}
        for item in page["data"]:
            refs = item.get("referenced_tweets", [])
            if refs and refs[0]["type"] == "retweeted":
                retweets += 1
                original = context[refs[0]["id"]]
                metrics = item["public_metrics"]
                assert metrics["retweet_count"] == original["public_metrics"]["retweet_count"]
                assert metrics["like_count"] == metrics["reply_count"] == 0
                assert metrics["quote_count"] == metrics.get("impression_count", 0) == 0
                author = users[original["author_id"]]["username"]
                assert item["text"] == f"RT @{author}: {original['text']}"
    assert retweets > 1_000


def test_referenced_posts_come_as_context_and_campaign_ones_also_as_posts(
    first_sightings: list[dict[str, Any]],
) -> None:
    in_data = {p["id"] for p in posts_of(first_sightings)}
    outside = 0
    for page in first_sightings:
        context = {t["id"] for t in page.get("includes", {}).get("tweets", [])}
        users = {u["id"] for u in page["includes"]["users"]}
        for item in page["data"]:
            assert item["author_id"] in users
            for ref in item.get("referenced_tweets", []):
                assert ref["id"] in context
                assert int(ref["id"]) < int(item["id"])  # made before what points at it
                outside += ref["id"] not in in_data
        for tweet in page.get("includes", {}).get("tweets", []):
            assert tweet["author_id"] in users
    assert outside > 50  # quotes of and replies to posts outside the campaign


def test_follower_counts_are_heavy_tailed_and_authors_post_repeatedly(
    first_sightings: list[dict[str, Any]],
) -> None:
    followers: dict[str, int] = {}
    posts_by: collections.Counter[str] = collections.Counter()
    for page in first_sightings:
        users = {u["id"]: u for u in page["includes"]["users"]}
        for item in page["data"]:
            user = users[item["author_id"]]
            posts_by[user["username"]] += 1
            if "public_metrics" in user:
                followers[user["id"]] = user["public_metrics"]["followers_count"]
    counts = sorted(followers.values())
    assert 50 <= counts[len(counts) // 2] <= 2_000  # most people
    assert sum(c >= 100_000 for c in counts) >= 3  # a few organisations and celebrities
    assert max(counts) <= 1_000_000
    top = counts[-max(1, len(counts) // 100) :]
    assert sum(top) > 0.3 * sum(counts)  # the top 1 % hold a large share
    assert len(posts_by) < 0.5 * sum(posts_by.values())  # contributors < posts
    assert 30 <= posts_by["first1001days"] <= 60  # the campaign account
    assert sum(n >= 5 for n in posts_by.values()) >= 50


def test_default_window_potential_impressions_are_near_the_baseline(
    imhaw17: SimulatedCampaign, first_sightings: list[dict[str, Any]]
) -> None:
    campaign = SETTINGS.campaign
    followers = followers_by_post(first_sightings)
    created = {p["id"]: p["created_at"] for p in posts_of(first_sightings)}
    window = [
        i for i, at in created.items() if campaign.start <= local_day(at, campaign) <= campaign.end
    ]
    potential = sum(followers[i] or 0 for i in window)
    assert 5_000_000 <= potential <= 20_000_000
    assert 0.7 <= potential / SETTINGS.baseline.value <= 1.3
    assert potential == imhaw17.window_potential_impressions()  # the generator agrees


def test_volume_peaks_in_the_window_and_follows_the_local_day(
    first_sightings: list[dict[str, Any]],
) -> None:
    campaign = SETTINGS.campaign
    local = [
        dt.datetime.fromisoformat(p["created_at"]).astimezone(campaign.tz)
        for p in posts_of(first_sightings)
    ]
    hours = collections.Counter(t.hour for t in local)
    assert hours[19] > 5 * hours[3]
    assert hours[8] > 5 * hours[3]
    days = collections.Counter(t.date() for t in local)
    quietest_in_window = min(days[d] for d in campaign.days())
    assert all(n < quietest_in_window for d, n in days.items() if d not in campaign.days())
    assert min(days) == campaign.start - 7 * DAY and max(days) == campaign.end + 3 * DAY
    assert days[campaign.start - DAY] > days[campaign.start - 5 * DAY]  # the ramp-up


def test_entities_matching_and_gaps_look_like_the_real_search(
    first_sightings: list[dict[str, Any]],
) -> None:
    posts = posts_of(first_sightings)
    records = [r for page in first_sightings for r in normalize_page(page).posts]
    n = len(records)
    spellings = {
        h["tag"]
        for p in posts
        for h in p.get("entities", {}).get("hashtags", [])
        if h["tag"].casefold() == "imhaw17"
    }
    assert {"IMHAW17", "imhaw17", "ImHaw17"} <= spellings
    co_tags = collections.Counter(
        h["tag"] for p in posts for h in p.get("entities", {}).get("hashtags", [])
    )
    assert co_tags["BeginBeforeBirth"] > 100 and co_tags["InfantMentalHealth"] > 20
    without = [p for p in posts if "entities" not in p]
    assert 0.01 <= len(without) / n <= 0.07
    # matching falls back to the text for those
    without_ids = {p["id"] for p in without}
    assert any(" imhaw17 " in r.hashtags for r in records if r.id in without_ids)
    hashtag = sum(" imhaw17 " in r.hashtags for r in records)
    mention = sum(" first1001days " in r.mentions for r in records)
    neither = sum(
        " imhaw17 " not in r.hashtags and " first1001days " not in r.mentions for r in records
    )
    assert hashtag > 0.8 * n and mention > 0.05 * n
    assert 0.005 <= neither / n <= 0.08
    without_followers = sum(r.author_followers is None for r in records)
    assert 0.005 <= without_followers / n <= 0.04
    with_impressions = sum(r.impression_count is not None for r in records)
    assert 0.7 <= with_impressions / n <= 0.9
    for p in posts:  # entity offsets point at what they name
        for h in p.get("entities", {}).get("hashtags", []):
            assert p["text"][h["start"] : h["end"]] == "#" + h["tag"]
        for m in p.get("entities", {}).get("mentions", []):
            assert p["text"][m["start"] : m["end"]] == "@" + m["username"]


def test_hostile_strings_reach_texts_and_names(first_sightings: list[dict[str, Any]]) -> None:
    texts = " ".join(p["text"] for p in posts_of(first_sightings))
    names = " ".join(u["name"] for page in first_sightings for u in page["includes"]["users"])
    assert "<script>alert(1)</script>" in texts
    assert any(p["text"].startswith("=HYPERLINK(") for p in posts_of(first_sightings))
    assert "\u202e" in names and "<script>" in names and '=HYPERLINK("http://x")' in names


def test_the_campaign_comes_from_the_settings_not_from_imhaw17() -> None:
    campaign = Campaign(
        name="Seedling Week",
        hashtags=("#SeedlingWeek",),
        accounts=("@leafy_org",),
        start=dt.date(2024, 3, 4),
        end=dt.date(2024, 3, 6),
        timezone="America/New_York",
        theme="Grow Together",
        supporters=("@TreeTrust",),
    )
    sim = simulate_campaign(Settings(campaign=campaign), seed=7, posts=2500)
    pages = sweep(sim)
    text = dumps(pages).decode()
    assert "imhaw17" not in text.casefold() and "first1001days" not in text
    assert "#GrowTogether" in text
    usernames = collections.Counter(
        u["username"] for page in pages for u in page["includes"]["users"]
    )
    assert usernames["leafy_org"] > 0 and usernames["TreeTrust"] > 0
    local = [
        dt.datetime.fromisoformat(p["created_at"]).astimezone(campaign.tz) for p in posts_of(pages)
    ]
    assert min(t.date() for t in local) == dt.date(2024, 2, 26)
    assert max(t.date() for t in local) == dt.date(2024, 3, 9)
    hours = collections.Counter(t.hour for t in local)
    assert hours[19] > 3 * hours[3]
    tags = {
        h["tag"].casefold()
        for p in posts_of(pages)
        for h in p.get("entities", {}).get("hashtags", [])
    }
    assert "seedlingweek" in tags


def test_posts_fixes_the_size_and_an_empty_campaign_answers_like_the_api() -> None:
    assert len(simulate_campaign(SETTINGS, seed=1, posts=1234)) == 1234
    empty = SimulatedSource(simulate_campaign(SETTINGS, posts=0))
    assert list(empty.search()) == [{"meta": {"result_count": 0}}]
    assert empty.requests == 1


# --- through the real pipeline ------------------------------------------------------------


def test_collect_passes_store_every_post_exactly_once_as_the_clock_advances(
    imhaw17: SimulatedCampaign, sqlite_engine: Engine
) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.span_start_at)
    passes = 0
    while source.now < imhaw17.span_end_at:
        # uneven steps, so passes end at every hour of the day
        source.now = min(
            source.now + dt.timedelta(hours=17 + 7 * (passes % 5)), imhaw17.span_end_at
        )
        result = collect_pass(sqlite_engine, source, now=source.now)
        passes += 1
        with sqlite_engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Post)).scalar()
            most = conn.execute(select(func.max(Post.sightings))).scalar()
        assert stored == imhaw17.count_until(source.now)
        assert most in (None, 1)
        assert result.requests == result.pages
    assert stored == len(imhaw17) and passes > 5


def test_a_pass_after_an_outage_beyond_the_search_reach_takes_what_it_holds(
    imhaw17: SimulatedCampaign, sqlite_engine: Engine
) -> None:
    source = SimulatedSource(imhaw17, clock=imhaw17.window_start_at - 5 * DAY)
    first = source.now
    collect_pass(sqlite_engine, source, now=source.now)
    source.now += 9 * DAY  # the checkpoint is now 9 days old: X refuses it as since_id
    result = collect_pass(sqlite_engine, source, now=source.now)
    assert result.gap is not None and result.gap[0] is not None
    reach = source.now - 7 * DAY
    expected = sum(
        1
        for i in range(len(imhaw17))
        if imhaw17.created_at(i) <= first or reach <= imhaw17.created_at(i) <= source.now
    )
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Post)).scalar() == expected


def test_the_twarc_archive_streams_pages_with_repeat_sightings_and_imports(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    sim = simulate_campaign(SETTINGS, seed=5, posts=1500)
    path = tmp_path / "sim.jsonl.gz"
    written = write_twarc_jsonl(sim, path, gzip=True, repeat_every=3)
    with gzip.open(path, "rb") as fh:
        lines = [json.loads(line) for line in fh]
    assert all(set(p["__twarc"]) == {"url", "version", "retrieved_at"} for p in lines)
    assert "query=%28%23IMHAW17%20OR%20%40first1001days%29" in lines[0]["__twarc"]["url"]
    sightings = [item for page in lines for item in page["data"]]
    assert written == len(sightings)
    counts = collections.Counter(item["id"] for item in sightings)
    assert len(counts) == len(sim) and max(counts.values()) == 2
    # a repeat comes later in the file with counts at least as large
    last: dict[str, dict[str, int]] = {}
    grew = 0
    for item in sightings:
        if item["id"] in last:
            assert all(item["public_metrics"][k] >= v for k, v in last[item["id"]].items())
            grew += item["public_metrics"] != last[item["id"]]
        last[item["id"]] = item["public_metrics"]
    assert grew > 0
    result = archive.import_files(sqlite_engine, [path])
    assert result.total("posts_seen") == written
    assert result.total("new") == len(sim)
    plain = tmp_path / "sim.jsonl"
    assert write_twarc_jsonl(sim, plain, repeat_every=3) == written
    assert gzip.decompress(path.read_bytes()) == plain.read_bytes()
    again = tmp_path / "again.jsonl.gz"
    write_twarc_jsonl(sim, again, gzip=True, repeat_every=3)
    assert again.read_bytes() == path.read_bytes()  # same campaign, same sha256


# --- size ----------------------------------------------------------------------------------
# How long generation takes is measured by the bench (python -m bench), not asserted here.


@pytest.mark.slow
def test_generation_makes_the_benchmarks_hundred_thousand_posts() -> None:
    big = simulate_campaign(SETTINGS, seed=42, posts=100_000)
    assert len(big) == 100_000

"""`hashmon stats` figures, exactly as METRICS.md defines them.

Two kinds of test. Real recorded X API v2 archives are imported and every key of
``days`` and ``totals`` is compared with an oracle written here in plain Python straight
from METRICS.md (raw JSON parsed with ``json``, no hashmon function used). Then each
rule and edge case of METRICS.md gets a test of its own on a small hand-written page
that isolates it. Everything runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from monitor.archive import import_files
from monitor.settings import Baseline, Campaign, Moderation, Settings
from monitor.store.engine import make_engine
from reports.stats import stats_object
from tests.conftest import make_db_url
from tests.pages import counts, page, post, user, without, write_jsonl

JSONL = Path(__file__).parent / "fixtures" / "x-api-v2" / "twarc2-jsonl"
PAGES = Path(__file__).parent / "fixtures" / "x-api-v2" / "pages"

# METRICS.md, "Per period": every key a day and the totals carry, and nothing else
PERIOD_KEYS = {
    "posts",
    "originals",
    "retweets",
    "quotes",
    "replies",
    "hashtag_posts",
    "mention_posts",
    "contributors",
    "potential_impressions",
    "potential_reach",
    "like_count",
    "retweet_count",
    "reply_count",
    "quote_count",
    "engagements",
    "engagement_rate",
    "impressions",
    "impressions_coverage",
    "posts_without_followers",
    # "Hidden and excluded posts": 0 when the [moderation] lists are empty
    "hidden_posts",
    "excluded_posts",
}
ENGAGEMENT = ("like_count", "retweet_count", "reply_count", "quote_count")
RATES = {"engagement_rate", "impressions_coverage"}


# --- the oracle: METRICS.md in plain Python -----------------------------------------------


def _raw_pages(path: Path, skip_bad_lines: bool) -> list[dict]:
    """Return the JSON objects of a file: one pretty-printed document, or one per line."""
    raw = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(raw)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    out = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if not skip_bad_lines:
                raise
    return out


def _sightings(paths: Sequence[Path], skip_bad_lines: bool) -> Iterable[tuple[dict, dict]]:
    """Yield (post item, the users its page delivered) in argument, line, page order."""
    for path in paths:
        for obj in _raw_pages(path, skip_bad_lines):
            if "data" not in obj and "id" in obj and "text" in obj:
                # a flattened line: the post itself, its author inline
                author = obj.get("author")
                users = {author["id"]: author} if isinstance(author, dict) else {}
                yield obj, users
                continue
            data = obj.get("data")
            items = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
            users = {}
            for u in (obj.get("includes") or {}).get("users") or []:
                users.setdefault(u["id"], u)
            for item in items:
                if isinstance(item, dict) and "id" in item and "text" in item:
                    yield item, users


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _kind(item: dict) -> str:
    types = {r.get("type") for r in item.get("referenced_tweets") or []}
    for ref, kind in (("retweeted", "retweet"), ("replied_to", "reply"), ("quoted", "quote")):
        if ref in types:
            return kind
    return "original"


def _word_character(c: str) -> bool:
    """Unicode's word character (UTS #18): letters, marks, digits, connector punctuation."""
    return c.isalnum() or unicodedata.category(c)[0] == "M" or unicodedata.category(c) == "Pc"


def _matches(item: dict, terms: set[str], key: str, field: str, sign: str) -> bool:
    entities = item.get("entities")
    if isinstance(entities, dict):
        found = {e[field].casefold() for e in entities.get(key) or []}
        return bool(found & terms)
    text = item["text"].casefold()
    for term in terms:
        for found in re.finditer(re.escape(sign + term), text):
            before = text[found.start() - 1] if found.start() else " "
            after = text[found.end()] if found.end() < len(text) else " "
            if not _word_character(before) and not _word_character(after):
                return True
    return False


def _first_sighting(item: dict, users: dict, campaign: Campaign) -> dict:
    author = item.get("author_id")
    metrics = (users.get(author) or {}).get("public_metrics") if author else None
    tags = {h.lstrip("#").casefold() for h in campaign.hashtags}
    names = {a.lstrip("@").casefold() for a in campaign.accounts}
    return {
        "id": int(item["id"]),
        "author": author,
        "created": _utc(item.get("created_at")),
        "kind": _kind(item),
        "hashtag": _matches(item, tags, "hashtags", "tag", "#"),
        "mention": _matches(item, names, "mentions", "username", "@"),
        "followers": metrics.get("followers_count") if isinstance(metrics, dict) else None,
        "counts": {},
    }


def _figures(posts: list[dict]) -> dict[str, Any]:
    kinds = [p["kind"] for p in posts]
    exposure = sum(p["followers"] or 0 for p in posts)
    latest: dict[str, tuple] = {}
    for p in posts:
        if p["author"] is None:
            continue
        key = (p["created"], p["id"])
        if p["author"] not in latest or key > latest[p["author"]][0]:
            latest[p["author"]] = (key, p["followers"] or 0)
    sums = {
        c: sum(p["counts"].get(c, 0) for p in posts if p["kind"] != "retweet") for c in ENGAGEMENT
    }
    engagements = sum(sums.values())
    reported = [p["counts"]["impression_count"] for p in posts if "impression_count" in p["counts"]]
    return {
        "posts": len(posts),
        "originals": kinds.count("original"),
        "retweets": kinds.count("retweet"),
        "quotes": kinds.count("quote"),
        "replies": kinds.count("reply"),
        "hashtag_posts": sum(p["hashtag"] for p in posts),
        "mention_posts": sum(p["mention"] for p in posts),
        "contributors": len({p["author"] for p in posts if p["author"] is not None}),
        "potential_impressions": exposure,
        "potential_reach": sum(v for _, v in latest.values()),
        **sums,
        "engagements": engagements,
        "engagement_rate": engagements / exposure if exposure else None,
        "impressions": sum(reported) if reported else None,
        "impressions_coverage": len(reported) / len(posts) if posts else 0.0,
        "posts_without_followers": sum(1 for p in posts if p["followers"] is None),
        "hidden_posts": sum(1 for p in posts if p.get("hidden")),
    }


def observed(
    paths: Sequence[Path], settings: Settings, skip_bad_lines: bool = False
) -> tuple[dict[int, dict], dict[str, str]]:
    """Return (the posts by id, as METRICS.md keeps them, each with its raw first item
    under ``item``; each author's latest username, casefolded)."""
    campaign = settings.campaign
    posts: dict[int, dict] = {}
    usernames: dict[str, str] = {}
    for item, users in _sightings(paths, skip_bad_lines):
        pid = int(item["id"])
        if pid not in posts:
            posts[pid] = _first_sighting(item, users, campaign) | {"item": item}
        metrics = item.get("public_metrics")
        if isinstance(metrics, dict):
            for name in (*ENGAGEMENT, "impression_count"):
                if metrics.get(name) is not None:
                    posts[pid]["counts"][name] = metrics[name]
        author = item.get("author_id")
        username = (users.get(author) or {}).get("username") if author else None
        if username:
            usernames[author] = username.casefold()
    return posts, usernames


GROUP_KEYS = ("posts", "contributors", "potential_impressions", "potential_reach", "engagements")


def group_oracle(
    posts: list[dict], usernames: dict[str, str], accounts: Iterable[str], supporters: set[str]
) -> dict[str, dict[str, int]]:
    """Return METRICS.md's groups of ``posts``: owned, then supporters, then others."""
    owned = {a.lstrip("@").casefold() for a in accounts}
    members: dict[str, list[dict]] = {"owned": [], "supporters": [], "others": []}
    for p in posts:
        name = usernames.get(p["author"]) if p["author"] is not None else None
        group = "owned" if name in owned else "supporters" if name in supporters else "others"
        members[group].append(p)
    return {g: {k: _figures(ps)[k] for k in GROUP_KEYS} for g, ps in members.items()}


def _moderate(posts: Iterable[dict], usernames: dict[str, str], settings: Settings) -> None:
    """Mark each post excluded or hidden by the [moderation] lists, read here straight
    from the config's text forms (METRICS.md "Hidden and excluded posts", "Handles")."""
    m = settings.moderation

    def post_ids(refs: Sequence[str]) -> set[int]:
        return {int(re.sub(r"^.*/status/", "", r).split("?")[0]) for r in refs}

    def names(refs: Sequence[str]) -> set[str]:
        out = set()
        for r in refs:
            r = re.sub(r"(?i)^(https?://)?((www|mobile)\.)?(twitter|x)\.com/", "", r.strip())
            out.add(r.lstrip("@").split("?")[0].rstrip("/").casefold())
        return out

    def retweeted(p: dict) -> int | None:
        if p["kind"] != "retweet":
            return None
        refs = [r for r in p["item"].get("referenced_tweets") or [] if r["type"] == "retweeted"]
        return int(refs[0]["id"]) if refs else None

    posts = list(posts)
    ex_ids, ex_names = post_ids(m.exclude_posts), names(m.exclude_accounts)
    hide_ids, hide_names = post_ids(m.hide_posts), names(m.hide_accounts)
    for p in posts:
        name = usernames.get(p["author"], "").casefold() if p["author"] else ""
        p["excluded"] = p["id"] in ex_ids or (name != "" and name in ex_names)
        p["hidden"] = not p["excluded"] and (p["id"] in hide_ids or name in hide_names - {""})
    # a retweet of a hidden post is hidden: of a stored post hidden above, or of a listed
    # post never stored (its author unknown) that is not listed as excluded
    stored = {p["id"] for p in posts}
    targets = {p["id"] for p in posts if p["hidden"]} | (hide_ids - stored - ex_ids)
    for p in posts:
        if not p["excluded"] and retweeted(p) in targets:
            p["hidden"] = True


def oracle(
    paths: Sequence[Path],
    settings: Settings,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    skip_bad_lines: bool = False,
    supporters: Iterable[str] = (),
) -> dict[str, Any]:
    """Return the `hashmon stats --json` object for ``paths``, computed from METRICS.md
    (``supporters``: the listed supporters' handles, casefolded)."""
    campaign = settings.campaign
    posts, usernames = observed(paths, settings, skip_bad_lines)
    _moderate(posts.values(), usernames, settings)
    zone = ZoneInfo(campaign.timezone)
    first, last = date_from or campaign.start, date_to or campaign.end
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    by_day: dict[dt.date, list[dict]] = {d: [] for d in dates}
    for p in posts.values():
        if p["created"] is not None:
            day = p["created"].astimezone(zone).date()
            if day in by_day:
                by_day[day].append(p)

    def figures(day_posts: list[dict]) -> dict[str, Any]:
        kept = [p for p in day_posts if not p["excluded"]]
        return {**_figures(kept), "excluded_posts": len(day_posts) - len(kept)}

    totals = figures([p for d in dates for p in by_day[d]])
    base = settings.baseline
    value = None if base is None else base.value
    return {
        "campaign": {
            "name": campaign.name,
            "start": campaign.start.isoformat(),
            "end": campaign.end.isoformat(),
            "timezone": campaign.timezone,
        },
        "baseline": None
        if base is None
        else {
            "label": base.label,
            "metric": base.metric,
            "value": int(value) if float(value).is_integer() else value,
        },
        "stored": {
            "posts": len(posts),
            "authors": len({p["author"] for p in posts.values() if p["author"] is not None}),
        },
        "days": [{"date": d.isoformat(), **figures(by_day[d])} for d in dates],
        "totals": {
            **totals,
            "baseline_progress": None if base is None else totals[base.metric] / value,
        },
        # an excluded post is in no group either (METRICS.md)
        "groups": group_oracle(
            [p for d in dates for p in by_day[d] if not p["excluded"]],
            usernames,
            campaign.accounts,
            set(supporters),
        ),
    }


# --- helpers ---------------------------------------------------------------------------------


DEFAULT_BASELINE = Baseline()  # "#IMHAW16", potential_impressions, 10000000


def campaign_settings(
    start: dt.date,
    end: dt.date,
    timezone: str = "Europe/London",
    hashtags: Sequence[str] = ("IMHAW17",),
    accounts: Sequence[str] = ("first1001days",),
    baseline: Baseline | None = DEFAULT_BASELINE,
) -> Settings:
    return Settings(
        campaign=Campaign(
            start=start,
            end=end,
            hashtags=tuple(hashtags),
            accounts=tuple(accounts),
            timezone=timezone,
        ),
        baseline=baseline,
    )


IMHAW17 = campaign_settings(dt.date(2017, 6, 12), dt.date(2017, 6, 16))


def stats(
    engine: Engine,
    settings: Settings = IMHAW17,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    with engine.connect() as conn:
        return stats_object(conn, settings, date_from, date_to)


def imported(engine: Engine, tmp_path: Path, *files: list[dict], **kw: Any) -> dict[str, Any]:
    """Write each list of pages as a JSONL file, import them in order, return the stats."""
    paths = [write_jsonl(tmp_path / f"part{i}.jsonl", *pages) for i, pages in enumerate(files)]
    import_files(engine, paths)
    return stats(engine, **kw)


def day(obj: dict[str, Any], date: str) -> dict[str, Any]:
    (found,) = [d for d in obj["days"] if d["date"] == date]
    return found


def assert_types(obj: dict[str, Any]) -> None:
    """Integers are JSON integers, rates floats (or null where METRICS.md says so)."""
    for fig in [*obj["days"], obj["totals"]]:
        for key in PERIOD_KEYS - RATES - {"impressions"}:
            assert type(fig[key]) is int, key
        assert fig["impressions"] is None or type(fig["impressions"]) is int
        assert type(fig["impressions_coverage"]) is float
        assert fig["engagement_rate"] is None or type(fig["engagement_rate"]) is float


# --- real recorded archives against the oracle ----------------------------------------------

D = dt.date
REAL_CASES = {
    # 5 pages of a 2023 recent search: impression_count, retweets carrying the original's
    # counts; Moscow (UTC+3) splits its 19:16..21:39 UTC over two local days
    "search_example_moscow": (
        ["twarc2sql__search_example.jsonl"],
        campaign_settings(
            D(2023, 4, 6),
            D(2023, 4, 9),
            "Europe/Moscow",
            ("#blacklivesmatter", "hypocrisy"),
            ("@alima1000", "CommsZA"),
        ),
    ),
    "search_example_london_one_day": (
        ["twarc2sql__search_example.jsonl"],
        campaign_settings(D(2023, 4, 7), D(2023, 4, 7), "Europe/London", ("BlackLivesMatter",)),
    ),
    # 5 pages of 2021; Kabul (UTC+4:30) puts 19:30 UTC at local midnight
    "network_kabul": (
        ["twarc-network__tweets.jsonl"],
        campaign_settings(
            D(2021, 6, 26),
            D(2021, 6, 28),
            "Asia/Kabul",
            ("ToriesOut", "#FreePalestine"),
            ("FmMosca",),
            Baseline(metric="potential_reach", value=123456),
        ),
    ),
    # no user carries public_metrics; 37 posts without entities are matched on their text;
    # 23:47..23:59 UTC on 25 Sep is 26 Sep in London (summer time)
    "entities_test_no_followers": (
        ["twarc-csv__entities_test.jsonl"],
        campaign_settings(
            D(2022, 9, 24),
            D(2022, 9, 27),
            "Europe/London",
            ("salvini", "#Meloni"),
            ("alneteroitna", "@borghi_claudio"),
            Baseline(metric="posts", value=100),
        ),
    ),
    # the same 99 posts recorded twice with different counts and follower counts
    "media_policy_off_then_on": (
        [
            "twarc-csv__media_policy_violation_off.jsonl",
            "twarc-csv__media_policy_violation_on.jsonl",
        ],
        campaign_settings(D(2021, 5, 6), D(2021, 5, 12), "America/New_York"),
    ),
    "media_policy_on_then_off": (
        [
            "twarc-csv__media_policy_violation_on.jsonl",
            "twarc-csv__media_policy_violation_off.jsonl",
        ],
        campaign_settings(D(2021, 5, 6), D(2021, 5, 12), "America/New_York", baseline=None),
    ),
    # mixed endpoints 2010..2021, six posts whose author is not in includes.users
    "withheld_window_and_outside": (
        ["twarc-csv__withheld.jsonl"],
        campaign_settings(
            D(2021, 6, 1),
            D(2021, 6, 14),
            "UTC",
            ("Reliance", "vaccine"),
            ("BleacherReport",),
            Baseline(metric="engagements", value=50),
        ),
    ),
    # twarc2 flatten output, then the same posts as an API page
    "flat_then_noflat": (
        ["twarc-csv__flat.jsonl", "twarc-csv__noflat.jsonl"],
        campaign_settings(
            D(2021, 4, 8),
            D(2021, 4, 9),
            "America/Caracas",
            ("JuntosContraLaCovid19",),
            ("Breaking911",),
        ),
    ),
    # overlapping search files: brexit and kpop pages, then both again in 2sets
    "brexit_kpop_2sets": (
        ["twarc-csv__brexit.jsonl", "twarc-csv__kpop.jsonl", "twarc-csv__2sets.jsonl"],
        campaign_settings(
            D(2021, 9, 22),
            D(2021, 9, 22),
            "Europe/London",
            ("brexit", "KPOP"),
            ("itsLIVEofficial",),
            Baseline(metric="contributors", value=7),
        ),
    ),
    "hashtags_tweets1_tokyo": (
        ["twarc-hashtags__tweets1.jsonl"],
        campaign_settings(
            D(2021, 3, 23), D(2021, 3, 25), "Asia/Tokyo", ("NAACPImageAwards",), ("kylegriffin1",)
        ),
    ),
    "edited_versions_and_lookups": (
        [
            "twarc-csv__edited_before.jsonl",
            "twarc-csv__edited.jsonl",
            "twarc-csv__edited_after.jsonl",
            "twarc-csv__quoted_edit.jsonl",
            "twarc-csv__cashtags.jsonl",
            "twarc-csv__verified_type.jsonl",
            "twarc-csv__mentions_tweet.jsonl",
        ],
        campaign_settings(D(2022, 10, 1), D(2022, 10, 5), "Europe/London"),
    ),
}


def _real(name: str) -> tuple[list[Path], Settings]:
    files, settings = REAL_CASES[name]
    return [JSONL / f for f in files], settings


@pytest.mark.parametrize("case", sorted(REAL_CASES))
def test_stats_of_real_archives_match_an_independent_computation(engine: Engine, case: str) -> None:
    paths, settings = _real(case)
    import_files(engine, paths)
    got = stats(engine, settings)
    want = oracle(paths, settings)
    assert set(got["totals"]) == PERIOD_KEYS | {"baseline_progress"}
    assert [d["date"] for d in got["days"]] == [d["date"] for d in want["days"]]
    for got_day, want_day in zip(got["days"], want["days"], strict=True):
        assert set(got_day) == PERIOD_KEYS | {"date"}
        assert got_day == want_day, got_day["date"]
    assert got["totals"] == want["totals"]
    assert got == want
    assert_types(got)
    assert want["totals"]["posts"] > 0  # the case exercises real posts, not an empty window


def test_real_archive_with_from_and_to_matches_an_independent_computation(engine: Engine) -> None:
    paths, settings = _real("media_policy_off_then_on")
    import_files(engine, paths)
    for date_from, date_to in [(D(2021, 5, 9), None), (None, D(2021, 5, 8)), (D(2021, 5, 8),) * 2]:
        assert stats(engine, settings, date_from, date_to) == oracle(
            paths, settings, date_from, date_to
        )


def test_stream_output_imported_skipping_its_broken_line_matches_the_computation(
    engine: Engine,
) -> None:
    path = JSONL / "twarc-csv__streaming_output_with_error.jsonl"
    settings = campaign_settings(D(2021, 4, 1), D(2021, 4, 1), hashtags=("AI",))
    import_files(engine, [path], skip_bad_lines=True)
    want = oracle([path], settings, skip_bad_lines=True)
    assert want["totals"]["posts"] == 7
    assert stats(engine, settings) == want


def test_a_single_saved_response_file_gives_the_same_figures_as_its_jsonl_line(
    engine: Engine,
) -> None:
    settings = campaign_settings(D(2023, 3, 27), D(2023, 3, 28), hashtags=("BlackLivesMatter",))
    path = PAGES / "search_recent__blacklivesmatter__2023-03-27.json"
    import_files(engine, [path])
    assert stats(engine, settings) == oracle([JSONL / "twarc2sql__example.jsonl"], settings)


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterable[Engine]:
    eng = make_engine(make_db_url("postgresql", tmp_path))
    yield eng
    eng.dispose()


def test_sqlite_and_postgresql_give_identical_stats(
    sqlite_engine: Engine, pg_engine: Engine
) -> None:
    for case in ("search_example_moscow", "entities_test_no_followers", "brexit_kpop_2sets"):
        paths, settings = _real(case)
        objects = []
        for eng in (sqlite_engine, pg_engine):
            import_files(eng, paths)
            objects.append(json.dumps(stats(eng, settings), sort_keys=True))
        assert objects[0] == objects[1], case


ZONE_WINDOWS = [
    # (zone, first local date, last local date, what is odd about it)
    ("Pacific/Apia", D(2011, 12, 28), D(2012, 1, 2)),  # 2011-12-30 never happened there
    ("America/Santiago", D(2022, 9, 9), D(2022, 9, 13)),  # summer time starts at midnight
    ("Australia/Lord_Howe", D(2022, 4, 1), D(2022, 4, 5)),  # a half-hour change
    ("America/St_Johns", D(2022, 11, 4), D(2022, 11, 8)),  # UTC-3:30, then -2:30
    ("Europe/London", D(2017, 10, 27), D(2017, 10, 31)),
]


def _random_archive(path: Path, rng: random.Random, start: D, end: D, first_id: int) -> Path:
    """A seeded archive around one window: repeat sightings with changed counts, missing
    users, missing public_metrics, posts without author or created_at, and coarse
    created_at so one author often has several posts in the same minute."""
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1)
    minutes = ((end - start).days + 3) * 1440
    seen: list[dict] = []
    pages = []
    for _ in range(6):
        items = []
        for _ in range(40):
            if seen and rng.random() < 0.3:
                item = dict(rng.choice(seen))  # a repeat sighting: new counts, maybe none
            else:
                at = lo + dt.timedelta(minutes=rng.randrange(minutes))
                item = post(
                    str(first_id + len(seen) * rng.choice([1, 7, 13])),
                    rng.choice(["#IMHAW17 begins", "hello @first1001days", "other"]),
                    author_id=rng.choice(["1", "2", "3", "4", "5", None]),
                    created_at=None if rng.random() < 0.03 else at.strftime("%Y-%m-%dT%H:%M:00Z"),
                    refs=rng.choice([[], ["retweeted"], ["quoted"], ["replied_to", "quoted"]]),
                    entities=rng.choice([{"hashtags": [{"tag": "imhaw17"}]}, {}, None]),
                )
                if any(s["id"] == item["id"] for s in seen):
                    continue
                seen.append(item)
            if rng.random() < 0.15:
                item.pop("public_metrics", None)
            else:
                item["public_metrics"] = counts(*(rng.randrange(50) for _ in range(4)))
                if rng.random() < 0.5:
                    item["public_metrics"]["impression_count"] = rng.randrange(5000)
            items.append(item)
        users = [user(a, rng.randrange(10_000)) for a in "12345" if rng.random() < 0.8]
        pages.append(page(*items, users=users))
    return write_jsonl(path, *pages)


def test_seeded_random_archives_match_the_computation_in_odd_time_zones(
    engine: Engine, tmp_path: Path
) -> None:
    rng = random.Random(42)
    paths = [
        _random_archive(tmp_path / f"random{i}.jsonl", rng, first, last, 10 + i * 100_000)
        for i, (_, first, last) in enumerate(ZONE_WINDOWS)
    ]
    import_files(engine, paths)
    for zone, first, last in ZONE_WINDOWS:
        settings = campaign_settings(first, last, zone, baseline=Baseline(metric="posts", value=3))
        want, got = oracle(paths, settings), stats(engine, settings)
        assert want["totals"]["posts"] > 50
        for got_day, want_day in zip(got["days"], want["days"], strict=True):
            assert got_day == want_day, f"{zone} {want_day['date']}"
        assert got == want, zone


# --- local days, summer time ---------------------------------------------------------------
# Hand-written pages from here on: each isolates one rule of METRICS.md.


def _posts_at(*moments: str) -> list[dict]:
    return [page(*(post(str(i + 1), created_at=m) for i, m in enumerate(moments)))]


def test_a_post_late_on_sunday_utc_counts_on_monday_in_london_summer_time(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        _posts_at(
            "2017-06-11T22:59:59.000Z",  # 23:59:59 BST on the 11th: before the window
            "2017-06-11T23:30:00.000Z",  # 00:30 BST on the 12th
            "2017-06-16T22:59:59.999Z",  # 23:59:59.999 BST on the 16th
            "2017-06-16T23:00:00.000Z",  # 00:00 BST on the 17th: after the window
        ),
    )
    assert [d["posts"] for d in obj["days"]] == [1, 0, 0, 0, 1]
    assert obj["totals"]["posts"] == 2
    assert obj["stored"]["posts"] == 4


def test_the_spring_forward_day_is_23_hours_long(engine: Engine, tmp_path: Path) -> None:
    settings = campaign_settings(D(2017, 3, 25), D(2017, 3, 27))
    obj = imported(
        engine,
        tmp_path,
        _posts_at(
            "2017-03-25T23:59:59.000Z",  # 23:59:59 GMT, 25th
            "2017-03-26T00:00:00.000Z",  # 00:00 GMT, 26th
            "2017-03-26T00:59:59.000Z",  # 00:59:59 GMT: the last second before the change
            "2017-03-26T01:00:00.000Z",  # 02:00 BST
            "2017-03-26T22:59:59.000Z",  # 23:59:59 BST: 23 hours after local midnight
            "2017-03-26T23:00:00.000Z",  # 00:00 BST, 27th
        ),
        settings=settings,
    )
    assert [(d["date"], d["posts"]) for d in obj["days"]] == [
        ("2017-03-25", 1),
        ("2017-03-26", 4),
        ("2017-03-27", 1),
    ]


def test_the_fall_back_day_is_25_hours_long(engine: Engine, tmp_path: Path) -> None:
    settings = campaign_settings(D(2017, 10, 28), D(2017, 10, 30))
    obj = imported(
        engine,
        tmp_path,
        _posts_at(
            "2017-10-28T22:59:59.000Z",  # 23:59:59 BST, 28th
            "2017-10-28T23:00:00.000Z",  # 00:00 BST, 29th
            "2017-10-29T00:30:00.000Z",  # 01:30 BST
            "2017-10-29T01:30:00.000Z",  # 01:30 GMT, the hour again
            "2017-10-29T23:59:59.000Z",  # 23:59:59 GMT: 25 hours after local midnight
            "2017-10-30T00:00:00.000Z",  # 00:00 GMT, 30th
        ),
        settings=settings,
    )
    assert [(d["date"], d["posts"]) for d in obj["days"]] == [
        ("2017-10-28", 1),
        ("2017-10-29", 4),
        ("2017-10-30", 1),
    ]


def test_a_day_a_time_zone_skipped_has_no_posts(engine: Engine, tmp_path: Path) -> None:
    # Samoa skipped 30 December 2011: at 10:00 UTC its clocks went from the 29th at
    # 24:00 (UTC-10) straight to the 31st at 00:00 (UTC+14)
    settings = campaign_settings(D(2011, 12, 29), D(2011, 12, 31), "Pacific/Apia")
    obj = imported(
        engine,
        tmp_path,
        _posts_at(
            "2011-12-30T09:59:59.999Z",  # 23:59:59.999 on the 29th
            "2011-12-30T10:00:00.000Z",  # 00:00 on the 31st
            "2011-12-30T10:00:00.001Z",
        ),
        settings=settings,
    )
    assert [(d["date"], d["posts"]) for d in obj["days"]] == [
        ("2011-12-29", 1),
        ("2011-12-30", 0),
        ("2011-12-31", 2),
    ]


def test_created_at_offsets_are_honoured_and_no_offset_means_utc(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        _posts_at(
            "2017-06-12T00:30:00+01:00",  # 23:30 UTC on the 11th = 00:30 BST on the 12th
            "2017-06-12T23:30:00-05:00",  # 04:30 UTC on the 13th
            "2017-06-11T23:30:00",  # no offset: UTC, so 00:30 BST on the 12th
            "2017-06-14T22:30:00",  # no offset: UTC, so 23:30 BST on the 14th
        ),
    )
    assert [d["posts"] for d in obj["days"]] == [2, 1, 1, 0, 0]


def test_a_post_without_a_usable_created_at_is_stored_but_in_no_day(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", created_at=None),
                post("2", created_at="yesterday"),
                post("3"),
                users=[user("100", 40)],
            )
        ],
    )
    assert obj["stored"] == {"posts": 3, "authors": 1}
    assert obj["totals"]["posts"] == 1
    assert sum(d["posts"] for d in obj["days"]) == 1
    assert obj["totals"]["potential_impressions"] == 40


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hashtag", "account"),
    [("#imHAW17", "@FIRST1001days"), ("imHAW17", "first1001DAYS"), ("IMHAW17", "@first1001days")],
)
def test_hashtags_and_accounts_match_case_insensitively_with_or_without_sign(
    engine: Engine, tmp_path: Path, hashtag: str, account: str
) -> None:
    settings = campaign_settings(
        D(2017, 6, 12), D(2017, 6, 16), hashtags=[hashtag], accounts=[account]
    )
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", hashtags=["IMHAW17"], mentions=["First1001Days"]),
                post("2", hashtags=["imhaw17"], mentions=["first1001days"]),
                post("3", hashtags=["ImHaw17"]),
                post("4", hashtags=["IMHAW16", "imhaw17x"], mentions=["first1001daysx"]),
            )
        ],
        settings=settings,
    )
    assert obj["totals"]["hashtag_posts"] == 3
    assert obj["totals"]["mention_posts"] == 2


def test_text_matching_counts_combining_marks_as_word_characters(
    engine: Engine, tmp_path: Path
) -> None:
    # Devanagari and Tamil vowel signs, and a decomposed accent, are Unicode word
    # characters (marks): a tag ends only where the word does
    settings = campaign_settings(D(2017, 6, 12), D(2017, 6, 16), hashtags=["#भारत", "தமிழ்", "cafe"])
    texts = {
        "जय #भारत": True,
        "#भारतीय संविधान": False,  # a longer word
        "வாழ்க #தமிழ்!": True,
        "un #cafe\u0301 noir": False,  # café, with its accent as a combining mark
        "un #cafe noir": True,
    }
    items = [without(post(str(i), text), "entities") for i, text in enumerate(texts, 1)]
    obj = imported(engine, tmp_path, [page(*items)], settings=settings)
    assert obj["totals"]["hashtag_posts"] == sum(texts.values()) == 3


TEXT_CASES = [
    ("Begin before birth #IMHAW17", True, False),
    ("(#ImHaw17). and @First1001Days: thanks", True, True),
    ("#imhaw17x is another tag", False, False),
    ("a#imhaw17 is glued to a word", False, False),
    ("#imhaw17_2 has an underscore after", False, False),
    ("#imhaw17é has a Unicode letter after", False, False),
    ("é#imhaw17 has a Unicode letter before", False, False),
    ("write to info@first1001days.org", False, False),
    ("@first1001days_team is another account", False, False),
    ("#IMHAW16 @first1001day", False, False),
]


@pytest.mark.parametrize("entities", ["missing", "null"])
def test_posts_without_entities_match_whole_terms_in_their_text(
    engine: Engine, tmp_path: Path, entities: str
) -> None:
    # hand-written: no entities object at all, or entities: null
    items = [
        without(post(str(i), text), "entities")
        if entities == "missing"
        else post(str(i), text, entities=None)
        for i, (text, _, _) in enumerate(TEXT_CASES, 1)
    ]
    obj = imported(engine, tmp_path, [page(*items)])
    assert obj["totals"]["hashtag_posts"] == sum(1 for _, tag, _ in TEXT_CASES if tag)
    assert obj["totals"]["mention_posts"] == sum(1 for _, _, men in TEXT_CASES if men)
    assert obj["totals"]["hashtag_posts"] == 2
    assert obj["totals"]["mention_posts"] == 1


def test_entities_without_hashtags_or_mentions_mean_the_post_has_none(
    engine: Engine, tmp_path: Path
) -> None:
    text = "#IMHAW17 with @first1001days"
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", text, entities={"urls": [{"start": 0, "end": 5, "url": "x"}]}),
                post("2", text, entities={"hashtags": None, "mentions": None}),
                post("3", text, entities={}),
            )
        ],
    )
    assert obj["totals"]["hashtag_posts"] == 0
    assert obj["totals"]["mention_posts"] == 0
    assert obj["totals"]["posts"] == 3


def test_a_retweet_matches_on_its_own_entities_not_its_originals(
    engine: Engine, tmp_path: Path
) -> None:
    original = post("900", "#IMHAW17 begins", author_id="200", hashtags=["IMHAW17"])
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", "RT @user200: #IMHAW17 begins", refs=["retweeted"], hashtags=["IMHAW17"]),
                post("2", "RT @user200: …", refs=["retweeted"], hashtags=[]),
                users=[user("100", 10), user("200", 20)],
                tweets=[original],
            )
        ],
    )
    assert obj["totals"]["hashtag_posts"] == 1
    assert obj["totals"]["retweets"] == 2


def test_campaign_terms_decide_only_the_match_keys(engine: Engine, tmp_path: Path) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", "nothing to do with it", metrics=counts(like=4)), users=[user("100", 9)])],
    )
    t = obj["totals"]
    assert (t["hashtag_posts"], t["mention_posts"]) == (0, 0)
    assert (t["posts"], t["originals"], t["contributors"]) == (1, 1, 1)
    assert (t["potential_impressions"], t["potential_reach"], t["like_count"]) == (9, 9, 4)


# --- kinds ----------------------------------------------------------------------------------


def test_kind_follows_precedence_whatever_the_order_of_referenced_tweets(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1"),
                post("2", refs=["retweeted"]),
                post("3", refs=["quoted", "retweeted"]),
                post("4", refs=["replied_to"]),
                post("5", refs=["quoted"]),
                post("6", refs=["quoted", "quoted"]),
            )
        ],
    )
    t = obj["totals"]
    assert (t["originals"], t["retweets"], t["replies"], t["quotes"]) == (1, 2, 1, 2)


@pytest.mark.parametrize("order", [["quoted", "replied_to"], ["replied_to", "quoted"]])
def test_a_reply_that_quotes_counts_as_a_reply(
    engine: Engine, tmp_path: Path, order: list[str]
) -> None:
    obj = imported(engine, tmp_path, [page(post("1", refs=order))])
    t = obj["totals"]
    assert (t["replies"], t["quotes"], t["originals"], t["retweets"]) == (1, 0, 0, 0)


# --- observations ---------------------------------------------------------------------------


def test_counts_come_from_the_latest_observation_and_can_go_down(
    engine: Engine, tmp_path: Path
) -> None:
    u = [user("100", 10)]
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", metrics=counts(5, 4, 3, 2, impression=100)), users=u)],
        [
            page(post("1", metrics=counts(9, 9, 9, 9, impression=900)), users=u),
            page(post("1", metrics=counts(3, 4, 1, 2, impression=90)), users=u),
        ],
    )
    t = obj["totals"]
    assert [t[k] for k in ENGAGEMENT] == [3, 4, 1, 2]
    assert (t["engagements"], t["impressions"]) == (10, 90)


def test_a_later_sighting_without_public_metrics_leaves_the_counts(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", metrics=counts(5, 4, 3, 2, impression=100)))],
        [page(post("1", metrics=None))],
    )
    t = obj["totals"]
    assert [t[k] for k in ENGAGEMENT] == [5, 4, 3, 2]
    assert (t["impressions"], t["impressions_coverage"]) == (100, 1.0)


def test_a_later_sighting_missing_one_count_leaves_that_count(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", metrics=counts(5, 4, 3, 2, impression=100)))],
        [page(post("1", metrics={"like_count": 7, "reply_count": 0}))],
    )
    t = obj["totals"]
    assert [t[k] for k in ENGAGEMENT] == [7, 4, 0, 2]
    assert t["impressions"] == 100


def test_a_count_never_reported_is_zero(engine: Engine, tmp_path: Path) -> None:
    obj = imported(
        engine, tmp_path, [page(post("1", metrics=None), post("2", metrics={"like_count": 3}))]
    )
    t = obj["totals"]
    assert [t[k] for k in ENGAGEMENT] == [3, 0, 0, 0]
    assert t["engagements"] == 3


def test_author_followers_come_from_the_first_sighting_and_are_never_updated(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", created_at="2017-06-12T10:00:00Z"), users=[user("100", 10)])],
        [
            page(
                post("1", created_at="2017-06-12T10:00:00Z"),
                post("2", created_at="2017-06-12T09:00:00Z"),
                users=[user("100", 99_999)],
            )
        ],
    )
    t = obj["totals"]
    assert t["potential_impressions"] == 10 + 99_999
    # the author's latest post is post 1, whose first page said 10 followers
    assert t["potential_reach"] == 10


def test_a_post_first_seen_without_a_follower_count_keeps_zero_followers(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1"), post("2", author_id="200"), users=[user("200")])],  # no user 100
        [page(post("1"), post("2", author_id="200"), users=[user("100", 50), user("200", 70)])],
    )
    t = obj["totals"]
    assert t["posts_without_followers"] == 2
    assert (t["potential_impressions"], t["potential_reach"]) == (0, 0)
    assert t["contributors"] == 2
    assert t["engagement_rate"] is None


def test_an_author_with_zero_followers_is_not_a_post_without_followers(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(engine, tmp_path, [page(post("1"), users=[user("100", 0)])])
    assert obj["totals"]["posts_without_followers"] == 0
    assert obj["totals"]["potential_impressions"] == 0


def test_a_post_stored_twice_is_one_post(engine: Engine, tmp_path: Path) -> None:
    p = page(post("1", metrics=counts(like=2)), users=[user("100", 5)])
    obj = imported(engine, tmp_path, [p, p], [p])
    assert obj["stored"]["posts"] == 1
    t = obj["totals"]
    assert (t["posts"], t["potential_impressions"], t["like_count"]) == (1, 5, 2)


# --- retweets, impressions, context ---------------------------------------------------------


def test_retweets_add_exposure_but_not_engagement(engine: Engine, tmp_path: Path) -> None:
    original = post("1", author_id="100", metrics=counts(10, 5, 2, 1, impression=500))
    # as X delivers them: the retweet carries its original's retweet_count
    retweet = post(
        "2", author_id="200", refs=["retweeted"], metrics=counts(0, 5, 0, 0, impression=7)
    )
    obj = imported(
        engine, tmp_path, [page(original, retweet, users=[user("100", 1000), user("200", 200)])]
    )
    t = obj["totals"]
    assert [t[k] for k in ENGAGEMENT] == [10, 5, 2, 1]
    assert t["engagements"] == 18
    assert t["potential_impressions"] == 1200
    assert t["potential_reach"] == 1200
    assert t["engagement_rate"] == 18 / 1200
    assert t["impressions"] == 507  # impressions include retweets


def test_impressions_are_null_when_no_post_reported_one(engine: Engine, tmp_path: Path) -> None:
    obj = imported(engine, tmp_path, [page(post("1", metrics=counts(like=1)), post("2"))])
    t = obj["totals"]
    assert t["impressions"] is None
    assert t["impressions_coverage"] == 0.0


def test_impressions_coverage_is_the_share_of_posts_that_reported_one(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", metrics=counts(impression=0)),
                post("2", metrics=counts(impression=30)),
                post("3", metrics=counts()),
                post("4", metrics=None),
            )
        ],
    )
    t = obj["totals"]
    assert t["impressions"] == 30
    assert t["impressions_coverage"] == 0.5


def test_context_posts_in_includes_are_never_counted(engine: Engine, tmp_path: Path) -> None:
    context = post(
        "900",
        "#IMHAW17 @first1001days",
        author_id="300",
        hashtags=["IMHAW17"],
        mentions=["first1001days"],
        metrics=counts(100, 100, 100, 100, impression=10_000),
    )
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", refs=["quoted"], metrics=counts(like=1)),
                users=[user("100", 10), user("300", 3000)],
                tweets=[context],
            )
        ],
    )
    assert obj["stored"] == {"posts": 1, "authors": 1}
    t = obj["totals"]
    assert (t["posts"], t["hashtag_posts"], t["mention_posts"]) == (1, 0, 0)
    assert (t["like_count"], t["engagements"], t["impressions"]) == (1, 1, None)
    assert (t["potential_impressions"], t["contributors"]) == (10, 1)


def test_a_context_post_that_also_arrives_in_data_is_a_post(engine: Engine, tmp_path: Path) -> None:
    context = post("900", author_id="300", metrics=counts(like=100))
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", refs=["quoted"]), users=[user("100", 10)], tweets=[context])],
        [page(post("900", author_id="300", metrics=counts(like=7)), users=[user("300", 30)])],
    )
    t = obj["totals"]
    assert (t["posts"], t["like_count"], t["potential_impressions"]) == (2, 7, 40)


# --- authors --------------------------------------------------------------------------------


def test_a_post_without_author_id_counts_in_posts_but_in_no_author_figure(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", author_id=None, metrics=counts(like=2)),
                post("2"),
                users=[user("100", 10)],
            )
        ],
    )
    t = obj["totals"]
    assert t["posts"] == 2
    assert t["posts_without_followers"] == 1
    assert (t["contributors"], t["potential_reach"], t["potential_impressions"]) == (1, 10, 10)
    assert t["like_count"] == 2
    assert obj["stored"] == {"posts": 2, "authors": 1}


def test_reach_takes_each_authors_latest_post_by_created_at(engine: Engine, tmp_path: Path) -> None:
    obj = imported(
        engine,
        tmp_path,
        # the later post is seen first; its page reports 700 followers
        [page(post("5", created_at="2017-06-12T11:00:00Z"), users=[user("100", 700)])],
        [page(post("6", created_at="2017-06-12T10:00:00Z"), users=[user("100", 300)])],
    )
    assert obj["totals"]["potential_reach"] == 700
    assert obj["totals"]["potential_impressions"] == 1000


@pytest.mark.parametrize(
    ("first", "second", "reach"),
    [("9", "10", 1000), ("10", "9", 900), ("999999999999999999", "1000000000000000000", 1000)],
)
def test_reach_breaks_a_created_at_tie_by_the_larger_id_as_a_number(
    engine: Engine, tmp_path: Path, first: str, second: str, reach: int
) -> None:
    at = "2017-06-12T10:00:00.000Z"
    obj = imported(
        engine,
        tmp_path,
        [page(post(first, created_at=at), users=[user("100", 900)])],
        [page(post(second, created_at=at), users=[user("100", 1000)])],
    )
    assert obj["totals"]["potential_reach"] == reach


def test_reach_orders_created_at_beyond_milliseconds(engine: Engine, tmp_path: Path) -> None:
    # ISO 8601 allows any fraction of a second (Bluesky sends microseconds): post 9 is
    # 0.8 ms later than post 10, so it is the author's latest post whatever the ids say
    obj = imported(
        engine,
        tmp_path,
        [page(post("10", created_at="2017-06-12T10:00:00.0001Z"), users=[user("100", 1000)])],
        [page(post("9", created_at="2017-06-12T10:00:00.0009Z"), users=[user("100", 900)])],
    )
    assert obj["totals"]["potential_reach"] == 900


def test_window_reach_and_contributors_are_not_the_sum_of_days(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", created_at="2017-06-12T10:00:00Z"),
                post("2", author_id="200", created_at="2017-06-12T11:00:00Z"),
                users=[user("100", 100), user("200", 50)],
            )
        ],
        [page(post("3", created_at="2017-06-13T10:00:00Z"), users=[user("100", 150)])],
    )
    d12, d13, t = day(obj, "2017-06-12"), day(obj, "2017-06-13"), obj["totals"]
    assert (d12["contributors"], d12["potential_reach"]) == (2, 150)
    assert (d13["contributors"], d13["potential_reach"]) == (1, 150)
    assert (t["contributors"], t["potential_reach"]) == (2, 150 + 50)
    assert t["potential_impressions"] == 300


def test_reach_takes_the_latest_post_even_when_it_has_no_follower_count(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [page(post("1", created_at="2017-06-12T10:00:00Z"), users=[user("100", 500)])],
        [page(post("2", created_at="2017-06-12T11:00:00Z"))],  # no user object this time
    )
    t = obj["totals"]
    assert (t["potential_reach"], t["potential_impressions"]) == (0, 500)
    assert (t["contributors"], t["posts_without_followers"]) == (1, 1)


# --- periods, zero days, baseline, stored ---------------------------------------------------


def test_days_cover_every_window_date_in_order_with_zero_days(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(engine, tmp_path, [page(post("1", created_at="2017-06-14T12:00:00Z"))])
    assert [d["date"] for d in obj["days"]] == [f"2017-06-{n}" for n in range(12, 17)]
    empty = day(obj, "2017-06-12")
    assert empty == {
        "date": "2017-06-12",
        **{k: 0 for k in PERIOD_KEYS},
        "engagement_rate": None,
        "impressions": None,
        "impressions_coverage": 0.0,
    }
    assert day(obj, "2017-06-14")["posts"] == 1
    assert_types(obj)


def test_an_empty_database_gives_zero_figures_and_null_rates(engine: Engine) -> None:
    obj = stats(engine)
    assert obj["stored"] == {"posts": 0, "authors": 0}
    assert obj["totals"]["posts"] == 0
    assert obj["totals"]["engagement_rate"] is None
    assert obj["totals"]["impressions"] is None
    assert obj["totals"]["impressions_coverage"] == 0.0
    assert obj["totals"]["baseline_progress"] == 0.0
    assert_types(obj)


def test_posts_outside_the_window_are_stored_but_not_in_totals(
    engine: Engine, tmp_path: Path
) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", created_at="2017-06-10T12:00:00Z"),
                post("2", created_at="2017-06-12T12:00:00Z"),
                post("3", author_id="300", created_at="2017-06-20T12:00:00Z"),
                users=[user("100", 10), user("300", 30)],
            )
        ],
    )
    assert obj["totals"]["posts"] == 1
    assert obj["totals"]["potential_impressions"] == 10
    assert obj["stored"] == {"posts": 3, "authors": 2}


def test_stored_authors_count_only_authors_of_stored_posts(engine: Engine, tmp_path: Path) -> None:
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", mentions=["user400"]),
                post("2", author_id="200", refs=["quoted"]),
                # 300 wrote only the context post; 400 is only mentioned
                users=[user("100", 1), user("200", 2), user("300", 3), user("400", 4)],
                tweets=[post("900", author_id="300")],
            )
        ],
    )
    assert obj["stored"] == {"posts": 2, "authors": 2}


def _spread(engine: Engine, tmp_path: Path) -> None:
    pages = [post(str(n), created_at=f"2017-06-{n}T12:00:00Z") for n in range(10, 19)]
    write_jsonl(tmp_path / "spread.jsonl", page(*pages, users=[user("100", 10)]))
    import_files(engine, [tmp_path / "spread.jsonl"])


def test_from_alone_moves_only_the_start(engine: Engine, tmp_path: Path) -> None:
    _spread(engine, tmp_path)
    obj = stats(engine, date_from=D(2017, 6, 14))
    assert [d["date"] for d in obj["days"]] == ["2017-06-14", "2017-06-15", "2017-06-16"]
    assert obj["totals"]["posts"] == 3
    assert obj["campaign"] == {
        "name": "IMHAW17",
        "start": "2017-06-12",
        "end": "2017-06-16",
        "timezone": "Europe/London",
    }
    earlier = stats(engine, date_from=D(2017, 6, 10))
    assert earlier["days"][0]["date"] == "2017-06-10"
    assert earlier["totals"]["posts"] == 7


def test_to_alone_moves_only_the_end(engine: Engine, tmp_path: Path) -> None:
    _spread(engine, tmp_path)
    obj = stats(engine, date_to=D(2017, 6, 13))
    assert [d["date"] for d in obj["days"]] == ["2017-06-12", "2017-06-13"]
    assert obj["totals"]["posts"] == 2
    assert obj["campaign"]["end"] == "2017-06-16"
    later = stats(engine, date_to=D(2017, 6, 18))
    assert (later["days"][-1]["date"], later["totals"]["posts"]) == ("2017-06-18", 7)


def test_from_and_to_give_one_day(engine: Engine, tmp_path: Path) -> None:
    _spread(engine, tmp_path)
    obj = stats(engine, date_from=D(2017, 6, 17), date_to=D(2017, 6, 17))
    assert [d["date"] for d in obj["days"]] == ["2017-06-17"]
    assert obj["totals"] == {
        **{k: v for k, v in obj["days"][0].items() if k != "date"},
        "baseline_progress": 10 / 10_000_000,
    }
    assert obj["stored"]["posts"] == 9


def test_from_after_to_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="starts on 2017-06-15, after it ends on 2017-06-13"):
        stats(engine, date_from=D(2017, 6, 15), date_to=D(2017, 6, 13))


def test_without_a_baseline_baseline_and_progress_are_null(engine: Engine, tmp_path: Path) -> None:
    settings = campaign_settings(D(2017, 6, 12), D(2017, 6, 16), baseline=None)
    obj = imported(engine, tmp_path, [page(post("1"), users=[user("100", 10)])], settings=settings)
    assert obj["baseline"] is None
    assert obj["totals"]["baseline_progress"] is None
    assert obj["totals"]["potential_impressions"] == 10


@pytest.mark.parametrize(
    ("metric", "window_value"),
    [
        ("posts", 3),
        ("contributors", 2),
        ("potential_impressions", 100 + 100 + 40),
        ("potential_reach", 100 + 40),
        ("engagements", 6 + 5),
    ],
)
def test_baseline_progress_is_the_window_value_over_the_baseline_value(
    engine: Engine, tmp_path: Path, metric: str, window_value: int
) -> None:
    baseline = Baseline(label="#IMHAW16", metric=metric, value=8)
    settings = campaign_settings(D(2017, 6, 12), D(2017, 6, 16), baseline=baseline)
    obj = imported(
        engine,
        tmp_path,
        [
            page(
                post("1", metrics=counts(like=6)),
                post("2", created_at="2017-06-13T10:00:00Z", metrics=counts(quote=5)),
                post("3", author_id="200"),
                post("4", created_at="2017-06-20T10:00:00Z", metrics=counts(like=50)),
                users=[user("100", 100), user("200", 40)],
            )
        ],
        settings=settings,
    )
    assert obj["baseline"] == {"label": "#IMHAW16", "metric": metric, "value": 8}
    assert obj["totals"][metric] == window_value
    assert obj["totals"]["baseline_progress"] == window_value / 8
    assert type(obj["totals"]["baseline_progress"]) is float
    assert all("baseline_progress" not in d for d in obj["days"])


def test_the_default_baseline_is_ten_million_potential_impressions(engine: Engine) -> None:
    obj = stats(engine, Settings())
    assert obj["baseline"] == {
        "label": "#IMHAW16",
        "metric": "potential_impressions",
        "value": 10_000_000,
    }
    assert obj["campaign"] == {
        "name": "IMHAW17",
        "start": "2017-06-12",
        "end": "2017-06-16",
        "timezone": "Europe/London",
    }


@pytest.mark.slow
def test_stats_over_years_of_days_work_and_add_up(engine: Engine, fixture_path: Path) -> None:
    # a span of 752 local days (two summer-time changes a year): a query that grew with
    # the number of days would hit SQLite's 500-term compound SELECT limit
    archive = fixture_path / "x-api-v2/twarc2-jsonl"
    import_files(
        engine, [archive / "twarc-network__tweets.jsonl", archive / "twarc2sql__example.jsonl"]
    )
    settings = Settings(campaign=Campaign(start=dt.date(2021, 3, 20), end=dt.date(2023, 4, 10)))
    with engine.connect() as conn:
        obj = stats_object(conn, settings)
    assert len(obj["days"]) == 752
    assert obj["totals"]["posts"] == sum(d["posts"] for d in obj["days"]) == 600
    assert obj["totals"]["potential_impressions"] == sum(
        d["potential_impressions"] for d in obj["days"]
    )


# --- hidden and excluded posts (METRICS.md "Hidden and excluded posts") ----------------------


def _busiest(paths: Sequence[Path], settings: Settings) -> tuple[list[str], list[int]]:
    """Return the usernames of the window's authors, busiest first, and its post ids."""
    zone = ZoneInfo(settings.campaign.timezone)
    names: dict[str, str] = {}
    per_author: dict[str, int] = {}
    ids: list[int] = []
    for item, users in _sightings(paths, False):
        created = _utc(item.get("created_at"))
        if created is None or not (
            settings.campaign.start <= created.astimezone(zone).date() <= settings.campaign.end
        ):
            continue
        author = item.get("author_id")
        if author in users:
            names[author] = users[author]["username"]
            per_author[author] = per_author.get(author, 0) + 1
        if int(item["id"]) not in ids:
            ids.append(int(item["id"]))
    busiest = sorted(per_author, key=lambda a: (-per_author[a], a))
    return [names[a] for a in busiest], ids


def _with_lists(settings: Settings, **lists: Sequence[str]) -> Settings:
    return settings.model_copy(update={"moderation": Moderation(**lists)})


@pytest.mark.parametrize("case", ["search_example_moscow", "brexit_kpop_2sets"])
def test_excluded_posts_and_accounts_count_in_no_figure_as_computed_independently(
    engine: Engine, case: str
) -> None:
    paths, plain = _real(case)
    import_files(engine, paths)
    names, ids = _busiest(paths, plain)
    settings = _with_lists(
        plain,
        # every form a user may write: an address, an id, a handle with odd case and marks
        exclude_posts=(f"https://x.com/someone/status/{ids[-1]}", str(ids[-2])),
        exclude_accounts=(f"https://www.X.com/{names[0].upper()}/?s=20",),
        hide_posts=(str(ids[-2]), str(ids[-3])),  # excluding wins over hiding
        hide_accounts=(f"@{names[1]}",),
    )
    got = stats(engine, settings)
    want = oracle(paths, settings)
    assert got == want
    assert want["totals"]["excluded_posts"] >= 3  # two listed posts and the busiest author's
    assert want["totals"]["hidden_posts"] >= 2
    without = stats(engine, plain)
    assert got["stored"] == without["stored"]  # excluded posts stay stored
    assert got["totals"]["posts"] + got["totals"]["excluded_posts"] == without["totals"]["posts"]
    assert without["totals"]["hidden_posts"] == without["totals"]["excluded_posts"] == 0


def test_hiding_changes_no_figure(engine: Engine) -> None:
    paths, plain = _real("brexit_kpop_2sets")
    import_files(engine, paths)
    names, ids = _busiest(paths, plain)
    hidden = _with_lists(plain, hide_accounts=tuple(names[:3]), hide_posts=(str(ids[0]),))
    got, without = stats(engine, hidden), stats(engine, plain)
    assert got["totals"]["hidden_posts"] > 0
    for obj in (got, without):
        for row in (*obj["days"], obj["totals"]):
            row.pop("hidden_posts")
    assert got == without


def test_an_account_list_never_excludes_posts_without_an_author(
    engine: Engine, tmp_path: Path
) -> None:
    # hand-written: one post without author_id beside one by the excluded account
    pages = [page(post("1", author_id=None), post("2"), users=[user("100", 50, "Spammer")])]
    import_files(engine, [write_jsonl(tmp_path / "a.jsonl", *pages)])
    settings = _with_lists(IMHAW17, exclude_accounts=("spammer",))
    totals = stats(engine, settings)["totals"]
    assert (totals["posts"], totals["excluded_posts"], totals["contributors"]) == (1, 1, 0)

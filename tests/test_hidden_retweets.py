"""Retweets of hidden posts (METRICS.md "Hidden and excluded posts"): "Retweets of a hidden
post are hidden; retweets of an excluded post are not excluded unless they are listed or
their author is."

A hand-made campaign whose retweets point at hidden, excluded and plain posts (some of
them stored, some seen only as context) is imported on SQLite and PostgreSQL; each day's
``hidden_posts`` is checked against a count made here from the posts as built, and every
figure against the independent oracle of tests/test_stats.py.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from monitor.archive import import_files
from monitor.normalize import normalize_page
from monitor.settings import Moderation, Settings
from monitor.store.engine import make_engine
from reports.build import write_daily_report, write_summary_report
from reports.pack import write_pack
from reports.pack_verify import verify_pack
from tests.pages import page, post, user, write_jsonl
from tests.test_moderation import _alnum, _outputs
from tests.test_stats import IMHAW17, oracle, stats

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
DAYS = [dt.date(2017, 6, 12) + dt.timedelta(days=i) for i in range(5)]

# the accounts: (id, username, followers)
ALICE, HIDDEN, SPAMMER, BOB = "100", "101", "102", "103"
RETWEETERS = [str(i) for i in range(104, 120)]
NAMES = {ALICE: "alice", HIDDEN: "hiddenone", SPAMMER: "spammer", BOB: "bob"}
NAMES |= {r: f"fan{r}" for r in RETWEETERS}

# the posts retweeted: id -> (author, marker in its text, stored as a post or context only)
TARGETS = {
    "1001": (ALICE, "HIDEMEALPHA", True),  # in hide_posts
    "1002": (HIDDEN, "HIDDENACCOUNTBETA", True),  # by a hidden account
    "1003": (SPAMMER, "SPAMGAMMA", True),  # by an excluded account
    "1004": (BOB, "EXCLUDEDDELTA", True),  # in exclude_posts
    "1005": (BOB, "BOTHEPSILON", True),  # in exclude_posts and hide_posts: excluded wins
    "1006": (BOB, "PLAINZETA", True),  # in no list
    "1007": (BOB, "UNSTOREDETA", False),  # in hide_posts, only ever seen as context
    "1008": (HIDDEN, "UNSTOREDTHETA", False),  # by a hidden account, author unknown to the store
}
LISTS = Moderation(
    hide_posts=("1001", "https://x.com/bob/status/1005", "1007"),
    hide_accounts=("@HiddenOne",),
    exclude_posts=("1004", "1005"),
    exclude_accounts=("x.com/spammer",),
)
# the retweets' own markers: a hidden retweet's text never reaches any file either
RT_MARKER = "RTSECRET"


def _retweet(rid: str, author: str, target: str, when: dt.datetime) -> dict:
    who, marker, _ = TARGETS[target]
    item = post(
        rid,
        f"RT @{NAMES[who]}: {marker} {RT_MARKER}{rid} #IMHAW17",
        author_id=author,
        created_at=when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        hashtags=["IMHAW17"],
    )
    item["referenced_tweets"] = [{"type": "retweeted", "id": target}]
    return item


def _campaign(tmp_path: Path) -> tuple[Path, list[dict]]:
    """Write the campaign as one JSONL file; return it and the retweets as built."""
    rng = random.Random(1111)
    users = [user(uid, 50 + 37 * i, NAMES[uid]) for i, uid in enumerate(NAMES)]
    originals, context = [], []
    for n, (pid, (author, marker, stored)) in enumerate(TARGETS.items()):
        item = post(
            pid,
            f"{marker} said here #IMHAW17",
            author_id=author,
            created_at=f"2017-06-12T0{n}:30:00.000Z",
            hashtags=["IMHAW17"],
        )
        (originals if stored else context).append(item)
    retweets = []
    for k in range(160):
        # fans mostly; the hidden account and the spammer retweet too
        author = rng.choice([*RETWEETERS, *RETWEETERS, HIDDEN, SPAMMER])
        target = rng.choice(list(TARGETS))
        when = dt.datetime(2017, 6, 12, 9, tzinfo=dt.UTC) + dt.timedelta(
            minutes=rng.randrange(5 * 24 * 60 - 600)
        )
        retweets.append(_retweet(str(5000 + k), author, target, when))
    pages = [page(*originals, users=users, tweets=context)]
    pages += [page(*retweets[i : i + 40], users=users, tweets=context) for i in range(0, 160, 40)]
    return write_jsonl(tmp_path / "campaign.jsonl", *pages), retweets


def _expected_hidden(retweets: list[dict]) -> dict[str, int]:
    """Return the hidden retweets a day, by the rule read straight from METRICS.md: a
    retweet is hidden when the post it retweets is hidden (listed, or a stored post by a
    hidden account, and not excluded: excluding wins), or when it is hidden itself;
    excluded posts are in no count."""
    # 1005 is excluded, so not a hidden post; 1008's author is not stored
    hidden_targets = {"1001", "1002", "1007"}
    out = {d.isoformat(): 0 for d in DAYS}
    for r in retweets:
        if r["author_id"] == SPAMMER:
            continue  # excluded: excluding wins
        target = r["referenced_tweets"][0]["id"]
        if r["author_id"] == HIDDEN or target in hidden_targets:
            day = dt.datetime.fromisoformat(r["created_at"]).astimezone(IMHAW17.campaign.tz)
            out[day.date().isoformat()] += 1
    return out


def _settings() -> Settings:
    return IMHAW17.model_copy(update={"moderation": LISTS})


def test_the_retweeted_post_is_stored_from_the_reference_and_none_otherwise() -> None:
    item = _retweet("5", RETWEETERS[0], "1001", dt.datetime(2017, 6, 12, 9, tzinfo=dt.UTC))
    quote = post("6", refs=["quoted"])
    two = post("7")
    two["referenced_tweets"] = [{"type": "quoted", "id": "8"}, {"type": "retweeted", "id": "9"}]
    bad = post("10")
    bad["referenced_tweets"] = [{"type": "retweeted", "id": "not a number"}]
    records = normalize_page(page(item, quote, two, bad, post("11"))).posts
    assert [(r.kind, r.retweeted_id) for r in records] == [
        ("retweet", "1001"),
        ("quote", None),
        ("retweet", "9"),
        ("retweet", None),
        ("original", None),
    ]


def test_retweets_of_hidden_posts_are_counted_hidden_as_computed_independently(
    engine: Engine, tmp_path: Path
) -> None:
    path, retweets = _campaign(tmp_path)
    import_files(engine, [path])
    settings = _settings()
    got = stats(engine, settings)
    want = _expected_hidden(retweets)
    assert sum(want.values()) > 40  # the fixture has plenty of each kind
    want["2017-06-12"] += 2  # the originals 1001 and 1002 themselves
    assert {d["date"]: d["hidden_posts"] for d in got["days"]} == want
    assert got["totals"]["hidden_posts"] == sum(want.values())
    # every figure as the oracle of tests/test_stats.py computes it from the file
    assert got == oracle([path], settings)
    # retweets of excluded posts are not excluded: only the spammer's own posts and the
    # two listed posts are
    spammer = sum(1 for r in retweets if r["author_id"] == SPAMMER)
    assert got["totals"]["excluded_posts"] == spammer + 3  # 1003, 1004, 1005
    # hiding changes no other figure
    excluding = Moderation(
        exclude_posts=LISTS.exclude_posts, exclude_accounts=LISTS.exclude_accounts
    )
    plain = stats(engine, IMHAW17.model_copy(update={"moderation": excluding}))
    for obj in (got, plain):
        for row in (*obj["days"], obj["totals"]):
            row.pop("hidden_posts")
    assert got == plain


@pytest.mark.slow
def test_hidden_retweets_and_hidden_posts_are_in_no_report_file(
    engine: Engine, tmp_path: Path
) -> None:
    path, retweets = _campaign(tmp_path)
    import_files(engine, [path])
    settings = _settings()
    files = write_summary_report(engine, settings, tmp_path / "out", now=NOW)
    for d in DAYS:
        files += write_daily_report(engine, settings, d, tmp_path / "out", now=NOW)
    shown = _outputs(files)
    assert {n.rsplit(".", 1)[1] for n in shown} >= {"html", "csv", "xlsx", "json", "pdf"}
    secrets = ["HIDEMEALPHA", "HIDDENACCOUNTBETA", "BOTHEPSILON", "UNSTOREDETA", "hiddenone"]
    secrets += ["SPAMGAMMA", "EXCLUDEDDELTA", RT_MARKER]
    for name, body in shown.items():
        for secret in secrets:
            assert secret.casefold() not in _alnum(body).casefold(), (name, secret)
    # the plain post is listed: the check can find what it looks for
    assert any("PLAINZETA" in body for body in shown.values())
    (summary,) = [orjson.loads(p.read_bytes()) for p in files if p.name == "summary-IMHAW17.json"]
    assert summary["coverage"]["hidden_posts"] == summary["figures"]["totals"]["hidden_posts"]
    assert summary["coverage"]["retweets_of_unknown_post"] == 0


@pytest.mark.slow
def test_old_retweets_without_the_retweeted_post_keep_their_figures_and_are_said(
    engine: Engine, tmp_path: Path
) -> None:
    path, retweets = _campaign(tmp_path)
    import_files(engine, [path])
    settings = _settings()
    # as a database written before the column: no retweet knows what it retweets
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET retweeted_id = NULL"))
    got = stats(engine, settings)
    # the retweets of hidden posts are counted as before the rule: only the listed
    # posts and the hidden account's own posts
    by_hidden: dict[str, int] = {d.isoformat(): 0 for d in DAYS}
    for r in retweets:
        if r["author_id"] == HIDDEN:
            day = dt.datetime.fromisoformat(r["created_at"]).astimezone(IMHAW17.campaign.tz)
            by_hidden[day.date().isoformat()] += 1
    by_hidden["2017-06-12"] += 2  # 1001 and 1002
    assert {d["date"]: d["hidden_posts"] for d in got["days"]} == by_hidden
    files = write_summary_report(engine, settings, tmp_path / "out", now=NOW)
    (data,) = [orjson.loads(p.read_bytes()) for p in files if p.suffix == ".json"]
    kept_retweets = sum(1 for r in retweets if r["author_id"] != SPAMMER)
    unknown = data["coverage"]["retweets_of_unknown_post"]
    assert unknown == kept_retweets  # the excluded ones count nowhere
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    assert f"{unknown:,} retweets were stored by an earlier hashmon" in html
    assert "counted as not hidden" in html


def test_a_database_without_the_column_gains_it_and_its_rows_read_as_unknown(
    sqlite_url: str,
) -> None:
    make_engine(sqlite_url).dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:  # as written before the column was added
        db.execute("ALTER TABLE posts DROP COLUMN retweeted_id")
        db.execute(
            "INSERT INTO posts (platform, id, text, kind, hashtags, mentions, first_seen_at, "
            "last_seen_at, sightings) VALUES ('x', '1', 'RT old', 'retweet', '', '', '', '', 1)"
        )
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT kind, retweeted_id FROM posts")).one()
        assert tuple(row) == ("retweet", None)
    finally:
        engine.dispose()


def test_either_database_gains_the_column_on_open(engine: Engine) -> None:
    # SQLite and PostgreSQL: the column dropped, as before it existed, comes back on open
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE posts DROP COLUMN retweeted_id"))
    make_engine(engine.url.render_as_string(hide_password=False)).dispose()
    with engine.connect() as conn:
        cols: Any = conn.execute(text("SELECT retweeted_id FROM posts")).all()
    assert cols == []


@pytest.mark.slow
def test_a_pack_keeps_what_each_retweet_retweets_so_verify_pack_agrees(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path, _ = _campaign(tmp_path)
    import_files(sqlite_engine, [path])
    pack = write_pack(sqlite_engine, _settings(), tmp_path / "out", now=NOW)
    verdict = verify_pack(pack)
    assert verdict.problems == [] and verdict.figures_checked > 0
    assert stats(sqlite_engine, _settings())["totals"]["hidden_posts"] > 40

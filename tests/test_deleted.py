"""Deleted and withheld posts: a refresh that hears "not found" or "not authorized" for a
post marks it gone and erases its text; figures stay, no output shows it (METRICS.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine, select

from monitor.collect import collect_pass
from monitor.errors import SourceError
from monitor.refresh import refresh_metrics
from monitor.settings import Reports, Settings
from monitor.store.engine import snapshot
from monitor.store.schema import Post
from reports.build import write_daily_report, write_summary_report
from reports.stats import stats_object
from tests import reportdata as rd
from tests.xapi import FakeX, faked_x
from tests.xapi import quiet_source as source

PROBLEMS = "https://api.twitter.com/2/problems/"
NOT_FOUND = PROBLEMS + "resource-not-found"
NOT_AUTHORIZED = PROBLEMS + "not-authorized-for-resource"
OTHER = PROBLEMS + "resource-unavailable"
SINCE = dt.datetime(2017, 6, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2017, 6, 13)

# distinctive texts: none is part of another stored post's text
DELETED = "Zqdeletedtextxq our family story"
WITHHELD = "Zqwithheldtextxq a private reply"
KEPT = "Zqotherproblemxq still public"
PLAIN = "Zqplainpostxq nothing happened"


def pages() -> list[dict]:
    at = "2017-06-13T10:0{}:00.000Z"
    posts = [
        rd.post("2001", "102", at.format(1), DELETED, likes=50, retweets=5),
        rd.post("2002", "103", at.format(2), WITHHELD, kind="reply", likes=40),
        rd.post("2003", "102", at.format(3), KEPT, likes=30, quotes=2),
        rd.post("2004", "101", at.format(4), PLAIN, likes=20, impressions=900),
        rd.post("2005", "104", at.format(5), "RT @alice: boosted", kind="retweet"),
        rd.post("2006", None, at.format(6), "no author #IMHAW17", tags=(), likes=1),
    ]
    return [rd.page(posts, rd.USERS)]


@pytest.fixture
def fake():
    with faked_x(pages()) as fx:
        yield fx


def stored(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(Post.id, Post.text, Post.gone_at, Post.gone_reason)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def figures(engine: Engine, settings: Settings) -> dict:
    with snapshot(engine) as conn:
        obj = stats_object(conn, settings)
    return {"days": obj["days"], "totals": obj["totals"]}


def collected(engine: Engine, fake: FakeX, settings: Settings) -> dict:
    collect_pass(engine, source(settings), now=NOW)
    return figures(engine, settings)


def output_text(paths: list[Path]) -> str:
    """Return everything a reader of these files can see, whatever the format."""
    parts = []
    for path in paths:
        if path.suffix == ".pdf":
            parts += [page.extract_text() for page in PdfReader(path).pages]
        elif path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            for sheet in book.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    parts += [str(v) for v in row if v is not None]
        elif path.suffix != ".png":
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


@pytest.mark.slow
def test_not_found_and_not_authorized_mark_the_post_gone_and_erase_its_text(
    engine: Engine, fake: FakeX, tmp_path: Path
) -> None:
    settings = Settings(reports=Reports(top_n=20))
    before = collected(engine, fake, settings)
    fake.lookup_errors = {"2001": NOT_FOUND, "2002": NOT_AUTHORIZED, "2003": OTHER}

    result = refresh_metrics(engine, source(settings), since=SINCE, now=NOW)

    rows = stored(engine)
    assert rows["2001"] == ("", "2017-06-17T09:00:00.000000Z", "deleted")
    assert rows["2002"] == ("", "2017-06-17T09:00:00.000000Z", "withheld")
    # another error, and the posts the API returned, change nothing
    assert rows["2003"] == (KEPT, None, None)
    assert rows["2004"] == (PLAIN, None, None)
    assert result.gone == 2
    assert figures(engine, settings) == before  # posted and seen: still counted

    written = write_summary_report(engine, settings, tmp_path / "summary", now=NOW)
    written += write_daily_report(engine, settings, DAY, tmp_path / "daily", now=NOW)
    shown = output_text(written)
    assert DELETED not in shown and WITHHELD not in shown
    assert KEPT in shown and PLAIN in shown  # the lists still quote live posts
    summary = json.loads(next(p for p in written if p.suffix == ".json").read_text())
    assert summary["coverage"]["gone_posts"] == 2
    assert {p["id"] for p in summary["top_posts"]} == {"2003", "2004", "2006"}
    html = next(p for p in written if p.suffix == ".html")
    assert "2 counted posts have since been deleted or\n    withheld on X" in html.read_text()


def test_a_gone_post_seen_again_later_stays_gone(engine: Engine, fake: FakeX) -> None:
    settings = Settings()
    collected(engine, fake, settings)
    fake.lookup_errors = {"2001": NOT_FOUND}
    refresh_metrics(engine, source(settings), since=SINCE, now=NOW)
    # a later search page delivering it again (an overlapping pass) restores nothing
    collect_pass(engine, source(settings), now=NOW + dt.timedelta(hours=1))
    assert stored(engine)["2001"][0] == ""


def test_a_failed_lookup_changes_nothing(engine: Engine, fake: FakeX) -> None:
    settings = Settings()
    before = collected(engine, fake, settings)
    rows = stored(engine)
    fake.lookup_errors = {"2001": NOT_FOUND}
    fake.fail(len(fake.calls) + 1, (400, {"title": "Invalid Request", "type": "about:blank"}))
    with pytest.raises(SourceError):
        refresh_metrics(engine, source(settings), since=SINCE, now=NOW)
    assert stored(engine) == rows
    assert figures(engine, settings) == before


def test_erased_text_is_not_left_in_the_sqlite_file(
    sqlite_engine: Engine, fake: FakeX, tmp_path: Path
) -> None:
    settings = Settings()
    collected(sqlite_engine, fake, settings)
    database = Path(sqlite_engine.url.database)
    fake.lookup_errors = {"2001": NOT_FOUND, "2002": NOT_AUTHORIZED}
    refresh_metrics(sqlite_engine, source(settings), since=SINCE, now=NOW)
    sqlite_engine.dispose()  # the last connection checkpoints the write-ahead log
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    raw = b"".join(p.read_bytes() for p in files)
    assert KEPT.encode() in raw  # the text is stored as plain bytes: the check can fail
    assert DELETED.encode() not in raw and WITHHELD.encode() not in raw


def test_an_old_database_gains_the_gone_columns(sqlite_url: str) -> None:
    import sqlite3

    from monitor.store.engine import make_engine

    make_engine(sqlite_url).dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:  # as written before the columns were added
        db.execute("ALTER TABLE posts DROP COLUMN gone_at")
        db.execute("ALTER TABLE posts DROP COLUMN gone_reason")
        db.execute(
            "INSERT INTO posts (platform, id, text, kind, hashtags, mentions, first_seen_at, "
            "last_seen_at, sightings) VALUES ('x', '1', 'hello', 'original', '', '', '', '', 1)"
        )
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Post.text, Post.gone_at).where(Post.id == "1")).one()
        assert tuple(row) == ("hello", None)
    finally:
        engine.dispose()

"""refresh-metrics: stored non-retweets looked up again, 100 ids a request, latest counts win."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from jobs import passes
from monitor.budget import month_posts_read
from monitor.collect import collect_pass
from monitor.settings import Settings, X
from monitor.store.schema import CollectionRun, Observation, Post
from tests.xapi import FakeX, faked_x
from tests.xapi import quiet_source as x_source

# the recorded posts were created on 2023-04-07 between 19:17 and 21:40 UTC
AFTER = dt.datetime(2023, 4, 8, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake():
    with faked_x() as fx:
        yield fx


def likes(engine: Engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Post.id, Post.like_count)).all())


def kinds(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Post.id, Post.kind)).all())


def test_refresh_looks_up_non_retweets_100_ids_a_request_and_latest_counts_win(
    engine: Engine, fake: FakeX
) -> None:
    settings = Settings()
    collect_pass(engine, x_source(settings), now=AFTER - dt.timedelta(hours=1))
    before = likes(engine)
    originals = [i for i, k in kinds(engine).items() if k != "retweet"]
    assert 100 < len(originals) < 500  # the recorded chain is mostly retweets

    fake.metric_bump = 5  # every post gained five likes since
    result = passes.refresh_metrics(settings, engine, now=AFTER, source=x_source(settings))

    asked = [c["ids"].split(",") for c in fake.lookup_calls]
    assert [len(a) for a in asked] == [100] * (len(originals) // 100) + [len(originals) % 100]
    assert sorted(i for a in asked for i in a) == sorted(originals)
    assert result.posts_read == len(originals) and result.updated == len(originals)
    after = likes(engine)
    for post_id, count in after.items():
        bumped = post_id in originals
        assert count == (before[post_id] or 0) + 5 if bumped else count == before[post_id]
    with engine.connect() as conn:
        seen = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        run = conn.execute(
            select(CollectionRun.__table__).order_by(CollectionRun.id.desc())
        ).first()
    assert seen == 500 + len(originals)  # appended, one per post looked up
    assert (run.kind, run.status, run.requests, run.posts_read) == (
        "refresh",
        "ok",
        len(asked),
        len(originals),
    )


def test_refresh_reads_only_posts_created_since_the_window(engine: Engine, fake: FakeX) -> None:
    settings = Settings()
    collect_pass(engine, x_source(settings))
    # 72 hours after, nothing is recent enough: no request at all
    late = AFTER + dt.timedelta(hours=72)
    result = passes.refresh_metrics(settings, engine, now=late, source=x_source(settings))
    assert (result.candidates, result.requests) == (0, 0)
    # --since as a local date reaches them again
    result = passes.refresh_metrics(
        settings, engine, dt.date(2023, 4, 7), now=late, source=x_source(settings)
    )
    assert result.candidates > 0 and fake.lookup_calls


def test_refresh_stays_within_the_monthly_cap_newest_first(engine: Engine, fake: FakeX) -> None:
    collect_pass(engine, x_source(Settings()), now=AFTER)
    capped = Settings(x=X(monthly_post_cap=560))  # 500 already read this month: 60 left
    result = passes.refresh_metrics(capped, engine, now=AFTER, source=x_source(capped))
    assert (result.candidates, result.asked) == (146, 60) and result.stopped_early
    asked = fake.lookup_calls[0]["ids"].split(",")
    assert len(fake.lookup_calls) == 1
    with engine.connect() as conn:
        newest = conn.execute(
            select(Post.id)
            .where(Post.kind != "retweet")
            .order_by(Post.created_at_us.desc(), Post.id.desc())
            .limit(60)
        ).scalars()
        assert asked == list(newest)
    assert month_posts_read(engine, AFTER) == 560

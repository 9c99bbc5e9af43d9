"""The X source: tweepy's real client over faked HTTP, with recorded bodies and headers."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import requests
import responses

from monitor.errors import ConfigError, PassStopped, SourceError
from monitor.settings import Campaign, Settings, X
from monitor.sources.base import SinceIdTooOld
from monitor.sources.x import (
    EXPANSIONS,
    TOKEN_ENV,
    TWEET_FIELDS,
    USER_FIELDS,
    XArchiveSource,
    XSource,
    build_query,
)
from monitor.sources.x_http import XResponse, has_long_number
from tests.xapi import (
    FIXTURES,
    FORBIDDEN,
    SEARCH_ALL,
    SEARCH_RECENT,
    TOKEN,
    UNAUTHORIZED,
    USAGE_CAPPED,
    FakeX,
    read_pages,
    serve_recorded_chain,
)


def settings(**x: object) -> Settings:
    return Settings(x=X(**{"max_retries": 3, "request_timeout_seconds": 7.5, **x}))


class Sleeps(list):
    """A sleep that records how long it was asked to wait, and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake(rsps: responses.RequestsMock) -> FakeX:
    fx = FakeX(read_pages())
    fx.register(rsps)
    return fx


def source(fake_sleep: Sleeps | None = None, **x: object) -> XSource:
    sleep = Sleeps() if fake_sleep is None else fake_sleep
    return XSource(settings(**x), TOKEN, sleep=sleep, clock=lambda: 1_000_000.0)


# --- query and token ----------------------------------------------------------------


def test_query_joins_hashtags_and_accounts_with_or_whatever_marks_they_come_with() -> None:
    campaign = Campaign(hashtags=("IMHAW17", "#BeginBeforeBirth"), accounts=("@first1001days",))
    assert build_query(campaign) == "(#IMHAW17 OR #BeginBeforeBirth OR @first1001days)"
    assert build_query(Campaign()) == "(#IMHAW17 OR @first1001days)"
    assert build_query(Campaign(hashtags=("#IMHAW17",), accounts=())) == "#IMHAW17"


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError) as err:
        XSource(Settings())
    assert TOKEN_ENV in str(err.value)
    assert err.value.exit_code == 2


def test_the_token_comes_from_the_environment(monkeypatch, rsps: responses.RequestsMock) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    calls = serve_recorded_chain(rsps, read_pages())
    next(iter(XSource(Settings()).search()))
    assert calls and rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


# --- search -------------------------------------------------------------------------


def test_search_follows_the_recorded_next_token_chain_newest_first(
    rsps: responses.RequestsMock,
) -> None:
    pages = read_pages()
    calls = serve_recorded_chain(rsps, pages)
    got = list(source().search())
    # the five recorded pages, then the empty page that ends the chain
    assert got[:5] == pages
    assert got[5] == {"meta": {"result_count": 0}}
    assert [c.get("next_token") for c in calls] == [None] + [p["meta"]["next_token"] for p in pages]
    first = calls[0]
    assert first["query"] == "(#IMHAW17 OR @first1001days)"
    assert first["max_results"] == "100"
    assert first["tweet.fields"].split(",") == TWEET_FIELDS
    assert first["expansions"].split(",") == EXPANSIONS
    assert first["user.fields"].split(",") == USER_FIELDS
    assert "since_id" not in first and "until_id" not in first


def test_every_request_carries_the_configured_timeout(rsps: responses.RequestsMock) -> None:
    serve_recorded_chain(rsps, read_pages())
    list(source().search())
    assert {c.request.req_kwargs["timeout"] for c in rsps.calls} == {7.5}


def test_since_id_and_until_id_bound_the_search(fake: FakeX) -> None:
    ids = fake.visible()
    pages = list(source().search(since_id=ids[250], until_id=ids[40]))
    got = [p["id"] for page in pages for p in page.get("data", [])]
    assert got == ids[41:250]
    assert fake.search_calls[0]["since_id"] == ids[250]
    assert fake.search_calls[0]["until_id"] == ids[40]


def test_a_since_id_older_than_the_window_raises_since_id_too_old(fake: FakeX) -> None:
    ids = fake.visible()
    fake.window_floor = ids[100]
    with pytest.raises(SinceIdTooOld):
        list(source().search(since_id=ids[300]))


def test_an_until_id_older_than_the_window_means_nothing_below_it(fake: FakeX) -> None:
    ids = fake.visible()
    fake.window_floor = ids[100]
    assert list(source().search(until_id=ids[300])) == []


# --- faults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        503,
        500,
        (502, "<html><body>Bad gateway</body></html>"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ConnectionError("connection reset by peer"),
        "<html>Over capacity</html>",  # a 200 whose body is not JSON
    ],
    ids=["503", "500", "502-html", "read-timeout", "connect-timeout", "reset", "200-not-json"],
)
def test_transient_faults_are_retried_with_backoff(fake: FakeX, fault: object) -> None:
    fake.fail(2, fault)
    fake.fail(3, fault)
    sleeps = Sleeps()
    src = source(sleeps)
    pages = list(src.search())
    assert sum(len(p.get("data", [])) for p in pages) == 500
    assert src.requests == 5 + 2
    assert sleeps == [1.0, 2.0]  # exponential


def test_backoff_is_bounded_and_retries_end_in_one_clear_error(fake: FakeX) -> None:
    for call in range(1, 20):
        fake.fail(call, 503)
    sleeps = Sleeps()
    src = source(sleeps, max_retries=8, max_wait_seconds=10)
    with pytest.raises(SourceError) as err:
        list(src.search())
    assert src.requests == 9
    assert sleeps == [1, 2, 4, 8, 10, 10, 10, 10]
    assert "9 times in a row" in str(err.value) and "\n" not in str(err.value)


def test_an_unreachable_api_is_named_once_per_pass_with_its_host(fake: FakeX, caplog) -> None:
    # two requests of one pass each fail twice to connect, then go through
    for call in (1, 2, 4, 5):
        fake.fail(call, requests.exceptions.ConnectionError("connection refused"))
    src = source(Sleeps())
    with caplog.at_level(logging.WARNING, logger="monitor.sources.x"):
        pages = list(src.search())
    assert sum(len(p.get("data", [])) for p in pages) == 500
    assert [r.getMessage() for r in caplog.records] == [
        "X API: cannot connect to api.twitter.com; retrying quietly, up to 3 times"
    ]


def test_a_fault_is_named_at_once_and_retried_quietly(fake: FakeX, caplog) -> None:
    for call in range(1, 5):
        fake.fail(call, requests.exceptions.ReadTimeout("read timed out"))
    sleeps = Sleeps()
    src = source(sleeps, max_retries=2)
    with (
        caplog.at_level(logging.INFO, logger="monitor.sources.x"),
        pytest.raises(SourceError) as err,
    ):
        list(src.search())
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # at the default verbosity: one line, on the first failure, naming the fault
    assert warnings == [
        "X API: no response within [x] request_timeout_seconds; retrying quietly, up to 2 times"
    ]
    assert caplog.records[0].getMessage() == warnings[0]
    # with -v: each retry
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "X API: no response within [x] request_timeout_seconds; retry 1 of 2 in 1 s",
        "X API: no response within [x] request_timeout_seconds; retry 2 of 2 in 2 s",
    ]
    assert str(err.value) == (
        "X API failed 3 times in a row, last: no response within [x] "
        "request_timeout_seconds; the next pass resumes where this one stopped"
    )
    assert src.requests == 3 and sleeps == [1.0, 2.0]


def test_no_retries_configured_means_one_request(fake: FakeX) -> None:
    fake.fail(1, 503)
    sleeps = Sleeps()
    src = source(sleeps, max_retries=0)
    with pytest.raises(SourceError, match="failed 1 times in a row"):
        list(src.search())
    assert src.requests == 1 and sleeps == []


def test_a_rate_limit_waits_until_x_rate_limit_reset(fake: FakeX) -> None:
    # the reset header of a real recorded response, against a clock 100 s before it
    reset = int(fake.rate_limit_headers["x-rate-limit-reset"])
    fake.fail(
        2,
        (
            429,
            {"title": "Too Many Requests", "detail": "Too Many Requests"},
            {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
        ),
    )
    sleeps = Sleeps()
    src = XSource(settings(), TOKEN, sleep=sleeps, clock=lambda: reset - 100.0)
    pages = list(src.search())
    assert sum(len(p.get("data", [])) for p in pages) == 500
    assert sleeps == [101.0]


def test_a_rate_limit_resetting_beyond_max_wait_stops_without_sleeping(fake: FakeX) -> None:
    fake.fail(1, (429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "1003600"}))
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="rate limit"):
        list(source(sleeps, max_wait_seconds=900).search())
    assert sleeps == []


def test_the_monthly_usage_cap_is_not_a_rate_limit_and_is_not_retried(fake: FakeX) -> None:
    fake.fail(1, (429, USAGE_CAPPED, {"x-rate-limit-reset": "1000010"}))
    sleeps = Sleeps()
    src = source(sleeps)
    with pytest.raises(SourceError) as err:
        list(src.search())
    assert "usage cap" in str(err.value)
    assert src.requests == 1 and sleeps == []


def test_401_is_one_clear_line_about_the_token(fake: FakeX) -> None:
    fake.fail(1, (401, UNAUTHORIZED))
    src = source()
    with pytest.raises(SourceError) as err:
        list(src.search())
    message = str(err.value)
    assert TOKEN_ENV in message and "401" in message and "\n" not in message
    assert TOKEN not in message
    assert err.value.exit_code == 1
    assert src.requests == 1


def test_403_is_one_clear_line_about_the_access_level(fake: FakeX) -> None:
    fake.fail(1, (403, FORBIDDEN))
    with pytest.raises(SourceError) as err:
        list(source().search())
    assert "access level" in str(err.value) and "403" in str(err.value)


# --- budget, lookup, full archive ---------------------------------------------------


def test_the_budget_shrinks_the_last_page_and_stops_before_the_cap(fake: FakeX) -> None:
    src = source()
    src.budget = 230
    pages = []
    with pytest.raises(PassStopped, match="monthly post cap"):
        for page in src.search():
            pages.append(page)
    assert [c["max_results"] for c in fake.search_calls] == ["100", "100", "30"]
    assert src.posts_read == 230


def test_lookup_asks_100_ids_a_request_with_the_search_fields(fake: FakeX) -> None:
    ids = fake.visible()[:250]
    pages = list(source().lookup(ids))
    assert [len(c["ids"].split(",")) for c in fake.lookup_calls] == [100, 100, 50]
    assert fake.lookup_calls[0]["tweet.fields"].split(",") == TWEET_FIELDS
    assert sum(len(p["data"]) for p in pages) == 250


def test_backfill_searches_the_full_archive_between_local_midnights(fake: FakeX) -> None:
    src = XArchiveSource(
        settings(full_archive=True),
        dt.date(2017, 6, 12),
        dt.date(2017, 6, 16),
        TOKEN,
        sleep=Sleeps(),
        now=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
    )
    list(src.search())
    first = fake.search_calls[0]
    assert fake.calls[0][0].endswith("/2/tweets/search/all")
    # Europe/London is on summer time (UTC+1) in June
    assert first["start_time"] == "2017-06-11T23:00:00Z"
    assert first["end_time"] == "2017-06-16T23:00:00Z"
    assert first["max_results"] == "500"
    assert src.name == "x:all:2017-06-12:2017-06-16"
    assert SEARCH_ALL != SEARCH_RECENT


# --- the response parser ----------------------------------------------------------------


def _response(body: bytes) -> XResponse:
    response = requests.Response()
    response._content = body
    response.status_code = 200
    response.__class__ = XResponse
    return response


def test_every_recorded_page_parses_as_the_standard_parser_reads_it() -> None:
    lines = [
        line
        for path in sorted((FIXTURES / "twarc2-jsonl").glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
        if line.startswith(b"{") and _json_or_none(line) is not None
    ]
    assert len(lines) > 20
    for line in lines:
        assert _response(line).json() == json.loads(line)


def _json_or_none(line: bytes) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None  # the stream file's one line that is not JSON


@pytest.mark.parametrize(
    "body",
    [
        rb'{"data": [{"id": "1", "text": "half an emoji \ud83d"}]}',  # a lone surrogate
        b'{"meta": {"result_count": 123456789012345678901234567890}}',  # past 64 bits
        b'{"meta": {"newest": [-9300000000000000000]}}',  # past 64 bits, signed
        b"18446744073709551616",  # a document that is one number
        b'{"a": [1,\n\t -99999999999999999999]}',  # after a comma, spaces and a minus
        '{"data": [{"text": "caf\u00e9"}]}'.encode("utf-16"),  # not UTF-8
        b'{"meta": {"score": NaN}}',  # a literal JSON does not have
    ],
    ids=["lone-surrogate", "big-number", "big-negative", "one-number", "spaced", "utf-16", "nan"],
)
def test_what_orjson_refuses_is_read_by_requests_own_parser(body: bytes) -> None:
    expected = requests.Response.json(_response(body))
    assert repr(_response(body).json()) == repr(expected)  # repr: NaN equals no NaN


def test_only_numbers_of_19_digits_or_more_go_to_the_standard_parser() -> None:
    assert has_long_number(b'{"n": 1234567890123456789}')
    assert has_long_number(b"[0, 1234567890123456789012]")
    assert not has_long_number(b'{"n": 123456789012345678}')  # 18 digits: orjson is exact
    # X's ids are strings of 19 digits: a page full of them is still orjson's
    assert not has_long_number(b'{"id": "1234567890123456789", "author_id": "9876543210987654321"}')
    page = (FIXTURES / "pages" / "search_recent__kpop__2021-09-22.json").read_bytes()
    assert not has_long_number(page)


def test_a_body_that_is_not_json_fails_as_requests_fails() -> None:
    with pytest.raises(requests.exceptions.JSONDecodeError):
        _response(b"<html>Bad gateway</html>").json()

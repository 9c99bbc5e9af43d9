"""`normalize_page`: one raw X API v2 page (or stream line, or flattened post) -> records.

Arranged with every page of every recorded twarc2 file, and with small hand-written
pages (from tests/pages.py) where one rule of METRICS.md needs isolating.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from monitor.normalize import PageError, normalize_page
from monitor.words_in_text import PLANES_WITH_MARKS, mark_ranges
from tests.pages import counts, page, post, user, without

FIXTURES = Path(__file__).parent / "fixtures" / "x-api-v2"
JSONL = FIXTURES / "twarc2-jsonl"
POST_FILES = sorted(
    p.name
    for p in JSONL.glob("*.jsonl")
    if p.name not in ("twarc-csv__users.jsonl", "twarc-csv__counts.jsonl")
)


def lines(name: str) -> list[dict]:
    """Every line of a recorded file that is JSON (the stream file has one that is not)."""
    out = []
    for raw in (JSONL / name).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return out


def data_items(obj: dict) -> list[dict]:
    """The posts a line delivers, read straight from the raw JSON."""
    if "data" not in obj:
        return [obj]  # a flattened line is its own post
    data = obj["data"]
    return [data] if isinstance(data, dict) else data


def as_read(text: str) -> str:
    """X's text with the three entities X encodes (&amp; &lt; &gt;) decoded once."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def us(text: str) -> int:
    """UTC epoch milliseconds of an ISO 8601 time that carries its offset."""
    since = dt.datetime.fromisoformat(text) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return since.days * 86_400_000_000 + since.seconds * 1_000_000 + since.microseconds


# --- real recorded pages ------------------------------------------------------------------


@pytest.mark.parametrize("name", POST_FILES)
def test_every_recorded_page_yields_exactly_the_posts_of_its_data(name: str) -> None:
    for number, obj in enumerate(lines(name), 1):
        items = data_items(obj)
        records = normalize_page(obj)
        assert [p.id for p in records.posts] == [i["id"] for i in items], (name, number)
        assert records.non_posts == 0


@pytest.mark.parametrize("name", POST_FILES)
def test_every_recorded_page_gets_author_followers_and_counts_from_its_own_json(
    name: str,
) -> None:
    for obj in lines(name):
        if "data" in obj:
            users = {u["id"]: u for u in (obj.get("includes") or {}).get("users") or []}
        else:
            users = {obj["author"]["id"]: obj["author"]}
        items = {i["id"]: i for i in data_items(obj)}
        for record in normalize_page(obj).posts:
            item = items[record.id]
            followers = (users.get(item["author_id"]) or {}).get("public_metrics")
            want = followers["followers_count"] if followers else None
            assert record.author_followers == want, record.id
            assert record.author_id == item["author_id"]
            assert record.text == as_read(item["text"])
            assert record.created_at_us == us(item["created_at"])
            pm = item.get("public_metrics") or {}
            got = (record.like_count, record.retweet_count, record.reply_count)
            assert got == (pm.get("like_count"), pm.get("retweet_count"), pm.get("reply_count"))
            assert (record.quote_count, record.impression_count) == (
                pm.get("quote_count"),
                pm.get("impression_count"),
            )


@pytest.mark.parametrize("name", POST_FILES)
def test_normalizing_never_mutates_the_page(name: str) -> None:
    for obj in lines(name):
        before = copy.deepcopy(obj)
        normalize_page(obj)
        assert obj == before


@pytest.mark.parametrize("name", ["twarc2sql__search_example.jsonl", "twarc-network__tweets.jsonl"])
def test_context_posts_in_includes_tweets_never_become_posts(name: str) -> None:
    context_only = 0
    for obj in lines(name):
        ids = {p.id for p in normalize_page(obj).posts}
        data_ids = {i["id"] for i in obj["data"]}
        context = {t["id"] for t in obj["includes"]["tweets"]} - data_ids
        assert ids == data_ids
        assert not ids & context
        context_only += len(context)
    assert context_only > 0


def test_stream_lines_deliver_their_one_post() -> None:
    stream = lines("twarc-csv__streaming_output_with_error.jsonl")
    assert len(stream) == 7
    for obj in stream:
        assert isinstance(obj["data"], dict)
        (record,) = normalize_page(obj).posts
        assert record.id == obj["data"]["id"]
        author = next(u for u in obj["includes"]["users"] if u["id"] == obj["data"]["author_id"])
        assert record.author_followers == author["public_metrics"]["followers_count"]


def test_flattened_lines_take_the_inline_author_and_ignore_inlined_references() -> None:
    flat = lines("twarc-csv__flat.jsonl")
    assert len(flat) == 100
    for obj in flat:
        records = normalize_page(obj)
        assert [p.id for p in records.posts] == [obj["id"]]
        assert (
            records.posts[0].author_followers == obj["author"]["public_metrics"]["followers_count"]
        )
        assert [a.id for a in records.authors] == [obj["author"]["id"]]


def test_flattened_and_page_forms_of_the_same_posts_normalize_alike() -> None:
    flat = {}
    for obj in lines("twarc-csv__flat.jsonl"):
        (record,) = normalize_page(obj).posts
        flat[record.id] = record
    (noflat,) = lines("twarc-csv__noflat.jsonl")
    paged = {r.id: r for r in normalize_page(noflat).posts}
    assert paged == flat


def test_users_and_counts_archives_give_no_posts() -> None:
    (users,) = lines("twarc-csv__users.jsonl")
    records = normalize_page(users)
    assert records.posts == []
    assert records.non_posts == 96
    assert records.non_post_kind == "users"
    (count_page,) = lines("twarc-csv__counts.jsonl")
    records = normalize_page(count_page)
    assert (records.posts, records.non_posts, records.non_post_kind) == ([], 169, "tweet counts")


def test_tweepy_default_shape_posts_have_no_author_and_no_created_at() -> None:
    body = json.loads((FIXTURES / "tweepy-cassettes" / "get_tweet.json").read_text())
    (record,) = normalize_page(body).posts
    assert record.id == "1293593516040269825"
    assert (record.author_id, record.created_at_us, record.author_followers) == (None, None, None)
    assert record.like_count is None
    assert "twitterapi" in record.hashtags.split()  # no entities: matched on the text


def test_twarc_metadata_is_ignored() -> None:
    obj = lines("twarc-csv__two_tweets.jsonl")[0]
    assert "__twarc" in obj
    assert normalize_page(obj) == normalize_page(without(obj, "__twarc"))


def test_followers_are_none_when_the_page_has_no_user_public_metrics() -> None:
    # entities_test: 612 users, none with public_metrics (the request did not ask for it)
    (obj,) = lines("twarc-csv__entities_test.jsonl")
    records = normalize_page(obj)
    assert len(records.posts) == 474
    assert all(p.author_followers is None for p in records.posts)
    assert all(a.followers_count is None for a in records.authors)


def test_followers_are_none_when_the_author_is_missing_from_includes() -> None:
    # withheld.jsonl: six posts whose author the API left out of includes.users
    missing = 0
    for obj in lines("twarc-csv__withheld.jsonl"):
        users = {u["id"] for u in obj["includes"].get("users", [])}
        for record in normalize_page(obj).posts:
            if record.author_id not in users:
                missing += 1
                assert record.author_followers is None
    assert missing == 6


def test_real_replies_that_quote_are_replies() -> None:
    (obj,) = lines("twarc-csv__quoted_edit.jsonl")
    assert [r["type"] for r in obj["data"][0]["referenced_tweets"]] == ["quoted", "replied_to"]
    assert normalize_page(obj).posts[0].kind == "reply"


# --- pages that hold no posts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        {"meta": {"result_count": 0}},
        {"errors": [{"title": "Not Found Error", "resource_type": "tweet", "value": "1"}]},
        {"data": [], "meta": {"result_count": 0}},
        {"data": None},
        {},
    ],
    ids=["only-meta", "only-errors", "empty-data", "null-data", "empty-object"],
)
def test_a_page_without_data_holds_no_posts(obj: dict) -> None:
    records = normalize_page(obj)
    assert (records.posts, records.authors, records.non_posts) == ([], [], 0)


@pytest.mark.parametrize(
    "obj",
    [
        [{"data": []}],
        "text",
        42,
        None,
        {"data": "text"},
        {"data": 3},
        {"data": [{"id": "x1", "text": "a"}]},
    ],
    ids=["array", "string", "number", "null", "data-string", "data-number", "non-numeric-id"],
)
def test_a_value_that_is_not_a_usable_page_raises_page_error(obj: object) -> None:
    with pytest.raises(PageError):
        normalize_page(obj)


def test_data_items_that_are_not_posts_are_counted_apart() -> None:
    obj = page(post("1"), {"id": "2", "username": "someone"}, {"text": "no id"})
    records = normalize_page(obj)
    assert [p.id for p in records.posts] == ["1"]
    assert records.non_posts == 2


# --- kind -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refs", "kind"),
    [
        ([], "original"),
        (["retweeted"], "retweet"),
        (["replied_to"], "reply"),
        (["quoted"], "quote"),
        (["quoted", "replied_to"], "reply"),
        (["replied_to", "quoted"], "reply"),
        (["quoted", "retweeted"], "retweet"),
        (["replied_to", "retweeted"], "retweet"),
        (["retweeted", "replied_to", "quoted"], "retweet"),
    ],
)
def test_kind_follows_precedence_whatever_the_array_order(refs: list[str], kind: str) -> None:
    (record,) = normalize_page(page(post("1", refs=refs))).posts
    assert record.kind == kind


def test_referenced_tweets_null_is_an_original() -> None:
    item = {**post("1"), "referenced_tweets": None}
    assert normalize_page(page(item)).posts[0].kind == "original"


# --- author followers and counts ------------------------------------------------------------


def test_author_followers_come_from_the_pages_includes_users() -> None:
    obj = page(post("1"), post("2", author_id="200"), users=[user("100", 42), user("200", 0)])
    records = normalize_page(obj)
    assert [p.author_followers for p in records.posts] == [42, 0]
    assert sorted((a.id, a.followers_count) for a in records.authors) == [("100", 42), ("200", 0)]


def test_author_followers_are_none_without_user_or_public_metrics() -> None:
    obj = page(
        post("1"), post("2", author_id="200"), post("3", author_id=None), users=[user("200")]
    )
    assert [p.author_followers for p in normalize_page(obj).posts] == [None, None, None]


def test_missing_public_metrics_leave_counts_unknown_not_zero() -> None:
    records = normalize_page(
        page(
            post("1", metrics=None),
            post("2", metrics={"like_count": 3}),
            post("3", metrics=counts()),
        )
    )
    values = [
        (p.like_count, p.retweet_count, p.reply_count, p.quote_count, p.impression_count)
        for p in records.posts
    ]
    assert values == [
        (None, None, None, None, None),
        (3, None, None, None, None),
        (0, 0, 0, 0, None),
    ]


# --- created_at -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2017-06-12T09:30:00.000Z", "2017-06-12T09:30:00+00:00"),
        ("2017-06-12T09:30:00Z", "2017-06-12T09:30:00+00:00"),
        ("2017-06-12T10:30:00+01:00", "2017-06-12T09:30:00+00:00"),
        ("2017-06-12T04:30:00-05:00", "2017-06-12T09:30:00+00:00"),
        ("2017-06-12T09:30:00", "2017-06-12T09:30:00+00:00"),
        ("2017-06-12T09:30:00.123", "2017-06-12T09:30:00.123+00:00"),
    ],
)
def test_created_at_with_z_an_offset_or_none_is_utc(value: str, utc: str) -> None:
    (record,) = normalize_page(page(post("1", created_at=value))).posts
    assert record.created_at_us == us(utc)


@pytest.mark.parametrize("value", ["yesterday", "", "2017-13-45T00:00:00Z", 1497259800, None])
def test_an_unusable_created_at_is_none(value: object) -> None:
    item = {**post("1"), "created_at": value}
    (record,) = normalize_page(page(item)).posts
    assert record.created_at_us is None


# --- hashtags and mentions ------------------------------------------------------------------


def test_entity_terms_are_casefolded() -> None:
    (record,) = normalize_page(
        page(post("1", hashtags=["IMHAW17", "Straße"], mentions=["First1001Days"]))
    ).posts
    assert set(record.hashtags.split()) == {"imhaw17", "strasse"}
    assert record.mentions.split() == ["first1001days"]


@pytest.mark.parametrize("entities", ["missing", "null"])
def test_without_entities_terms_come_from_the_text_on_word_boundaries(entities: str) -> None:
    text = "#IMHAW17 a#glued #tagx_y @First1001Days me@mail.org (#Ünï) #imhaw17é."
    item = post("1", text)
    item = without(item, "entities") if entities == "missing" else {**item, "entities": None}
    (record,) = normalize_page(page(item)).posts
    assert set(record.hashtags.split()) == {"imhaw17", "tagx_y", "ünï", "imhaw17é"}
    assert record.mentions.split() == ["first1001days"]


def test_text_terms_keep_combining_marks_inside_the_word() -> None:
    # a Devanagari or Tamil vowel sign, or a decomposed accent, is a Unicode word
    # character (a mark): the tag runs to the end of the word
    item = without(post("1", "जय #भारत, வாழ்க #தமிழ் and #cafe\u0301!"), "entities")
    (record,) = normalize_page(page(item)).posts
    assert set(record.hashtags.split()) == {"भारत", "தமிழ்", "cafe\u0301"}


def test_entities_without_hashtags_mean_none_even_if_the_text_has_some() -> None:
    text = "#IMHAW17 @first1001days"
    records = normalize_page(
        page(
            post("1", text, entities={"urls": []}),
            post("2", text, entities={"hashtags": None, "mentions": None}),
            post("3", text, hashtags=None, mentions=["first1001days"]),
        )
    ).posts
    assert [(r.hashtags.split(), r.mentions.split()) for r in records] == [
        ([], []),
        ([], []),
        ([], ["first1001days"]),
    ]


# --- text as a person reads it (issue 11.1) -----------------------------------------------


def test_the_entities_x_encodes_are_decoded_once_in_a_recorded_page() -> None:
    raw = json.loads((FIXTURES / "pages" / "search_recent__kpop__2021-09-22.json").read_text())
    encoded = [i for i in raw["data"] if "&amp;" in i["text"] or "&lt;" in i["text"]]
    assert encoded  # the recording holds posts X sent with encoded entities
    texts = {r.id: r.text for r in normalize_page(raw).posts}
    for item in encoded:
        got = texts[item["id"]]
        assert "&amp;" not in got and "&lt;" not in got and "&gt;" not in got
        assert got == as_read(item["text"])
    jimin = next(i for i in raw["data"] if "#kpop &amp; #kdrama" in i["text"])
    assert "follow for #kpop & #kdrama updates" in texts[jimin["id"]]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("Genocide &amp; ethnic cleansing", "Genocide & ethnic cleansing"),
        ("a &lt;b&gt; c", "a <b> c"),
        ("&amp;lt; stays one level: &amp;amp;", "&lt; stays one level: &amp;"),
        (
            "&quot;x&quot; &#39;y&#39; &nbsp; & alone &amp",
            "&quot;x&quot; &#39;y&#39; &nbsp; & alone &amp",
        ),
        ("no entity at all", "no entity at all"),
    ],
)
def test_only_the_three_entities_x_encodes_are_decoded_and_only_once(sent: str, read: str) -> None:
    flat = {"id": "7", "text": sent, "author": {"id": "1", "username": "u"}}
    assert normalize_page(page(post("7", sent))).posts[0].text == read
    assert normalize_page(flat).posts[0].text == read  # a flattened line too


def test_text_of_another_platform_is_kept_as_sent() -> None:
    assert normalize_page(page(post("7", "a &amp; b")), platform="other").posts[0].text == (
        "a &amp; b"
    )


# --- verified accounts (METRICS.md "Shareable outputs": a public account) -------------


def test_the_verified_mark_of_a_recorded_user_is_kept_and_an_unsaid_one_is_unknown() -> None:
    raw = json.loads(
        (FIXTURES / "pages" / "tweets_lookup__verified_type__2022-12.json").read_text()
    )
    users = raw["includes"]["users"]
    assert users[0]["verified_type"] == "business"  # what the recording says
    authors = {a.id: a for a in normalize_page(raw).authors}
    assert authors[users[0]["id"]].verified is True
    page = {
        "data": [
            {"id": str(n), "text": "#IMHAW17", "author_id": uid}
            for n, uid in enumerate(["1", "2", "3", "4"], start=10)
        ],
        "includes": {
            "users": [
                {"id": "1", "username": "a", "verified": True},  # the old flag alone
                {"id": "2", "username": "b", "verified": True, "verified_type": "none"},
                {"id": "3", "username": "c", "verified": False, "verified_type": "none"},
                {"id": "4", "username": "d"},  # not said: unknown, not "not verified"
            ]
        },
    }
    got = {a.id: a.verified for a in normalize_page(page).authors}
    assert got == {"1": True, "2": True, "3": False, "4": None}


def test_every_combining_mark_of_this_pythons_unicode_is_in_the_planes_scanned() -> None:
    # the word class of #tags and @names in text scans only the planes that can hold
    # marks; all seventeen, scanned here, give the same ranges (on this Unicode version)
    assert mark_ranges(tuple(range(17))) == mark_ranges(PLANES_WITH_MARKS)
    ranges = mark_ranges((0,))
    assert any(a <= 0x093E <= b for a, b in ranges)  # "भारत": its vowel sign aa, a mark
    assert not any(a <= 0x092D <= b for a, b in ranges)  # its consonant bha, a letter

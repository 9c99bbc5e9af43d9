"""Hostile and broken input: generated API pages and archive files, valid and corrupted,
through ``import`` and ``collect``, on SQLite and PostgreSQL.

Property-based (hypothesis, derandomised so CI sees the same examples every run;
``HASHMON_LONG=1`` runs five times as many, ``make quick`` a fifth). What must hold
whatever the input:

- import: never a traceback; a refused file is named, with the line when one line is
  at fault, and nothing from it is stored (every table as it was); a file of valid
  pages stores exactly its posts, content from the first sighting;
- collect: a live pass never stops on an item it cannot use: it skips it, stores every
  usable post, and moves on; a body that is not a usable page fails the pass (one line)
  without moving the checkpoint past unread posts, and the next pass gets them all.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from jobs.cli import main
from monitor.archive import import_files
from monitor.collect import collect_pass
from monitor.config import DEFAULTS_NOTICE
from monitor.errors import HashmonError, ImportFileError
from monitor.settings import Settings, X
from monitor.sources.base import Page, Source
from monitor.sources.x import XSource
from monitor.store.engine import make_engine
from monitor.store.runs import read_checkpoint
from tests.fakex import FakeXServer
from tests.pages import dump_tables
from tests.xapi import TOKEN, FakeX, read_pages

# example counts come from the profile tests/conftest.py loads (50, 10 quick, 250 long)
EXAMPLES = settings.default.max_examples
FEW = max(1, EXAMPLES * 2 // 5)  # examples that each run a whole pass over HTTP
PROPERTY = settings(
    derandomize=True,
    database=None,  # the same examples every run, nothing written into the work tree
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil")',
    "\u202egnp.exe",
    "nul\x00byte",
    "x" * 20_000,
    "\ud7ff\ue000\U0010ffff",
    "",
]

# --- strategies -----------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=19)
valid_ids = st.integers(min_value=1, max_value=2**63 - 1).map(str)
any_ids = st.one_of(
    digits,
    st.text(alphabet="0123456789", min_size=20, max_size=90),  # ids of any length
    st.integers(min_value=-3, max_value=2**70),
    st.sampled_from(["", "12a", "-1", "1.5", "\uff11\uff12", " 12", "0x1f", "1e3"]),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just([]),
    st.just({}),
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE_TEXT),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)
counts = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=-10, max_value=2**70),
    st.text(max_size=4),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
metric_keys = st.sampled_from(
    ["like_count", "retweet_count", "reply_count", "quote_count", "impression_count", "x"]
)
public_metrics = st.one_of(
    st.none(), st.dictionaries(metric_keys, counts, max_size=5), st.text(max_size=3)
)
created = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2017-06-12T10:00:00.000Z",
            "2017-06-12T23:30:00+01:00",
            "2017-06-12T10:00:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2017-13-45T99:00:00Z",
            "yesterday",
        ]
    ),
    st.text(max_size=12),
    st.integers(),
)
# arbitrary JSON, nested, for unknown fields and wrong types
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
entities = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "hashtags": st.one_of(
                st.none(),
                st.lists(st.one_of(st.fixed_dictionaries({"tag": texts}), json_values), max_size=3),
            ),
            "mentions": st.lists(
                st.one_of(st.fixed_dictionaries({"username": texts}), json_values), max_size=3
            ),
        },
    ),
    json_values,
)
refs = st.one_of(
    st.none(),
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["retweeted", "quoted", "replied_to", "zzz"]),
                    "id": any_ids,
                }
            ),
            json_values,
        ),
        max_size=3,
    ),
    json_values,
)
any_posts = st.fixed_dictionaries(
    {"id": any_ids, "text": texts},
    optional={
        "author_id": any_ids,
        "created_at": created,
        "entities": entities,
        "public_metrics": public_metrics,
        "referenced_tweets": refs,
        "unknown_field": json_values,
    },
)
users = st.fixed_dictionaries(
    {"id": any_ids},
    optional={
        "username": texts,
        "name": texts,
        "public_metrics": st.one_of(
            st.fixed_dictionaries({"followers_count": counts}), json_values
        ),
    },
)


@st.composite
def valid_posts(draw: st.DrawFn, author_ids: Sequence[str] = ("11", "12", "13")) -> dict:
    """A post as X sends it, text and names hostile but every field of the right type."""
    post: dict[str, Any] = {
        "id": draw(valid_ids),
        "text": draw(st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE_TEXT))),
        "created_at": f"2017-06-1{draw(st.integers(2, 6))}T10:00:00.000Z",
        "public_metrics": {
            k: draw(st.integers(0, 10**9))
            for k in ("like_count", "retweet_count", "reply_count", "quote_count")
        },
    }
    if draw(st.booleans()):
        post["author_id"] = draw(st.sampled_from(author_ids))
    if draw(st.booleans()):
        post["entities"] = {"hashtags": [{"tag": "IMHAW17"}]}
    return post


def valid_users() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "id": st.sampled_from(["11", "12", "13"]),
            "username": st.text(max_size=15),
            "name": st.one_of(st.text(max_size=15), st.just("N" * 10_000)),
            "public_metrics": st.fixed_dictionaries({"followers_count": st.integers(0, 10**8)}),
        }
    )


def page_of(items: st.SearchStrategy, user_items: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"data": st.lists(items, min_size=1, max_size=4)},
        optional={
            "includes": st.fixed_dictionaries(
                {},
                optional={
                    "users": st.lists(user_items, max_size=3),
                    "tweets": st.lists(items, max_size=2),
                },
            ),
            "meta": st.fixed_dictionaries({"result_count": st.integers(0, 100)}),
            "errors": st.lists(json_values, max_size=2),
            "__twarc": json_values,
        },
    )


hostile_pages = st.one_of(
    page_of(any_posts, users),
    st.fixed_dictionaries({"data": st.one_of(any_posts, json_values)}),  # a stream line, or junk
    st.fixed_dictionaries({"meta": json_values}),  # no data: fine, no posts
    any_posts,  # a flattened post
    json_values,  # not an object at all
)


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """One line of a twarc2 file: a page, or a page broken the ways files break."""
    page = json.dumps(draw(hostile_pages)).encode()
    how = draw(
        st.sampled_from(
            ["page", "page", "page", "truncated", "bytes", "deep", "nul", "blank", "bom"]
        )
    )
    if how == "truncated":  # a stream killed mid-write
        return page[: draw(st.integers(0, max(len(page) - 1, 0)))]
    if how == "bytes":
        return draw(st.binary(max_size=30)).replace(b"\n", b"")
    if how == "deep":
        depth = draw(st.sampled_from([100, 2_000, 100_000]))
        return b"[" * depth + b"]" * depth
    if how == "nul":
        return page.replace(b'"', b'"\x00', 1)
    if how == "blank":
        return b"   "
    if how == "bom":
        return b"\xef\xbb\xbf" + page
    return page


@st.composite
def archive_bytes(draw: st.DrawFn) -> bytes:
    """A whole archive file: JSONL lines, maybe gzipped, maybe cut short."""
    body = b"\n".join(draw(st.lists(lines(), min_size=0, max_size=5)))
    if draw(st.booleans()):
        body += b"\n"
    if draw(st.integers(0, 4)) == 0:
        body = gzip.compress(body, mtime=0)
        if draw(st.booleans()):
            body = body[: draw(st.integers(2, max(len(body) - 1, 2)))]
    return body


# --- helpers ---------------------------------------------------------------------------


class Files:
    """Writes each example's archive to a new file under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    def write(self, data: bytes, suffix: str = ".jsonl") -> Path:
        self.n += 1
        path = self.folder / f"archive-{self.n}{suffix}"
        path.write_bytes(data)
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def _physical_lines(data: bytes) -> int:
    with contextlib.suppress(OSError, EOFError):
        data = gzip.decompress(data)
    return data.count(b"\n") + 1


def _stored(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {
            r[0]: tuple(r[1:])
            for r in conn.execute(text("SELECT id, text, author_id, like_count FROM posts"))
        }


# --- import ----------------------------------------------------------------------------


@PROPERTY
@given(data=archive_bytes(), skip=st.booleans())
def test_import_of_any_file_stores_it_whole_or_names_the_fault_and_stores_nothing(
    engine: Engine, files: Files, data: bytes, skip: bool
) -> None:
    path = files.write(data)
    before = dump_tables(engine)
    try:
        result = import_files(engine, [path], skip_bad_lines=skip)
    except ImportFileError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in message and "Traceback" not in message
        if exc.line is not None:
            assert 1 <= exc.line <= _physical_lines(data) + 1, (exc.line, message)
        assert dump_tables(engine) == before  # nothing from a refused file
        return
    (fr,) = result.files
    assert fr.posts_seen == fr.new + fr.updated
    if skip:
        assert all(1 <= n <= _physical_lines(data) + 1 for n, _ in fr.skipped)
    else:
        assert fr.skipped == []
    # the same bytes again change nothing
    after = dump_tables(engine, ["posts", "observations", "authors"])
    again = import_files(engine, [path], skip_bad_lines=skip)
    assert again.files[0].already_imported
    assert dump_tables(engine, ["posts", "observations", "authors"]) == after


@PROPERTY
@given(pages=st.lists(page_of(valid_posts(), valid_users()), min_size=1, max_size=4))
def test_import_of_valid_pages_stores_exactly_their_posts_first_sighting_first(
    engine: Engine, files: Files, pages: list[dict]
) -> None:
    path = files.write(b"".join(json.dumps(p).encode() + b"\n" for p in pages))
    before = _stored(engine)
    import_files(engine, [path])
    first: dict[str, tuple] = {}
    for page in pages:
        for post in page["data"]:
            # PostgreSQL text cannot hold NUL, so both databases store U+FFFD in its place
            text_ = post["text"].replace("\x00", "\ufffd")
            first.setdefault(post["id"], (text_, post.get("author_id")))
    stored = _stored(engine)
    for post_id, (text_, author_id) in first.items():
        if post_id not in before:
            assert stored[post_id][:2] == (text_, author_id)
    assert set(stored) == set(before) | set(first)


@settings(PROPERTY, max_examples=FEW)
@given(data=archive_bytes())
def test_the_import_command_prints_one_line_naming_file_and_line_never_a_traceback(
    sqlite_url: str, files: Files, capfd, data: bytes
) -> None:
    path = files.write(data, ".jsonl.gz" if data[:2] == b"\x1f\x8b" else ".jsonl")
    capfd.readouterr()
    try:
        main(["--database", sqlite_url, "import", str(path)])
    except SystemExit as exc:
        code = exc.code
    out, err = capfd.readouterr()
    # at most one line first, saying it runs on the defaults (no config file here)
    err = err.removeprefix(f"note: {DEFAULTS_NOTICE}\n")
    assert "Traceback" not in out + err
    assert "unexpected failure" not in err and "database failure" not in err, err
    if code == 0:
        assert out.startswith(f"{path}: ") and err == ""
    else:
        assert code == 1
        assert err.startswith(f"Error: {path}") and err.count("\n") == 1, err


# --- collect ---------------------------------------------------------------------------


class PagesSource(Source):
    """Serves given pages, newest first, to the first search; then nothing new.

    A test source at the Source interface (as the simulator is), for pages no HTTP
    body could carry into XSource unchanged; HTTP-level bodies are tested below.
    """

    name = "x:recent"

    def __init__(self, pages: list[Page]) -> None:
        super().__init__()
        self.pages = pages
        self.served = False

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        self.requests += 1
        if self.served:
            yield {"meta": {"result_count": 0}}
            return
        self.served = True
        yield from self.pages

    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        yield from ()


@PROPERTY
@given(
    good=st.lists(valid_posts(), min_size=1, max_size=8, unique_by=lambda p: p["id"]),
    junk=st.lists(st.one_of(any_posts, json_values), max_size=4),
    includes=st.lists(st.one_of(valid_users(), users), max_size=3),
    where=st.randoms(use_true_random=False),
)
def test_a_live_pass_skips_what_it_cannot_use_and_stores_every_usable_post(
    engine: Engine, good: list[dict], junk: list[Any], includes: list[dict], where: Any
) -> None:
    # newest first, the junk scattered among the good posts, two pages
    good.sort(key=lambda p: (len(p["id"]), p["id"]), reverse=True)
    items: list[Any] = list(good)
    for item in junk:
        items.insert(where.randrange(len(items) + 1), item)
    half = len(items) // 2
    pages = [
        {"data": chunk, "includes": {"users": includes}, "meta": {"result_count": len(chunk)}}
        for chunk in (items[:half], items[half:])
        if chunk
    ]
    before = _stored(engine)
    result = collect_pass(engine, PagesSource(pages))  # no exception: nothing stops it
    stored = _stored(engine)
    for post in good:
        assert post["id"] in stored  # not lost because a neighbour was bad
        if post["id"] not in before:
            assert stored[post["id"]][0] == post["text"].replace("\x00", "\ufffd")
    assert result.skipped <= len(junk)
    with engine.connect() as conn:
        run = conn.execute(
            text("SELECT status, errors FROM collection_runs WHERE id = :id"), {"id": result.run_id}
        ).one()
    assert run == ("ok", result.skipped)
    assert read_checkpoint(engine, "x:recent").pass_oldest_id is None


BROKEN_BODIES = st.one_of(
    st.just(""),
    st.just("<html><body>Something is technically wrong.</body></html>"),
    st.sampled_from(["[]", "null", "42", '"page"', "{}", '{"data": 5, "meta": {}}']),
    st.sampled_from(['{"data": [], "meta": ' + "[" * 5000 + "]" * 5000 + "}"]),
    json_values.map(json.dumps),
    st.fixed_dictionaries({"data": json_values}).map(json.dumps),  # no meta
)


@settings(PROPERTY, max_examples=FEW)
@given(body=BROKEN_BODIES, cut=st.integers(0, 2_000))
def test_a_broken_api_page_fails_the_pass_without_losing_a_post_and_the_next_pass_gets_all(
    files: Files, body: str, cut: int
) -> None:
    sqlite_engine = make_engine(f"sqlite:///{files.write(b'', '.db')}")
    fake = FakeX(read_pages(), published=300)  # three pages of 100
    full = json.dumps(
        fake._search({"max_results": "100", "next_token": f"next-{fake.visible()[99]}"})[1]
    )
    truncated = full[: cut % len(full)]  # the second page, cut short on the wire
    settings_ = Settings(x=X(max_retries=1))
    with FakeXServer(fake) as server:
        live = settings_.model_copy(update={"x": X(max_retries=1, api_base_url=server.url)})
        for call in (2, 3):  # the second page is broken on the first try and the retry
            fake.fail(call, (200, body if call == 2 else truncated))
        with pytest.raises(HashmonError) as err:
            collect_pass(sqlite_engine, XSource(live, TOKEN, sleep=lambda s: None))
        message = str(err.value)
        assert "\n" not in message and "failed 2 times in a row" in message, message
        cp = read_checkpoint(sqlite_engine, "x:recent")
        assert cp.pass_oldest_id is not None  # the pass is on record as interrupted
        result = collect_pass(sqlite_engine, XSource(live, TOKEN, sleep=lambda s: None))
    assert len(_stored(sqlite_engine)) == 300
    assert result.new == 200
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM observations")).scalar() == 300
    sqlite_engine.dispose()


# --- cases found by the properties above, named (PostgreSQL refuses what SQLite takes) -----


@pytest.mark.parametrize(
    ("case", "page"),
    [
        ("nul-in-text", {"data": [{"id": "8", "text": "a\u0000b"}]}),
        (
            "nul-in-a-name",
            {
                "data": [{"id": "9", "text": "a", "author_id": "4"}],
                "includes": {"users": [{"id": "4", "username": "x\u0000", "name": "n\u0000"}]},
            },
        ),
        (
            "nul-in-a-hashtag",
            {"data": [{"id": "10", "text": "a", "entities": {"hashtags": [{"tag": "t\u0000"}]}}]},
        ),
    ],
)
def test_a_nul_character_in_text_is_stored_on_every_database(
    engine: Engine, files: Files, case: str, page: dict
) -> None:
    """JSON allows \\u0000 in a string and SQLite stores it, but PostgreSQL text cannot
    hold it: the post must still be stored (the NUL replaced), not fail the import, or
    every live pass on the page, with a database error."""
    path = files.write(json.dumps(page).encode() + b"\n")
    result = import_files(engine, [path])
    assert result.files[0].new == 1
    assert all("\x00" not in (v or "") for v in map(str, _stored(engine).values()))


@pytest.mark.parametrize("field", ["id", "author_id"])
def test_an_id_longer_than_the_database_column_is_refused_naming_file_and_line(
    engine: Engine, files: Files, field: str
) -> None:
    """Ids are decimal strings of any length in a file; the posts table holds 64
    characters. PostgreSQL rejects a longer one with a database error that names no
    line, SQLite stores it: both must instead refuse (or drop) it the same clear way."""
    post = {"id": "5", "text": "a", "author_id": "6"}
    post[field] = "1" * 70
    path = files.write(json.dumps({"data": [post]}).encode() + b"\n")
    before = dump_tables(engine)
    try:
        result = import_files(engine, [path])
    except ImportFileError as exc:
        assert str(exc).startswith(f"{path}, line 1: ")
        assert dump_tables(engine) == before
    else:
        assert field == "author_id" and result.files[0].new == 1  # stored without an author
        assert "1" * 70 not in str(_stored(engine))

"""Archive import: idempotent, atomic, gzip-aware, and honest about files it cannot use.

Arranged with the recorded twarc2 files; bad lines are hand-written (each case says
what is wrong with it). Runs on a real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from monitor import reader
from monitor.archive import describe, import_files
from monitor.errors import ImportFileError
from monitor.settings import Campaign, Settings
from monitor.store.engine import make_engine
from monitor.store.schema import Author, ImportedFile, Observation, Post
from monitor.store.writes import stored_counts
from reports.stats import stats_object
from tests.conftest import make_db_url
from tests.pages import counts, dump_tables, page, post, user, write_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "x-api-v2"
JSONL = FIXTURES / "twarc2-jsonl"
SEARCH = JSONL / "twarc2sql__search_example.jsonl"
SETTINGS = Settings(
    campaign=Campaign(start=dt.date(2023, 4, 6), end=dt.date(2023, 4, 8), timezone="Asia/Dubai")
)
FIX_HINT = "fix it, or pass --skip-bad-lines to import the rest"
NOT_POSTS_HINT = "hashmon imports post archives (twarc2 search or stream output)"
GOOD_LINE = (
    '{"data": [{"id": "1", "text": "#IMHAW17", "author_id": "5", '
    '"created_at": "2017-06-12T10:00:00.000Z"}], '
    '"includes": {"users": [{"id": "5", "public_metrics": {"followers_count": 3}}]}}\n'
)

# (file contents, the bad line's number, the fault named): each a line hashmon cannot use
BAD_FILES = {
    "not-json": (GOOD_LINE + "hello, world\n" + GOOD_LINE, 2, "not valid JSON"),
    "truncated-last-line": (GOOD_LINE + GOOD_LINE[:57], 2, "not valid JSON"),
    "json-array-line": (GOOD_LINE + '[{"data": []}]\n', 2, "not a JSON object"),
    "data-a-string": (GOOD_LINE + '{"data": "1,2,3"}\n', 2, "data is neither a list nor an object"),
    "binary-bytes": (
        GOOD_LINE.encode() + b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n",
        2,
        "not valid JSON",
    ),
    "non-numeric-id": (
        GOOD_LINE + '{"data": [{"id": "1", "text": "a"}, {"id": "12ab", "text": "b"}]}\n',
        2,
        "post 2 of data has an id that is not a decimal number",
    ),
    "bad-first-line": ("{not json}\n" + GOOD_LINE, 1, "not valid JSON"),
}


MODES = ("in-process", "reader-process")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every import test runs with files read in the importing process and (as big files
    are) by the ``python -m monitor.reader`` child: both must behave the same. A test on
    both databases reads by the child on SQLite only: the child changes how records
    reach the importer, not how they are stored, which the in-process reading checks on
    PostgreSQL (the fourth combination cost 11 s of CPU and found nothing the others do
    not)."""
    if "db_url" in metafunc.fixturenames:
        combos = [("sqlite", MODES[0]), ("postgresql", MODES[0]), ("sqlite", MODES[1])]
        metafunc.parametrize(("db_url", "reader_mode"), combos, indirect=True)
    else:
        metafunc.parametrize("reader_mode", MODES, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """tests/conftest.py's, its databases given by ``pytest_generate_tests`` above."""
    return make_db_url(request.param, tmp_path)


@pytest.fixture(autouse=True)
def reader_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where files are read: in this process, or by the reader child (see above)."""
    threshold = 0 if request.param == "reader-process" else 1 << 62
    monkeypatch.setattr(reader, "CHILD_BYTES", threshold)
    return request.param


def content(engine: Engine) -> dict:
    """What an import stores, without when it stored it: posts, authors, observations."""
    posts, authors, obs = Post.__table__, Author.__table__, Observation.__table__
    skip = {"first_seen_at", "last_seen_at", "first_run_id", "updated_at"}
    with engine.connect() as conn:
        return {
            "posts": sorted(
                tuple(r)
                for r in conn.execute(select(*[c for c in posts.c if c.name not in skip])).all()
            ),
            "authors": sorted(
                tuple(r)
                for r in conn.execute(select(*[c for c in authors.c if c.name not in skip])).all()
            ),
            "observations": [
                tuple(r)
                for r in conn.execute(
                    select(
                        obs.c.post_id,
                        obs.c.like_count,
                        obs.c.retweet_count,
                        obs.c.reply_count,
                        obs.c.quote_count,
                        obs.c.impression_count,
                    ).order_by(obs.c.seq)
                ).all()
            ],
            "stats": stats_object(conn, SETTINGS),
        }


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def gzipped(source: Path, dest: Path) -> Path:
    with source.open("rb") as src, gzip.open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
    return dest


def stored_posts(engine: Engine) -> int:
    with engine.connect() as conn:
        return stored_counts(conn)["posts"]


# --- idempotence ----------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(engine: Engine) -> None:
    first = import_files(engine, [SEARCH])
    assert describe(first) == [f"{SEARCH}: 5 pages, 500 posts seen, 500 new, 0 updated"]
    tables = ("posts", "authors", "observations", "imported_files")
    before, figures = dump_tables(engine, tables), content(engine)["stats"]
    again = import_files(engine, [SEARCH])
    assert describe(again) == [f"{SEARCH}: already imported (same contents); nothing changed"]
    assert dump_tables(engine, tables) == before
    assert content(engine)["stats"] == figures


def test_a_file_named_twice_in_one_import_is_imported_once(engine: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    shutil.copy(SEARCH, copy)
    result = import_files(engine, [SEARCH, copy])
    assert describe(result) == [
        f"{SEARCH}: 5 pages, 500 posts seen, 500 new, 0 updated",
        f"{copy}: already imported (same contents); nothing changed",
        "total: 5 pages, 500 posts seen, 500 new, 0 updated",
    ]
    with engine.connect() as conn:
        assert len(conn.execute(select(Observation.seq)).all()) == 500


def test_overlapping_files_report_new_and_updated_posts(engine: Engine) -> None:
    import_files(engine, [JSONL / "twarc-csv__brexit.jsonl"])
    result = import_files(engine, [JSONL / "twarc-csv__2sets.jsonl"])
    assert describe(result) == [
        f"{JSONL / 'twarc-csv__2sets.jsonl'}: 2 pages, 200 posts seen, 100 new, 100 updated"
    ]
    assert stored_posts(engine) == 200


def test_later_files_and_later_lines_give_the_latest_counts(engine: Engine, tmp_path: Path) -> None:
    # hand-written: one post re-sighted in argument, line and page order
    a = write_jsonl(
        tmp_path / "a.jsonl",
        page(post("1", metrics=counts(like=5)), post("1", metrics=counts(like=6))),
        page(post("1", metrics=counts(like=4))),
    )
    b = write_jsonl(tmp_path / "b.jsonl", page(post("1", metrics=counts(like=2))))
    import_files(engine, [a, b])
    with engine.connect() as conn:
        assert conn.execute(select(Post.like_count)).scalar_one() == 2
        likes = conn.execute(select(Observation.like_count).order_by(Observation.seq)).scalars()
        assert list(likes) == [5, 6, 4, 2]


# --- atomic refusal -------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_file_with_a_bad_line_is_refused_whole_and_changes_nothing(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    import_files(engine, [JSONL / "twarc-csv__kpop.jsonl"])
    before = dump_tables(engine)
    text, line, fault = BAD_FILES[case]
    bad = write(tmp_path / f"{case}.jsonl", text)
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [bad])
    assert (caught.value.path, caught.value.line) == (str(bad), line)
    message = str(caught.value)
    assert message.startswith(f"{bad}, line {line}: {fault}")
    assert message.endswith(FIX_HINT)
    assert "\n" not in message
    assert dump_tables(engine) == before


def test_a_json_fault_is_named_in_full(engine: Engine, tmp_path: Path) -> None:
    # hand-written: a page whose first key lacks its colon
    bad = write(tmp_path / "colon.jsonl", GOOD_LINE + '{"data" [{"id": "2", "text": "b"}]}\n')
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [bad])
    assert "expected ':' after key" in str(caught.value)


def test_a_fault_in_a_pretty_printed_file_names_its_physical_line(
    engine: Engine, tmp_path: Path
) -> None:
    # a saved API response, pretty-printed, with one colon lost on its line 92: the user
    # must be able to find it (METRICS.md is silent on what "line" means for such a file)
    lines = (
        (FIXTURES / "pages" / "tweets_lookup__verified_type__2022-12.json")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    assert lines[91].strip() == '"domain": {'
    lines[91] = lines[91].replace('": {', '" {')
    bad = write(tmp_path / "response.json", "\n".join(lines) + "\n")
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [bad])
    assert caught.value.line == 92
    assert str(caught.value).startswith(f"{bad}, line 92: not valid JSON")


def search_ids() -> set[str]:
    """The ids of the posts in SEARCH's data, read straight from its JSON."""
    out = set()
    for raw in SEARCH.read_text(encoding="utf-8").splitlines():
        data = json.loads(raw).get("data") or []
        out |= {item["id"] for item in (data if isinstance(data, list) else [data])}
    return out


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Post.id)).scalars())


@pytest.mark.parametrize("case", ["not-json", "non-numeric-id", "truncated-last-line"])
def test_a_bad_second_file_is_refused_alone_and_the_first_is_imported(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    text, line, _ = BAD_FILES[case]
    bad = write(tmp_path / "second.jsonl", text)
    result = import_files(engine, [SEARCH, bad])
    taken, refused = result.files
    assert taken.refused is None and taken.posts_seen > 0
    assert refused.refused is not None and refused.refused.startswith(f"{bad}, line {line}: ")
    assert result.refused == [refused]
    # nothing of the bad file (its good first line holds post 1) is stored
    assert stored_ids(engine) == search_ids()
    with engine.connect() as conn:
        digests = conn.execute(select(ImportedFile.path)).scalars().all()
    assert digests == [str(SEARCH)]


def test_a_missing_second_file_is_named_and_the_first_is_imported(
    engine: Engine, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    result = import_files(engine, [SEARCH, missing])
    assert [f.refused for f in result.files] == [None, f"{missing}: file not found; check the path"]
    assert stored_ids(engine) == search_ids()


def test_when_every_file_is_refused_nothing_is_stored_not_even_a_run(
    engine: Engine, tmp_path: Path
) -> None:
    before = dump_tables(engine)
    missing = tmp_path / "missing.jsonl"
    bad = write(tmp_path / "bad.jsonl", BAD_FILES["not-json"][0])
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [missing, bad])
    assert str(caught.value) == f"{missing}: file not found; check the path"
    assert dump_tables(engine) == before


def test_a_folder_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [tmp_path])
    assert str(caught.value) == f"{tmp_path}: is a folder, not a file; name the files in it"


def test_the_recorded_stream_with_a_broken_line_is_refused(engine: Engine) -> None:
    path = JSONL / "twarc-csv__streaming_output_with_error.jsonl"
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [path])
    assert caught.value.line == 8
    assert str(caught.value).startswith(f"{path}, line 8: not valid JSON")
    assert stored_posts(engine) == 0


# --- skipping bad lines ---------------------------------------------------------------------


def test_skip_bad_lines_imports_the_rest_and_says_which_lines(
    engine: Engine, tmp_path: Path
) -> None:
    good2 = GOOD_LINE.replace('"id": "1"', '"id": "2"')
    path = write(
        tmp_path / "mixed.jsonl",
        GOOD_LINE + "oops\n" + good2 + "\n" + '{"data": "x"}\n' + GOOD_LINE[:30],
    )
    result = import_files(engine, [path], skip_bad_lines=True)
    (fr,) = result.files
    assert [n for n, _ in fr.skipped] == [2, 5, 6]
    assert describe(result) == [
        f"{path}: 2 pages, 2 posts seen, 2 new, 0 updated; skipped 3 bad line(s): 2, 5, 6"
    ]
    assert stored_posts(engine) == 2


def test_skip_bad_lines_imports_a_stream_killed_mid_write(engine: Engine) -> None:
    path = JSONL / "twarc-csv__streaming_output_with_error.jsonl"
    result = import_files(engine, [path], skip_bad_lines=True)
    assert describe(result) == [
        f"{path}: 7 pages, 7 posts seen, 7 new, 0 updated; skipped 1 bad line(s): 8"
    ]
    assert stored_posts(engine) == 7


def test_skip_bad_lines_still_refuses_a_users_archive(engine: Engine) -> None:
    with pytest.raises(ImportFileError, match="holds users, not posts"):
        import_files(engine, [JSONL / "twarc-csv__users.jsonl"], skip_bad_lines=True)
    assert dump_tables(engine, ["posts", "authors", "observations"]) == {
        "posts": [],
        "authors": [],
        "observations": [],
    }


# --- gzip -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ["twarc2sql__search_example.jsonl"],
        [
            "twarc-csv__media_policy_violation_off.jsonl",
            "twarc-csv__media_policy_violation_on.jsonl",
        ],
        ["twarc-csv__flat.jsonl"],
    ],
)
def test_gzipped_files_import_identically(engine: Engine, tmp_path: Path, names: list[str]) -> None:
    plain_engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        import_files(plain_engine, [JSONL / n for n in names])
        want = content(plain_engine)
    finally:
        plain_engine.dispose()
    gz = [gzipped(JSONL / n, tmp_path / f"{n}.gz") for n in names]
    result = import_files(engine, gz)
    assert content(engine) == want
    assert result.total("posts_seen") == len(want["observations"])


def test_a_gzipped_file_is_recognised_whatever_its_name(engine: Engine, tmp_path: Path) -> None:
    disguised = gzipped(JSONL / "twarc-csv__kpop.jsonl", tmp_path / "kpop.jsonl")
    result = import_files(engine, [disguised])
    assert describe(result) == [f"{disguised}: 1 pages, 100 posts seen, 100 new, 0 updated"]


def test_a_truncated_gzip_is_a_clear_error_and_stores_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    whole = gzipped(SEARCH, tmp_path / "whole.jsonl.gz").read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 3 // 4])
    before = dump_tables(engine)
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [cut])
    message = str(caught.value)
    assert message.startswith(f"{cut}, line ")
    assert "the gzip stream is cut short or corrupt" in message
    assert "\n" not in message
    assert dump_tables(engine) == before


# --- single response files, non-post archives, empty files ---------------------------------


@pytest.mark.parametrize("path", sorted((FIXTURES / "pages").glob("*.json")), ids=lambda p: p.stem)
def test_a_single_pretty_printed_response_file_imports(engine: Engine, path: Path) -> None:
    expected = len(json.loads(path.read_text(encoding="utf-8"))["data"])
    result = import_files(engine, [path])
    assert describe(result) == [
        f"{path}: 1 pages, {expected} posts seen, {expected} new, 0 updated"
    ]
    assert stored_posts(engine) == expected


def test_a_gzipped_pretty_printed_response_file_imports(engine: Engine, tmp_path: Path) -> None:
    source = FIXTURES / "pages" / "search_recent__kpop__2021-09-22.json"
    gz = gzipped(source, tmp_path / "kpop.json.gz")
    import_files(engine, [gz])
    assert stored_posts(engine) == 100


@pytest.mark.parametrize(
    ("path", "what"),
    [
        (JSONL / "twarc-csv__users.jsonl", "users"),
        (JSONL / "twarc-csv__counts.jsonl", "tweet counts"),
        (FIXTURES / "tweepy-cassettes" / "get_users.json", "users"),
        (FIXTURES / "tweepy-cassettes" / "get_recent_tweets_count.json", "tweet counts"),
    ],
    ids=["twarc2-users", "twarc2-counts", "tweepy-users", "tweepy-counts"],
)
def test_users_and_counts_archives_are_refused_and_store_nothing(
    engine: Engine, path: Path, what: str
) -> None:
    before = dump_tables(engine)
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [path])
    assert str(caught.value) == f"{path}, line 1: holds {what}, not posts; {NOT_POSTS_HINT}"
    assert dump_tables(engine) == before


def test_posts_and_a_users_archive_in_one_import_take_the_posts_and_name_the_users(
    engine: Engine,
) -> None:
    users = JSONL / "twarc-csv__users.jsonl"
    result = import_files(engine, [SEARCH, users])
    assert [f.refused for f in result.files] == [
        None,
        f"{users}, line 1: holds users, not posts; {NOT_POSTS_HINT}",
    ]
    assert stored_ids(engine) == search_ids()
    with engine.connect() as conn:
        authors = set(conn.execute(select(Author.id)).scalars())
        posts_authors = set(conn.execute(select(Post.author_id)).scalars())
    assert authors == posts_authors - {None}  # no author comes from the users archive


@pytest.mark.parametrize("text", ["", "\n\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_an_empty_file_imports_nothing_and_says_so(
    engine: Engine, tmp_path: Path, text: str
) -> None:
    path = write(tmp_path / "empty.jsonl", text)
    result = import_files(engine, [path])
    assert describe(result) == [f"{path}: empty file; nothing imported"]
    assert stored_posts(engine) == 0


def test_pages_without_data_are_fine(engine: Engine, tmp_path: Path) -> None:
    # hand-written: the last page of a search, a page of only partial errors, then posts
    path = write_jsonl(
        tmp_path / "sparse.jsonl",
        {"meta": {"result_count": 0}},
        {"errors": [{"title": "Not Found Error", "resource_type": "tweet", "value": "7"}]},
        page(post("1"), users=[user("100", 3)]),
    )
    result = import_files(engine, [path])
    assert describe(result) == [f"{path}: 3 pages, 1 posts seen, 1 new, 0 updated"]


def test_a_file_mixing_users_and_posts_pages_imports_the_posts(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        {"data": [user("7", 10), user("8", 20)]},
        page(post("1"), users=[user("100", 3)]),
    )
    import_files(engine, [path])
    assert stored_posts(engine) == 1

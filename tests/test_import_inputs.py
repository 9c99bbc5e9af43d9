"""What an import is given, and what it records (issues 12.1, 12.5, 12.12, 11.9, 11.12).

- stdin and pipes: what is recorded as imported is exactly what was read;
- limits: a line or document past the documented limits is refused in one line naming
  file and line, in bounded memory;
- files that are not API archives are refused; files with a UTF-16/UTF-32 byte-order
  mark are read in that encoding;
- the campaign's share of an import is said, plainly when it is none;
- two imports at once on PostgreSQL take turns, as on SQLite.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from monitor import reader
from monitor.archive import describe, describe_share, import_files
from monitor.errors import ImportFileError
from monitor.settings import Campaign
from monitor.store.engine import make_engine
from monitor.store.schema import ImportedFile, Post
from tests.harness import HASHMON, hashmon_env, run_hashmon
from tests.pages import page, post, user, write_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "x-api-v2"
JSONL = FIXTURES / "twarc2-jsonl"
SEARCH = JSONL / "twarc2sql__search_example.jsonl"
FLAT = JSONL / "twarc-csv__flat.jsonl"
LONG = os.environ.get("HASHMON_LONG") == "1"


def stored(engine: Engine) -> dict[str, tuple]:
    p = Post.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(select(p.id, p.text, p.like_count, p.created_at_us)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def ids_in(path: Path) -> set[str]:
    """The ids of the posts in a file's data, read straight from its JSON."""
    out: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(raw)
        data = obj.get("data", [obj] if "text" in obj else [])
        out |= {i["id"] for i in (data if isinstance(data, list) else [data])}
    return out


def big_archive(path: Path, posts: int = 12_000) -> Path:
    """Write a twarc2 file of ``posts`` posts, 100 a page, over reader.CHILD_BYTES."""
    pages = []
    for first in range(1, posts + 1, 100):
        items = [
            post(str(n), f"post {n} #IMHAW17 " + "x" * 300, author_id=str(n % 50 + 1))
            for n in range(first, min(first + 100, posts + 1))
        ]
        pages.append(page(*items, users=[user(str(u), followers=u) for u in range(1, 51)]))
    write_jsonl(path, *pages)
    return path


# --- stdin and pipes (issue 12.1) ---------------------------------------------------------


@pytest.mark.parametrize("how", ["redirect", "pipe"])
@pytest.mark.slow
def test_stdin_is_read_once_and_what_is_recorded_is_what_was_read(
    tmp_path: Path, sqlite_url: str, how: str
) -> None:
    archive = big_archive(tmp_path / "big.jsonl")
    assert archive.stat().st_size >= reader.CHILD_BYTES  # read by the reader child
    env = hashmon_env(HASHMON_DATABASE_URL=sqlite_url)
    cmd = [*HASHMON, "import", "/dev/stdin"]
    if how == "redirect":
        with archive.open("rb") as fh:
            done = subprocess.run(cmd, stdin=fh, env=env, cwd=tmp_path, capture_output=True)
    else:
        cat = subprocess.Popen(["cat", str(archive)], stdout=subprocess.PIPE)
        done = subprocess.run(cmd, stdin=cat.stdout, env=env, cwd=tmp_path, capture_output=True)
        assert cat.stdout is not None
        cat.stdout.close()
        cat.wait()
    assert done.returncode == 0, done.stderr.decode()
    assert "/dev/stdin: 120 pages, 12000 posts seen, 12000 new" in done.stdout.decode()
    engine = make_engine(sqlite_url)
    try:
        assert set(stored(engine)) == ids_in(archive)
    finally:
        engine.dispose()
    # the same bytes under their own name are the same file, already imported
    again = run_hashmon(["import", str(archive)], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already imported (same contents)" in again.stdout


@pytest.mark.slow
def test_an_empty_pipe_is_an_empty_file_and_records_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = hashmon_env(HASHMON_DATABASE_URL=sqlite_url)
    cmd = [*HASHMON, "import", "/dev/stdin"]
    done = subprocess.run(cmd, input=b"", env=env, cwd=tmp_path, capture_output=True)
    assert done.returncode == 0
    assert "/dev/stdin: empty file; nothing imported" in done.stdout.decode()
    # and the real file is then imported, not refused as already imported
    path = write_jsonl(tmp_path / "a.jsonl", page(post("1")))
    later = run_hashmon(["import", str(path)], env, tmp_path)
    assert "1 posts seen, 1 new" in later.stdout


# --- limits (issue 12.5) ------------------------------------------------------------------


def test_a_line_past_the_limit_is_refused_naming_file_and_line(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1 << 20)
    good = json.dumps(page(post("1"))) + "\n"
    path = tmp_path / "long.jsonl.gz"
    path.write_bytes(
        gzip.compress((good + '{"data": "' + "a" * (3 << 20) + '"}\n' + good).encode())
    )
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [path])
    assert str(caught.value).startswith(f"{path}, line 2: the line is longer than 1 MiB")
    assert stored(engine) == {}
    # with --skip-bad-lines the rest of the file is read after the long line
    result = import_files(engine, [path], skip_bad_lines=True)
    assert [n for n, _ in result.files[0].skipped] == [2]
    assert result.files[0].pages == 2


def test_a_line_of_too_many_values_is_refused_before_it_is_parsed(
    engine: Engine, tmp_path: Path
) -> None:
    n = reader.MAX_LINE_VALUES + 1
    path = tmp_path / "many.jsonl"
    path.write_text(
        json.dumps(page(post("1"))) + "\n" + '{"data": [' + ",".join(["{}"] * n) + "]}\n"
    )
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [path])
    assert str(caught.value).startswith(f"{path}, line 2: the line holds more than 600,000")


def test_a_pretty_printed_document_past_the_limit_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1 << 20)
    doc = json.dumps(page(*[post(str(i), "x" * 500) for i in range(1, 3000)]), indent=2)
    path = tmp_path / "response.json"
    path.write_text(doc)
    assert path.stat().st_size > 1 << 20
    with pytest.raises(ImportFileError, match=r"line 1: the document .* is longer than 1 MiB"):
        import_files(engine, [path])


_MEASURE = """
import resource, sys
from monitor.store.engine import make_engine
from monitor.archive import import_files
from monitor.errors import ImportFileError
engine = make_engine(sys.argv[1])
try:
    import_files(engine, [sys.argv[2]])
    print("imported")
except ImportFileError as exc:
    print(exc)
# this process's own peak: VmHWM, the high-water mark of its own memory since exec (its
# ru_maxrss starts at the peak of whoever spawned it: vfork and exec carry it over, so in
# a pytest worker grown to 250 MB it read 250 MB however little the import took)
with open("/proc/self/status") as status:
    own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
# the reader child's ru_maxrss: its own peak, or this process's at the moment it was
# spawned (carried over the same way), both memory of the import
reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(own // 1024, reader // 1024)
"""


# issue 12.5: peak memory of any import under 200 MB whatever the input
PEAK_MB = 200


def peak_mb(db_url: str, path: Path) -> tuple[str, int]:
    """Import ``path`` in a fresh process; return its outcome and the peak RSS in MB
    (the larger of the importer's and its reader child's)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, db_url, str(path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr
    outcome, peaks = done.stdout.strip().rsplit("\n", 1)
    own, reader = map(int, peaks.split())
    print(f"{path.name}: importer {own} MB, reader {reader} MB")  # -s shows the figures
    return outcome, max(own, reader)


def _gz_of_one_long_line(path: Path, mib: int) -> Path:
    chunk = b"a" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b'{"data": "')
        for _ in range(mib):
            out.write(chunk)
        out.write(b'"}\n')
    return path


@pytest.mark.slow
def test_memory_stays_bounded_with_lines_and_documents_past_the_limits(
    tmp_path: Path, sqlite_url: str
) -> None:
    # a gzip of one line of 160 MiB (HASHMON_LONG: 1 GiB), and a pretty-printed document
    # of 40 MB: both refused, neither held whole
    long_line = _gz_of_one_long_line(tmp_path / "line.jsonl.gz", 1024 if LONG else 160)
    outcome, peak = peak_mb(sqlite_url, long_line)
    assert outcome.startswith(f"{long_line}, line 1: the line is longer than 16 MiB")
    assert peak < PEAK_MB, peak
    doc = tmp_path / "doc.json"
    with doc.open("w") as out:
        out.write('{\n  "data": [\n')
        item = json.dumps(post("1", "y" * 1000), indent=4)
        out.write(",\n".join([item] * 30_000))
        out.write("\n  ]\n}\n")
    outcome, peak = peak_mb(sqlite_url, doc)
    assert "line 1: the document" in outcome and "longer than 16 MiB" in outcome
    assert peak < PEAK_MB, peak


@pytest.mark.slow
def test_memory_stays_bounded_at_the_limits(tmp_path: Path, sqlite_url: str) -> None:
    # just under both limits: the worst a line may be and still be read
    n = reader.MAX_LINE_VALUES - 10
    values = tmp_path / "values.jsonl"
    values.write_text('{"data": [' + ",".join(['{"id":"1","text":""}'] * (n // 3)) + "]}\n")
    outcome, peak = peak_mb(sqlite_url, values)
    assert outcome == "imported"
    assert peak < PEAK_MB, peak
    text = tmp_path / "text.jsonl"
    text.write_text(json.dumps(page(post("1", "z" * (reader.MAX_LINE_BYTES - 1000)))) + "\n")
    outcome, peak = peak_mb(sqlite_url, text)
    assert outcome == "imported"
    assert peak < PEAK_MB, peak


# --- not an API archive; encodings (issue 11.12) ------------------------------------------


def test_a_json_file_that_is_not_an_api_response_is_refused(engine: Engine, tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_text('{"name": "x", "count": 3}\n{"other": []}\n')
    with pytest.raises(ImportFileError) as caught:
        import_files(engine, [path])
    assert str(caught.value).startswith(
        f"{path}, line 1: is not an X API archive (no line has data, meta, errors or includes)"
    )
    # one line of meta alone is an API response (a search that found nothing)
    meta = tmp_path / "nothing.jsonl"
    meta.write_text('{"meta": {"result_count": 0}}\n')
    assert import_files(engine, [meta]).files[0].refused is None
    # a flattened archive has none of those keys and is posts
    flat = import_files(engine, [FLAT]).files[0]
    assert flat.refused is None and flat.posts_seen > 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_windows_redirected_file_is_read_in_the_encoding_its_bom_declares(
    tmp_path: Path, encoding: str, sqlite_engine: Engine
) -> None:
    boms = {
        "utf-16-le": b"\xff\xfe",
        "utf-16-be": b"\xfe\xff",
        "utf-32-le": b"\xff\xfe\x00\x00",
        "utf-32-be": b"\x00\x00\xfe\xff",
    }
    text = SEARCH.read_text(encoding="utf-8").replace("\n", "\r\n")
    path = tmp_path / "windows.jsonl"
    path.write_bytes(boms[encoding] + text.encode(encoding))
    result = import_files(sqlite_engine, [path])
    assert result.files[0].refused is None
    assert set(stored(sqlite_engine)) == ids_in(SEARCH)
    # byte for byte the texts of the UTF-8 original
    originals = {}
    for raw in SEARCH.read_text(encoding="utf-8").splitlines():
        for item in json.loads(raw)["data"]:
            text = item["text"].replace("&lt;", "<").replace("&gt;", ">")
            originals.setdefault(item["id"], text.replace("&amp;", "&"))
    assert {k: v[0] for k, v in stored(sqlite_engine).items()} == originals


def test_a_bom_over_bytes_that_are_not_that_encoding_is_refused(engine: Engine, tmp_path: Path):
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\xff\xfe" + '{"data": []}\n'.encode("utf-16-le") + b"\x00\xd8\x00\xd8")
    with pytest.raises(ImportFileError, match="is not UTF-16-LE text, as its byte-order mark"):
        import_files(engine, [path])


# --- the campaign's share (issue 11.9) ----------------------------------------------------


def test_import_says_how_many_posts_match_the_campaign_and_fall_in_its_window(
    engine: Engine, tmp_path: Path
) -> None:
    campaign = Campaign(
        hashtags=("#IMHAW17",),
        accounts=("first1001days",),
        start=dt.date(2017, 6, 12),
        end=dt.date(2017, 6, 16),
        timezone="Europe/London",
    )
    inside, before = "2017-06-12T09:00:00.000Z", "2017-06-11T22:00:00.000Z"  # 23:00 local
    posts = [
        post("1", created_at=inside, hashtags=["imhaw17"]),
        post("2", created_at=inside, mentions=["First1001Days"]),
        post("3", created_at=before, hashtags=["IMHAW17"]),
        post("4", created_at=inside, hashtags=["other"]),
        post("5", created_at="2016-01-01T00:00:00Z"),
    ]
    path = write_jsonl(tmp_path / "a.jsonl", page(*posts), page(posts[0]))  # 1 seen twice
    result = import_files(engine, [path], campaign=campaign)
    share = result.campaign
    assert share is not None
    assert (share.posts, share.matching, share.in_window, share.both) == (5, 3, 3, 2)
    assert describe(result)[-1] == (
        "campaign #IMHAW17 @first1001days, 2017-06-12..2017-06-16: 2 of the 5 posts imported "
        "match its terms and fall in its window (3 match, 3 in the window)"
    )
    # a second import counts only its own posts, stored before or not
    again = write_jsonl(tmp_path / "b.jsonl", page(posts[3], post("6", created_at=inside)))
    share = import_files(engine, [again], campaign=campaign).campaign
    assert share is not None
    assert (share.posts, share.matching, share.in_window, share.both) == (2, 0, 2, 0)


def test_off_topic_data_is_said_plainly(engine: Engine) -> None:
    campaign = Campaign(hashtags=("IMHAW17",), accounts=())
    result = import_files(engine, [SEARCH], campaign=campaign)
    share = result.campaign
    assert share is not None and share.posts == len(ids_in(SEARCH))
    assert (share.matching, share.in_window, share.both) == (0, 0, 0)
    assert describe_share(share) == (
        f"campaign #IMHAW17, 2017-06-12..2017-06-16: none of the {share.posts:,} posts "
        "imported matches its terms and none falls in its window; its figures count none "
        "of them (check the archive and the config)"
    )


# --- the command: each file on its own (issue 11.12) --------------------------------------


def test_the_command_imports_the_posts_names_the_users_file_and_exits_1(
    tmp_path: Path, sqlite_url: str
) -> None:
    users = JSONL / "twarc-csv__users.jsonl"
    env = hashmon_env(HASHMON_DATABASE_URL=sqlite_url)
    done = run_hashmon(["import", str(SEARCH), str(users)], env, tmp_path)
    assert done.returncode == 1
    assert f"{SEARCH}: " in done.stdout and "new" in done.stdout
    err = [line for line in done.stderr.strip().splitlines() if not line.startswith("note: ")]
    assert err[0].startswith(f"Error: {users}, line 1: holds users, not posts")
    assert err[-1].startswith("Error: 1 of 2 files refused")
    assert "Traceback" not in done.stderr


# --- imports at once (issue 12.12) --------------------------------------------------------


@pytest.mark.parametrize("overlap", ["same-file", "overlapping-files"])
def test_two_imports_at_once_take_turns(engine: Engine, tmp_path: Path, overlap: str) -> None:
    a = big_archive(tmp_path / "a.jsonl", 3_000)
    if overlap == "same-file":
        b = a
    else:
        b = tmp_path / "b.jsonl"
        b.write_text("".join(reversed(a.read_text().splitlines(keepends=True))))
    results: list[object] = [None, None]
    start = threading.Barrier(2)

    def run(i: int, path: Path) -> None:
        start.wait()
        try:
            results[i] = import_files(engine, [path])
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate([a, b])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(isinstance(r, Exception) for r in results), results
    assert set(stored(engine)) == ids_in(a)
    with engine.connect() as conn:
        files = conn.execute(select(func.count()).select_from(ImportedFile)).scalar()
    assert files == (1 if overlap == "same-file" else 2)
    if overlap == "same-file":
        assert sorted(r.files[0].already_imported for r in results) == [False, True]  # type: ignore[union-attr]

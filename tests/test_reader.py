"""The reader child (``python -m monitor.reader``): big files are read by it, and it never
outlives or outlasts the import that started it.

tests/test_import.py runs every import case both ways; these tests cover what only the
child does: being used at all, ending when the import stops early, and failing clearly.
"""

from __future__ import annotations

import io
import pickle
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from monitor import reader
from monitor.archive import import_files
from monitor.errors import ImportFileError

LINE = (
    '{{"data": [{{"id": "{id}", "text": "#IMHAW17 {id}", "author_id": "5", '
    '"created_at": "2017-06-12T10:00:00.000Z"}}], '
    '"includes": {{"users": [{{"id": "5", "public_metrics": {{"followers_count": 3}}}}]}}}}\n'
)


def archive(path: Path, posts: int, bad_line: int | None = None) -> Path:
    lines = [LINE.format(id=i + 1) for i in range(posts)]
    if bad_line is not None:
        lines[bad_line - 1] = "hello, world\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


class Spy:
    """Records the reader children started, as subprocess.Popen objects."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, kill_at_once: bool = False) -> None:
        self.children: list[subprocess.Popen] = []
        real = subprocess.Popen

        def popen(*args, **kwargs):
            child = real(*args, **kwargs)
            self.children.append(child)
            if kill_at_once:
                child.kill()
            return child

        monkeypatch.setattr(reader.subprocess, "Popen", popen)


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()


def test_a_file_past_the_threshold_is_read_by_the_child(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = archive(tmp_path / "a.jsonl", 300)
    monkeypatch.setattr(reader, "CHILD_BYTES", path.stat().st_size)
    spy = Spy(monkeypatch)
    result = import_files(engine, [path])
    assert [c.args[-2:] for c in spy.children] == [["monitor.reader", str(path)]]
    assert spy.children[0].returncode == 0
    assert result.total("new") == stored(engine) == 300


def test_a_smaller_file_is_read_in_process(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = archive(tmp_path / "a.jsonl", 30)
    monkeypatch.setattr(reader, "CHILD_BYTES", path.stat().st_size + 1)
    spy = Spy(monkeypatch)
    import_files(engine, [path])
    assert spy.children == []
    assert stored(engine) == 30


def test_the_child_ends_when_its_file_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bad line comes first; the child has thousands of lines left to send
    path = archive(tmp_path / "a.jsonl", 20_000, bad_line=1)
    monkeypatch.setattr(reader, "CHILD_BYTES", 0)
    spy = Spy(monkeypatch)
    with pytest.raises(ImportFileError) as err:
        import_files(engine, [path])
    assert err.value.line == 1
    (child,) = spy.children
    assert child.poll() is not None  # stopped, not left writing to nobody
    assert stored(engine) == 0


def test_a_child_that_dies_is_one_clear_error_and_stores_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = archive(tmp_path / "a.jsonl", 300)
    monkeypatch.setattr(reader, "CHILD_BYTES", 0)
    Spy(monkeypatch, kill_at_once=True)
    with pytest.raises(ImportFileError) as err:
        import_files(engine, [path])
    assert "reader process stopped unexpectedly" in str(err.value)
    assert stored(engine) == 0


def test_a_child_that_cannot_read_reports_why(tmp_path: Path) -> None:
    out = io.BytesIO()
    reader._send_pages(tmp_path / "gone.jsonl", out)
    out.seek(0)
    kind, why = pickle.load(out)
    assert kind == "crash"
    assert "gone.jsonl" in why and "FileNotFoundError" in why


def test_the_child_reports_progress_up_to_the_whole_file(tmp_path: Path) -> None:
    path = archive(tmp_path / "a.jsonl", 5_000)
    ticks: list[int] = []
    pages = list(reader.pages_in_child(path, ticks.append))
    assert [line for line, _ in pages] == list(range(1, 5_001))
    assert sum(ticks) == path.stat().st_size
    assert len(ticks) > 1  # in steps as batches arrive, not once at the end

"""Archive import: twarc2 JSONL (search pages, stream lines, flattened posts) and single
API v2 response files, either gzipped.

All files of one import are written in one transaction: a file that is refused stores
nothing, and neither does the rest of that command.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from monitor import reader
from monitor.errors import ImportFileError
from monitor.normalize import AuthorRecord, PageRecords, PostRecord
from monitor.store.engine import writing
from monitor.store.runs import recorded_run
from monitor.store.schema import ImportedFile
from monitor.store.writes import ImportWriter
from monitor.times import now_text


@dataclass
class FileResult:
    path: str
    pages: int = 0
    posts_seen: int = 0
    new: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)
    already_imported: bool = False
    empty: bool = False


@dataclass
class ImportResult:
    files: list[FileResult]
    run_id: int | None = None

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)


class _Digest:
    """The SHA-256 of a file, computed in a thread while the file is being imported.

    Hashing a 1.7 GB archive first cost 1.5-2 s before its first line was read; hashlib
    releases the GIL on large buffers, so the digest is ready a few seconds into the
    import instead, on the other core (docs/PERFORMANCE.md).
    """

    CHUNK = 8 << 20  # few, large reads: the thread waits for the GIL once per chunk

    def __init__(self, path: Path) -> None:
        self.path = path
        self._value: str | None = None
        self._error: OSError | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._run, name="hashmon-sha256", daemon=True).start()

    def _run(self) -> None:
        try:
            digest = hashlib.sha256()
            buf = bytearray(self.CHUNK)
            view = memoryview(buf)
            with self.path.open("rb") as fh:
                while n := fh.readinto(buf):
                    if self._stop.is_set():
                        return
                    digest.update(view[:n])
            self._value = digest.hexdigest()
        except OSError as exc:
            self._error = exc
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def result(self) -> str:
        """Return the hex digest, waiting for it; raise ImportFileError if the file failed."""
        self._done.wait()
        if self._value is None:
            detail = self._error.strerror if self._error is not None else "stopped"
            raise ImportFileError(str(self.path), None, f"cannot be read ({detail})")
        return self._value

    def cancel(self) -> None:
        self._stop.set()


class _AlreadyImported(Exception):
    """Raised inside a file's import once its digest shows it was imported before."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block.

    An import allocates millions of short-lived containers (every parsed page) that form no
    cycles, and each allocation burst makes the collector walk every live object; paused,
    a million-post import ran ~10-25 % faster (docs/PERFORMANCE.md). Reference counting
    still frees every page as soon as it is stored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise ImportFileError(str(path), None, "file not found", "check the path")
    if path.is_dir():
        raise ImportFileError(str(path), None, "is a folder, not a file", "name the files in it")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ImportFileError(str(path), None, f"cannot be read ({exc.strerror})") from None


def import_files(
    engine: Engine,
    paths: Sequence[str | Path],
    *,
    skip_bad_lines: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    """Import archive files in argument order and return what each delivered.

    Everything is one transaction. Raises ImportFileError, naming file and line, for a
    file that is missing, unreadable, not JSON, or holds no posts (a users or counts
    archive); the database is then left as it was. With ``skip_bad_lines`` a bad line is
    recorded in the result and the rest of the file is imported. ``progress`` is called
    as ``(path, bytes_total, bytes_advanced)``.
    """
    files = [Path(p) for p in paths]
    for path in files:
        _check_readable(path)
    result = ImportResult(files=[])
    seen_at = now_text()
    what = f"import of {len(files)} file(s)"
    with (
        _gc_paused(),
        writing(engine) as conn,
        # in the import's one transaction: a refused file leaves no run either
        recorded_run(conn, "import", what, started_at=seen_at) as run,
    ):
        result.run_id = run.run_id
        writer = ImportWriter(conn, run_id=run.run_id, seen_at=seen_at)
        done_hashes: set[str] = set()

        def known(digest: str) -> bool:
            return digest in done_hashes or (
                conn.execute(
                    select(ImportedFile.sha256).where(ImportedFile.sha256 == digest)
                ).first()
                is not None
            )

        for path in files:
            fr, digest = _import_file(conn, writer, path, known, skip_bad_lines, progress)
            result.files.append(fr)
            if digest is None:
                continue
            done_hashes.add(digest)
            conn.execute(
                ImportedFile.__table__.insert().values(
                    sha256=digest,
                    path=str(path),
                    run_id=run.run_id,
                    imported_at=seen_at,
                    pages=fr.pages,
                    posts=fr.posts_seen,
                )
            )
        writer.finish()
        run.pages = result.total("pages")
        run.posts_read = result.total("posts_seen")
        run.new = result.total("new")
        run.updated = result.total("updated")
        run.skipped = sum(len(f.skipped) for f in result.files)
    return result


def _import_file(
    conn: Connection,
    writer: ImportWriter,
    path: Path,
    known: Callable[[str], bool],
    skip_bad_lines: bool,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[FileResult, str | None]:
    """Import one file; return what it delivered and its SHA-256 (None: imported before).

    The file is read while its digest is computed (``_Digest``), inside a savepoint: a
    file whose digest is ``known`` is rolled back to it, whenever that shows, and counts
    as already imported, even if a line of it would have been refused.
    """
    fr = FileResult(path=str(path))
    total_bytes = path.stat().st_size
    tick = (lambda n: progress(str(path), total_bytes, n)) if progress else None
    pages = (reader.pages_in_child if reader.read_in_child(path) else reader.pages)(path, tick)
    digest = _Digest(path)
    checked = False

    def check_digest() -> None:
        nonlocal checked
        if not checked and digest.ready:
            checked = True
            if known(digest.result()):
                raise _AlreadyImported

    savepoint = conn.begin_nested()
    try:
        with closing(pages):
            _import_one(writer, path, pages, fr, skip_bad_lines, check_digest)
        if not checked and known(digest.result()):
            raise _AlreadyImported
    except (_AlreadyImported, ImportFileError) as exc:
        # a refused file waits for its digest: the same bytes imported before are no error
        if not isinstance(exc, _AlreadyImported) and (checked or not known(digest.result())):
            raise  # a refused file: the caller's transaction rolls everything back
        savepoint.rollback()
        writer.forget()  # what it staged is gone with the savepoint
        return FileResult(path=str(path), already_imported=True), None
    except BaseException:
        digest.cancel()
        raise
    savepoint.commit()
    return fr, digest.result()


def _import_one(
    writer: ImportWriter,
    path: Path,
    pages: Iterator[tuple[int, PageRecords | str]],
    fr: FileResult,
    skip_bad_lines: bool,
    between_batches: Callable[[], None] = lambda: None,
) -> None:
    posts: list[PostRecord] = []
    authors: list[AuthorRecord] = []
    non_posts = 0
    first_non_post: tuple[int, str | None] | None = None
    lines = 0

    def flush() -> None:
        between_batches()
        new, updated = writer.write(posts, authors)
        fr.new += new
        fr.updated += updated
        posts.clear()
        authors.clear()

    for lineno, records in pages:
        lines += 1
        if isinstance(records, str):
            if not skip_bad_lines:
                raise ImportFileError(
                    str(path),
                    lineno,
                    records,
                    "fix it, or pass --skip-bad-lines to import the rest",
                )
            fr.skipped.append((lineno, records))
            continue
        fr.pages += 1
        if records.non_posts:
            non_posts += records.non_posts
            if first_non_post is None:
                first_non_post = (lineno, records.non_post_kind)
        fr.posts_seen += len(records.posts)
        posts.extend(records.posts)
        authors.extend(records.authors)
        if len(posts) >= writer.batch_posts:
            flush()
    flush()
    if lines == 0:
        fr.empty = True
    if fr.posts_seen == 0 and first_non_post is not None:
        lineno, kind = first_non_post
        what = (
            f"holds {kind}, not posts" if kind else "holds no posts (its data items are not posts)"
        )
        raise ImportFileError(
            str(path),
            lineno,
            what,
            "hashmon imports post archives (twarc2 search or stream output)",
        )


def describe(result: ImportResult) -> list[str]:
    """Return the human summary lines of an import, one per file plus a total."""
    out = []
    for f in result.files:
        if f.already_imported:
            out.append(f"{f.path}: already imported (same contents); nothing changed")
            continue
        if f.empty:
            out.append(f"{f.path}: empty file; nothing imported")
            continue
        line = (
            f"{f.path}: {f.pages} pages, {f.posts_seen} posts seen, "
            f"{f.new} new, {f.updated} updated"
        )
        if f.skipped:
            where = ", ".join(str(n) for n, _ in f.skipped[:10])
            more = "" if len(f.skipped) <= 10 else f" and {len(f.skipped) - 10} more"
            line += f"; skipped {len(f.skipped)} bad line(s): {where}{more}"
        out.append(line)
    if len(result.files) > 1:
        out.append(
            f"total: {result.total('pages')} pages, {result.total('posts_seen')} posts seen, "
            f"{result.total('new')} new, {result.total('updated')} updated"
        )
    return out

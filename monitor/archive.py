"""Archive import: twarc2 JSONL (search pages, stream lines, flattened posts) and single
API v2 response files, either gzipped.

All files of one import are written in one transaction: a file that is refused stores
nothing, and neither does the rest of that command.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine, select

from monitor import store
from monitor.errors import ImportFileError
from monitor.normalize import AuthorRecord, PageError, PostRecord, normalize_page

BATCH_POSTS = 2000  # sightings per executemany: large enough to amortise, small in memory
_GZIP_MAGIC = b"\x1f\x8b"


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


def _open(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decode_problem(exc: Exception, whole_document: bool = False) -> str:
    msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    if whole_document:
        return f"not valid JSON ({msg}); a saved API response must be one JSON object"
    return f"not valid JSON ({msg}); a twarc2 file has one JSON object per line"


def read_pages(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, decoded JSON or an Exception)`` for each non-blank line.

    A file that is one pretty-printed JSON document (a saved API response) yields it
    once as line 1. A gzip stream cut short yields the error at the line it stopped on.
    """
    with _open(path) as fh:
        raw = fh if not isinstance(fh, gzip.GzipFile) else fh.fileobj
        last = 0
        lineno = 0
        first_bad: tuple[int, Exception] | None = None
        try:
            for lineno, line in enumerate(fh, 1):  # noqa: B007 - lineno is read after the loop
                if progress is not None and raw is not None:
                    pos = raw.tell()
                    progress(pos - last)
                    last = pos
                if not line.strip():
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    if first_bad is None and lineno == 1 and line.strip() in (b"{", b"["):
                        first_bad = (lineno, exc)
                        break  # probably one pretty-printed document: read it whole below
                    yield lineno, ValueError(_decode_problem(exc))
                    continue
                yield lineno, value
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            yield lineno + 1, ValueError(f"the gzip stream is cut short or corrupt ({exc})")
            return
    if first_bad is not None:
        with _open(path) as fh:
            try:
                yield 1, orjson.loads(fh.read())
            except orjson.JSONDecodeError as exc:
                # one document over many lines: name the physical line of the fault
                yield getattr(exc, "lineno", 1) or 1, ValueError(_decode_problem(exc, True))
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                yield 1, ValueError(f"the gzip stream is cut short or corrupt ({exc})")


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
    seen_at = store.now_text()
    with store.writing(engine) as conn:
        run_id = store.start_run(conn, "import", seen_at)
        result.run_id = run_id
        done_hashes: set[str] = set()
        for path in files:
            digest = _sha256(path)
            fr = FileResult(path=str(path))
            result.files.append(fr)
            already = conn.execute(
                select(store.ImportedFile.sha256).where(store.ImportedFile.sha256 == digest)
            ).first()
            if already is not None or digest in done_hashes:
                fr.already_imported = True
                continue
            done_hashes.add(digest)
            _import_one(conn, path, fr, run_id, seen_at, skip_bad_lines, progress)
            conn.execute(
                store.ImportedFile.__table__.insert().values(
                    sha256=digest,
                    path=str(path),
                    run_id=run_id,
                    imported_at=seen_at,
                    pages=fr.pages,
                    posts=fr.posts_seen,
                )
            )
        store.finish_run(
            conn,
            run_id,
            "ok",
            pages=result.total("pages"),
            posts_read=result.total("posts_seen"),
            posts_new=result.total("new"),
            posts_updated=result.total("updated"),
            errors=sum(len(f.skipped) for f in result.files),
            message=f"import of {len(files)} file(s)",
        )
    return result


def _import_one(
    conn: Any,
    path: Path,
    fr: FileResult,
    run_id: int,
    seen_at: str,
    skip_bad_lines: bool,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    total_bytes = path.stat().st_size
    tick = (lambda n: progress(str(path), total_bytes, n)) if progress else None
    posts: list[PostRecord] = []
    authors: list[AuthorRecord] = []
    non_posts = 0
    first_non_post: tuple[int, str | None] | None = None
    lines = 0

    def flush() -> None:
        new, updated = store.store_batch(conn, posts, authors, run_id=run_id, seen_at=seen_at)
        fr.new += new
        fr.updated += updated
        posts.clear()
        authors.clear()

    for lineno, value in read_pages(path, tick):
        lines += 1
        try:
            if isinstance(value, Exception):
                raise PageError(str(value))
            records = normalize_page(value)
        except PageError as exc:
            if not skip_bad_lines:
                raise ImportFileError(
                    str(path),
                    lineno,
                    str(exc),
                    "fix it, or pass --skip-bad-lines to import the rest",
                ) from None
            fr.skipped.append((lineno, str(exc)))
            continue
        fr.pages += 1
        if records.non_posts:
            non_posts += records.non_posts
            if first_non_post is None:
                first_non_post = (lineno, records.non_post_kind)
        fr.posts_seen += len(records.posts)
        posts.extend(records.posts)
        authors.extend(records.authors)
        if len(posts) >= BATCH_POSTS:
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

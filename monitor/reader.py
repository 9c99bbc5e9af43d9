"""Reading an archive: its lines decoded and normalised, in this process or in a child.

An import is two halves of about equal cost: reading, parsing and normalising the file,
and storing its records. For a big file the first half runs in a child process, this
module run as a program (``python -m monitor.reader FILE``), which sends the records
back as pickled batches on its standard output while the importer stores the previous
ones: on two cores a million-post import takes ~35 % less time (docs/PERFORMANCE.md).
The child imports only what reading needs (no database driver) and inherits no
descriptors; if the importer dies, its next write fails and it ends.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import orjson

from monitor.errors import ImportFileError
from monitor.normalize import PageError, PageRecords, normalize_page

_GZIP_MAGIC = b"\x1f\x8b"
# byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's): a twarc2 file saved
# by a Windows redirect is UTF-16 with a BOM and CRLF lines
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)

_READ_BUFFER = 1 << 20  # twarc2 lines are ~150 kB: an 8 kB buffer read each in ~20 calls

# Limits on what one line (or one whole pretty-printed document) may hold, so that no
# input makes an import take more than ~200 MB whatever its size (issue 12.5). X sends
# pages of at most 500 posts: the densest recorded twarc2 line (100 posts, every
# expansion) is 0.8 MB with 35,000 JSON values, so a page of 500 ~4 MB and ~175,000.
# A line of 32 MiB (one long text) peaked at 212 MB; at 16 MiB the worst is ~120 MB.
MAX_LINE_BYTES = 16 << 20
# Parsed JSON and its records take up to ~150 bytes a value whatever its size ("[{},{}]"
# is 3 bytes a dict), so a line past this many separators and brackets (counted in C,
# before parsing) is refused: ~100 MB at most.
MAX_LINE_VALUES = 600_000


class _Undecodable(ValueError):
    """A line or document past a limit, or not text: refused before it is parsed."""


def _open(path: Path) -> tuple[IO[bytes], str | None]:
    """Open ``path`` (gzip or not); return the byte stream and the encoding its BOM names."""
    raw = path.open("rb", buffering=_READ_BUFFER)
    try:
        fh: IO[bytes] = raw
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            fh = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            try:
                head = fh.peek(4)[:4]  # type: ignore[attr-defined]
            except (EOFError, zlib.error, OSError):
                head = b""  # a broken stream: reading its first line names the fault
        else:
            raw.seek(0)
            head = raw.peek(4)[:4]
    except BaseException:
        raw.close()
        raise
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return fh, encoding
    return fh, None


_SKIP_CHUNK = 1 << 20


def _lines(fh: IO[bytes], encoding: str | None) -> Iterator[bytes | None]:
    """Yield the lines of ``fh`` as UTF-8 bytes; None for a line past MAX_LINE_BYTES.

    The rest of an over-long line is skipped in 1 MiB reads: memory stays bounded
    whatever the line's length.
    """
    if encoding is None:
        limit = MAX_LINE_BYTES + 1
        while line := fh.readline(limit):
            if len(line) == limit and not line.endswith(b"\n"):
                del line
                while (more := fh.readline(_SKIP_CHUNK)) and not more.endswith(b"\n"):
                    pass
                yield None
                continue
            yield line
        return
    text = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline=None)  # type: ignore[arg-type]
    chars = MAX_LINE_BYTES // 4 + 1  # a character is at most 4 bytes of UTF-8
    while line_text := text.readline(chars):
        if len(line_text) == chars and not line_text.endswith("\n"):
            del line_text
            while (rest := text.readline(_SKIP_CHUNK)) and not rest.endswith("\n"):
                pass
            yield None
            continue
        line = line_text.encode("utf-8", "surrogatepass")
        del line_text
        yield line


def _too_long(what: str) -> str:
    return (
        f"{what} is longer than {MAX_LINE_BYTES >> 20} MiB, far more than any X API "
        "response; it is not an archive hashmon can read"
    )


def _too_big(data: bytes | None, what: str) -> str | None:
    """Return why ``data`` (one line or one document) is refused unparsed, or None."""
    if data is None or len(data) > MAX_LINE_BYTES:
        return _too_long(what)
    if len(data) > (1 << 20):  # a smaller one cannot hold enough values to matter
        values = data.count(b",") + data.count(b"{") + data.count(b"[")
        if values > MAX_LINE_VALUES:
            return (
                f"{what} holds more than {MAX_LINE_VALUES:,} JSON values, far more than any "
                "X API response; it is not an archive hashmon can read"
            )
    return None


def _decode_problem(exc: Exception, whole_document: bool = False) -> str:
    msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    if whole_document:
        return f"not valid JSON ({msg}); a saved API response must be one JSON object"
    return f"not valid JSON ({msg}); a twarc2 file has one JSON object per line"


_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


def _stream_problem(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"is not {exc.encoding.upper()} text, as its byte-order mark says ({exc.reason})"
    return f"the gzip stream is cut short or corrupt ({exc})"


def read_pages(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, decoded JSON or an Exception)`` for each non-blank line.

    A file that is one pretty-printed JSON document (a saved API response) yields it
    once as line 1. A gzip stream cut short yields the error at the line it stopped on.
    A file that starts with a UTF-16 or UTF-32 byte-order mark is read in that encoding.
    A line, or a document, past MAX_LINE_BYTES or MAX_LINE_VALUES yields an error
    unparsed; memory stays bounded whatever the input.
    """
    fh, encoding = _open(path)
    with fh:
        raw = fh if not isinstance(fh, gzip.GzipFile) else fh.fileobj
        last = 0
        lineno = 0
        first_bad: tuple[int, Exception] | None = None
        try:
            for lineno, line in enumerate(_lines(fh, encoding), 1):  # noqa: B007 - read after
                if progress is not None and raw is not None:
                    pos = raw.tell()
                    progress(pos - last)
                    last = pos
                if line is None:
                    yield lineno, _Undecodable(_too_long("the line"))
                    continue
                if not line.strip():
                    continue
                problem = _too_big(line.rstrip(b"\r\n"), "the line")
                if problem is not None:
                    yield lineno, _Undecodable(problem)
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
        except (*_STREAM_ERRORS, UnicodeDecodeError) as exc:
            yield lineno + 1, ValueError(_stream_problem(exc))
            return
    if first_bad is not None:
        yield from _read_document(path)


def _read_document(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield the one pretty-printed document of ``path`` as line 1, or why it is refused."""
    fh, encoding = _open(path)
    with fh:
        try:
            # never more than the limit (and one byte to tell it was passed) in memory
            data: bytes | None
            if encoding is None:
                data = fh.read(MAX_LINE_BYTES + 1)
            else:
                text = io.TextIOWrapper(fh, encoding=encoding, newline=None)  # type: ignore[arg-type]
                data = text.read(MAX_LINE_BYTES // 4).encode("utf-8", "surrogatepass")
                if text.read(1):
                    data = None  # more than the limit's worth of characters
        except (*_STREAM_ERRORS, UnicodeDecodeError) as exc:
            yield 1, ValueError(_stream_problem(exc))
            return
    problem = _too_big(data, "the document (a file of one pretty-printed JSON object)")
    if problem is not None:
        yield 1, _Undecodable(problem)
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # one document over many lines: name the physical line of the fault
        yield getattr(exc, "lineno", 1) or 1, ValueError(_decode_problem(exc, True))
        return
    del data
    yield 1, value


def pages(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, PageRecords | str]]:
    """Yield ``(line number, the page's records, or why the line cannot be used)``."""
    for lineno, value in read_pages(path, progress):
        if isinstance(value, Exception):
            yield lineno, str(value)
            continue
        try:
            yield lineno, normalize_page(value)
        except PageError as exc:
            yield lineno, str(exc)


# Files this big are read by a child process; smaller ones are not worth its start-up
# (~0.1 s), nor its memory.
CHILD_BYTES = 4 << 20
_CHILD_POSTS = 2_000  # posts a batch from the child: ~1 MB pickled


def read_in_child(path: Path) -> bool:
    """Return True when ``path`` is big enough to be read by a child process."""
    return path.stat().st_size >= CHILD_BYTES


def _send_pages(path: Path, out: IO[bytes]) -> None:
    """The child's work: write ``(bytes read, [(line, records or problem), ...])`` batches
    to ``out``, then None; or ``("crash", why)``. Records go as plain tuples.
    """
    read = 0

    def tick(n: int) -> None:
        nonlocal read
        read += n

    items: list[tuple[int, Any]] = []
    posts = 0
    try:
        for lineno, records in pages(path, tick):
            if isinstance(records, str):
                items.append((lineno, records))
            else:
                posts += len(records.posts)
                page = (
                    list(map(tuple, records.posts)),
                    list(map(tuple, records.authors)),
                    records.non_posts,
                    records.non_post_kind,
                    records.api,
                )
                items.append((lineno, page))
            if posts >= _CHILD_POSTS or len(items) >= 100:
                pickle.dump((read, items), out, pickle.HIGHEST_PROTOCOL)
                items, posts = [], 0
        pickle.dump((read, items), out, pickle.HIGHEST_PROTOCOL)
        pickle.dump(None, out)
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the importer stopped reading: a refused file, or it was stopped
    except Exception as exc:  # noqa: BLE001 - the importer turns it into its one-line error
        pickle.dump(("crash", f"{type(exc).__name__}: {exc}"), out)
        out.flush()


def pages_in_child(
    path: Path, progress: Callable[[int], None] | None = None, name: str | None = None
) -> Iterator[tuple[int, PageRecords | str]]:
    """``pages``, read and normalised by a child process while the caller stores.

    Raises ImportFileError (naming the file ``name``, else ``path``) if the child cannot
    read the file or stops unexpectedly.
    Closing the generator early stops the child.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "monitor.reader", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    reported = 0
    finished = False
    try:
        while True:
            try:
                message = pickle.load(child.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise ImportFileError(
                    name or str(path),
                    None,
                    f"its reader process stopped unexpectedly (exit {child.wait()})",
                    "run the import again",
                ) from None
            if message is None:
                finished = True
                return
            if message[0] == "crash":
                raise ImportFileError(name or str(path), None, f"cannot be read ({message[1]})")
            read, items = message
            if progress is not None:
                progress(read - reported)
                reported = read
            for lineno, records in items:
                yield lineno, records if isinstance(records, str) else PageRecords(*records)
    finally:
        if finished:  # it has sent everything and is exiting
            with suppress(subprocess.TimeoutExpired):
                child.wait(10)
        child.stdout.close()
        if child.poll() is None:
            child.kill()  # stopped early (a refused file), or it hangs
        child.wait()


def main(argv: list[str]) -> int:
    """``python -m monitor.reader FILE``: the child's entry point (see the module's doc)."""
    _send_pages(Path(argv[0]), sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    import gc

    gc.disable()  # parsed pages form no cycles; see monitor.archive._gc_paused
    sys.exit(main(sys.argv[1:]))

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

import gzip
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


_READ_BUFFER = 1 << 20  # twarc2 lines are ~150 kB: an 8 kB buffer read each in ~20 calls


def _open(path: Path) -> IO[bytes]:
    raw = path.open("rb", buffering=_READ_BUFFER)
    head = raw.read(2)
    raw.seek(0)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


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
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, PageRecords | str]]:
    """``pages``, read and normalised by a child process while the caller stores.

    Raises ImportFileError if the child cannot read the file or stops unexpectedly.
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
                    str(path),
                    None,
                    f"its reader process stopped unexpectedly (exit {child.wait()})",
                    "run the import again",
                ) from None
            if message is None:
                finished = True
                return
            if message[0] == "crash":
                raise ImportFileError(str(path), None, f"cannot be read ({message[1]})")
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

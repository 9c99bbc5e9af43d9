"""What an import reads: the path checked, a pipe or stdin copied once, the SHA-256.

What is recorded as imported must be exactly what was read. A plain file reached by its
own name is read where it is (by the reader, perhaps in a child process) and hashed
while it is read; anything else (a pipe, stdin, /dev/fd/N) is first copied once to a
temporary file, and that copy is both read and hashed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from monitor.errors import ImportFileError


class Digest:
    """The SHA-256 of a file, computed in a thread while the file is being imported.

    Hashing a 1.7 GB archive first cost 1.5-2 s before its first line was read; hashlib
    releases the GIL on large buffers, so the digest is ready a few seconds into the
    import instead, on the other core (docs/PERFORMANCE.md).
    """

    CHUNK = 8 << 20  # few, large reads: the thread waits for the GIL once per chunk

    def __init__(self, path: Path, name: str | None = None) -> None:
        self.path = path
        self.name = name or str(path)
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
            raise ImportFileError(self.name, None, f"cannot be read ({detail})")
        return self._value

    def cancel(self) -> None:
        self._stop.set()


def check_readable(path: Path) -> None:
    if not path.exists():
        raise ImportFileError(str(path), None, "file not found", "check the path")
    if path.is_dir():
        raise ImportFileError(str(path), None, "is a folder, not a file", "name the files in it")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ImportFileError(str(path), None, f"cannot be read ({exc.strerror})") from None


def _needs_copy(path: Path) -> bool:
    """True for a path that must be read once, here, and not reopened by name.

    A pipe or terminal cannot be read twice (once to parse, once to hash), and a path
    such as /dev/stdin or /dev/fd/3 names a different file in the reader's child
    process; only a plain file reached by its own name is opened more than once.
    """
    name = str(path)
    if name.startswith(("/dev/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # _check_readable says what is wrong


@contextmanager
def readable_copy(path: Path) -> Iterator[Path]:
    """Yield a path to read ``path``'s bytes from: itself, or a temporary copy of them."""
    if not _needs_copy(path):
        yield path
        return
    fd, spooled = tempfile.mkstemp(prefix="hashmon-import-", suffix=".spool")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with path.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            except OSError as exc:
                raise ImportFileError(
                    str(path), None, f"cannot be read ({exc.strerror or exc})"
                ) from None
        yield Path(spooled)
    finally:
        with suppress(OSError):
            os.unlink(spooled)

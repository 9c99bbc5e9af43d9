"""Progress display for long commands: a rich bar on a terminal, nothing when piped."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def byte_progress(paths: Sequence[str]) -> Iterator[Callable[[str, int, int], None] | None]:
    """Yield a ``(path, total_bytes, advanced)`` callback drawing a bar, or None off a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    total = 0
    for p in paths:
        with suppress(OSError):
            total += os.path.getsize(p)
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("import", total=total or None)

        def tick(_path: str, _total: int, advanced: int) -> None:
            bar.advance(task, advanced)

        yield tick

"""The Source interface: something that serves raw X API v2 pages.

A live source (X, or the simulator) is asked for pages of a search, newest first, and
for lookups of known ids; the collect pass turns those pages into stored records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

Page = dict[str, Any]


class SinceIdTooOld(Exception):
    """The source no longer reaches back to ``since_id`` (X recent search: 7 days)."""


class Source(ABC):
    """Serves raw API v2 response pages; counts the requests it makes."""

    platform: str = "x"
    #: checkpoint key of this source's search in the ``checkpoints`` table
    name: str = "x:recent"
    #: the largest number of ids one lookup request takes
    lookup_batch: int = 100

    def __init__(self) -> None:
        self.requests = 0

    @abstractmethod
    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        """Yield pages of the campaign search, newest first, for ids in (since_id, until_id).

        Raises SinceIdTooOld when ``since_id`` is beyond the source's reach, and
        monitor.errors.SourceError for failures a retry did not fix.
        """

    @abstractmethod
    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        """Yield lookup pages for ``ids`` (at most ``lookup_batch`` per request)."""


def page_id_range(page: Page) -> tuple[str | None, str | None]:
    """Return (newest_id, oldest_id) of a search page, from ``meta`` or else its data."""
    meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
    newest, oldest = meta.get("newest_id"), meta.get("oldest_id")
    if newest and oldest:
        return str(newest), str(oldest)
    ids = [
        str(item["id"])
        for item in page.get("data") or []
        if isinstance(item, dict) and str(item.get("id", "")).isdigit()
    ]
    if not ids:
        return None, None
    key = lambda i: (len(i), i)  # noqa: E731 - decimal ids compare as numbers
    return max(ids, key=key), min(ids, key=key)

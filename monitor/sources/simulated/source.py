"""The simulated campaign behind the Source interface: X recent search and lookup at ``now``."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterator, Sequence

from monitor.settings import Settings
from monitor.sources.base import Page, SinceIdTooOld, Source
from monitor.sources.simulated.campaign import SimulatedCampaign, simulate_campaign
from monitor.sources.simulated.ids import epoch_ms, iso, snowflake, snowflake_ms

#: how far back X recent search reaches
SEARCH_REACH = dt.timedelta(days=7)


class SimulatedSource(Source):
    """Serves a SimulatedCampaign as X recent search and lookup, at the clock ``now``.

    ``campaign`` is a SimulatedCampaign, or Settings (then the campaign is simulated
    with ``settings.source.seed``). ``now`` (aware UTC) is settable: the demo moves it
    on hour by hour. ``clock`` is an aware datetime to start at, or a callable returning
    one, read each time until ``now`` is assigned; without it the source starts at the end
    of the simulated span (every post made, the last 7 days searchable).
    The source keeps no memory of what it served: a pass that overlaps an earlier one
    simply gets those posts again, with counts grown to ``now``.
    """

    platform = "x"
    name = "simulated:recent"
    search_reach = SEARCH_REACH

    def __init__(
        self,
        campaign: SimulatedCampaign | Settings,
        clock: Callable[[], dt.datetime] | dt.datetime | None = None,
    ) -> None:
        super().__init__()
        if isinstance(campaign, Settings):
            campaign = simulate_campaign(campaign, seed=campaign.source.seed)
        self.campaign = campaign
        self._clock: Callable[[], dt.datetime] | None = None
        self._now = campaign.span_end_at
        if callable(clock):
            self._clock = clock
        elif clock is not None:
            self.now = clock

    @property
    def now(self) -> dt.datetime:
        """The moment the source answers as of (aware UTC)."""
        return self._clock() if self._clock is not None else self._now

    @now.setter
    def now(self, value: dt.datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("now must be an aware datetime (UTC)")
        self._clock = None
        self._now = value.astimezone(dt.UTC)

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        """Yield search pages, newest first, for ids in (since_id, until_id).

        Only posts created at or before ``now`` and within the last 7 days, as X recent
        search. Raises SinceIdTooOld (on the first page asked for, like the X source) when
        ``since_id`` was made more than 7 days before ``now``. Each page, and the refused
        request, counts as one request.
        """
        c = self.campaign
        now_ms = epoch_ms(self.now)
        reach_ms = now_ms - int(self.search_reach / dt.timedelta(milliseconds=1))
        lo = bisect.bisect_left(c.ids, snowflake(reach_ms))
        if since_id is not None:
            if snowflake_ms(since_id) < reach_ms:
                self.requests += 1
                raise SinceIdTooOld(
                    f"since_id {since_id} was made at {iso(snowflake_ms(since_id))}, more "
                    f"than {self.search_reach.days} days before {iso(now_ms)}: recent search "
                    "no longer reaches it"
                )
            lo = max(lo, bisect.bisect_right(c.ids, int(since_id)))
        hi = c.index_after(now_ms)
        if until_id is not None:
            hi = min(hi, bisect.bisect_left(c.ids, int(until_id)))
        for page in c.search_pages(lo, hi, now_ms):
            self.requests += 1
            yield page

    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        """Yield lookup pages (GET /2/tweets) of up to 100 ids, metrics as of ``now``.

        Ids not found (or not created yet) are in the page's ``errors`` array.
        """
        now_ms = epoch_ms(self.now)
        ids = list(ids)
        for start in range(0, len(ids), self.lookup_batch):
            self.requests += 1
            yield self.campaign.lookup_page(ids[start : start + self.lookup_batch], now_ms)

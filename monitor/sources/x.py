"""The X source: recent search, full-archive search and lookups through ``tweepy.Client``.

tweepy makes the requests (through ``x_http.DeadlineSession``: each request's deadline
and body cap) and parses the bodies; this module decides what a failure means, where it
arises (``x_faults`` reads what the answer says): 5xx, timeouts, dropped connections
and bodies that are not JSON are retried with bounded exponential backoff; a 429 waits
for ``x-rate-limit-reset`` (bounded, never tweepy's own endless ``wait_on_rate_limit``); a
429 saying the monthly usage cap is reached stops at once; 401/403 become one clear
SourceError; a 400 about a ``since_id`` older than the search window becomes
SinceIdTooOld, so the pass collects what the window holds and records the gap.

The bearer token comes from the environment only and is never logged (jobs/logs.py
redacts tweepy's DEBUG header dumps) nor stored.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests
import tenacity
import tweepy

from monitor.budget import allowance
from monitor.errors import ConfigError, PassStopped, SourceError
from monitor.settings import TOKEN_ENV, Campaign, Settings, bearer_token
from monitor.sources.base import Page, SinceIdTooOld, Source
from monitor.sources.x_faults import (
    describe_transport,
    detail,
    malformed,
    param_in_error,
    usage_capped,
)
from monitor.sources.x_http import DeadlineSession
from monitor.times import local_midnight

log = logging.getLogger(__name__)

__all__ = ["TOKEN_ENV", "XArchiveSource", "XSource", "bearer_token", "build_query"]
# the fields and expansions METRICS.md needs: kinds, matches, counts, first-sighting followers
TWEET_FIELDS = [
    "author_id",
    "created_at",
    "entities",
    "public_metrics",
    "referenced_tweets",
    "conversation_id",
    "in_reply_to_user_id",
    "lang",
]
EXPANSIONS = [
    "author_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    "entities.mentions.username",
]
USER_FIELDS = ["public_metrics", "username", "name", "verified"]
RECENT_PAGE = 100  # recent search: 10..100 posts a request
ARCHIVE_PAGE = 500  # full-archive search: 10..500
MIN_PAGE = 10
QUERY_LIMIT = 512  # characters of a query on the Basic and Pro access levels
BACKOFF_FIRST = 1.0  # seconds before the first retry; doubles each time
BACKOFF_CAP = 60.0
# pages in a row that bring no post not already read in the pass: past this the
# pagination is going nowhere (X ends a search with a page without next_token)
MAX_IDLE_PAGES = 10


def build_query(campaign: Campaign) -> str:
    """Return the one search query for the campaign: ``(#tag OR @account ...)``.

    Terms may be configured with or without ``#``/``@``. Raises ConfigError when the
    query is longer than X accepts.
    """
    query = campaign.query()
    if len(query) > QUERY_LIMIT:
        raise ConfigError(
            f"the search query built from [campaign] hashtags and accounts is {len(query)} "
            f"characters; X accepts {QUERY_LIMIT}: configure fewer terms"
        )
    return query


class _OutOfReach(Exception):
    """A 400 saying ``until_id`` is older than the search window: nothing lies below it."""


class XSource(Source):
    """Pages of the campaign's X search, newest first, and lookups of stored ids.

    ``sleep`` waits between retries (tests pass a fake; the scheduler passes one that
    renews the lease and stops on SIGTERM). ``budget`` is how many more posts this
    source may read (the monthly cap): it asks for no more than that and raises
    PassStopped before a request that could cross it. ``posts_read`` counts the posts
    the API delivered.
    """

    name = "x:recent"
    idle_limit = MAX_IDLE_PAGES

    def __init__(
        self,
        settings: Settings,
        token: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        budget: int | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.query = build_query(settings.campaign)
        self.client = tweepy.Client(
            bearer_token=bearer_token(token), return_type=dict, wait_on_rate_limit=False
        )
        self.client.session = DeadlineSession(
            settings.x.request_timeout_seconds, settings.x.api_base_url
        )
        self.sleep = sleep
        self.clock = clock
        self.budget = budget
        self.posts_read = 0
        self.page_size = RECENT_PAGE
        self.faults_named: set[str] = set()  # faults already warned of in this pass

    def __repr__(self) -> str:  # never the client, which holds the token
        return f"{type(self).__name__}(query={self.query!r})"

    # --- the Source interface -------------------------------------------------------

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        """Yield recent-search pages newest first for ids in (since_id, until_id).

        Raises SinceIdTooOld when X refuses ``since_id`` as older than its 7-day window,
        PassStopped when the budget allows no further page, SourceError otherwise.
        """
        params: dict[str, Any] = {}
        if since_id is not None:
            params["since_id"] = since_id
        if until_id is not None:
            params["until_id"] = until_id
        try:
            yield from self._paginate(self.client.search_recent_tweets, params)
        except _OutOfReach:
            log.warning("X's search window holds nothing below id %s", until_id)

    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        """Yield one lookup page per ``lookup_batch`` ids, with the search's fields."""
        ids = list(ids)
        for start in range(0, len(ids), self.lookup_batch):
            chunk = ids[start : start + self.lookup_batch]
            self._check_budget(len(chunk), len(chunk))
            page = self._request(self.client.get_tweets, ids=chunk, **self._fields())
            self._count(page)
            yield page

    # --- requests ---------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        return {"tweet_fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user_fields": USER_FIELDS}

    def _check_budget(self, wanted: int, least: int) -> int:
        """Return how many posts the next request may ask for; PassStopped if too few."""
        cap = self.settings.x.monthly_post_cap
        return allowance(self.budget, self.posts_read, wanted, least, cap)

    def _count(self, page: Page) -> None:
        data = page.get("data")
        self.posts_read += len(data) if isinstance(data, list) else 0

    def _paginate(self, call: Callable[..., Any], params: dict[str, Any]) -> Iterator[Page]:
        """Yield pages while X says there are more, and the pagination moves forward.

        A ``next_token`` already followed, a page whose posts were all read already on an
        earlier page, or ``idle_limit`` pages in a row without a new post mean the
        server is going round in circles: the pass stops (PassStopped, recorded with why)
        instead of running for ever, holding the lease, or spending the month's cap.
        """
        next_token: str | None = None
        tokens: set[str] = set()
        ids: set[str] = set()
        idle = 0
        pages = 0
        while True:
            size = self._check_budget(self.page_size, MIN_PAGE)
            args = {"query": self.query, "max_results": size, **self._fields(), **params}
            if next_token:
                args["next_token"] = next_token
            page = self._request(call, **args)
            self._count(page)
            pages += 1
            page_ids = _post_ids(page)
            fresh = page_ids - ids
            ids |= page_ids
            yield page
            meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
            next_token = meta.get("next_token")
            if not next_token:
                return
            why = None
            if not isinstance(next_token, str) or next_token in tokens:
                why = f"X sent page {pages}'s next_token a second time"
            elif page_ids and not fresh:
                why = f"X sent page {pages} with only posts already read in this pass"
            idle = 0 if fresh else idle + 1
            if why is None and idle >= self.idle_limit:
                why = f"X sent {idle} pages in a row without a new post (to page {pages})"
            if why is not None:
                log.warning("%s; the pass stops after %d requests", why, self.requests)
                raise PassStopped(
                    f"{why}: the search was going round in circles, so the pass stopped "
                    f"after {pages} pages; the next pass carries on from what is stored"
                )
            tokens.add(next_token)

    def _backoff(self, attempt: int) -> float:
        return min(BACKOFF_FIRST * 2**attempt, BACKOFF_CAP, self.settings.x.max_wait_seconds)

    def _rate_limit_wait(self, exc: tweepy.TooManyRequests, attempt: int) -> float:
        """Return the seconds until the rate limit resets; SourceError if beyond max_wait."""
        reset = getattr(exc, "reset_time", None)
        if reset is None:
            return self._backoff(attempt)
        wait = max(float(reset) - self.clock() + 1.0, 1.0)
        limit = self.settings.x.max_wait_seconds
        if wait > limit:
            at = dt.datetime.fromtimestamp(reset, tz=dt.UTC).strftime("%H:%M:%S")
            raise SourceError(
                f"X rate limit reached; it resets at {at} UTC, in {wait:.0f} s, more than "
                f"[x] max_wait_seconds = {limit:g}; the next pass carries on from here"
            )
        return wait

    def _request(self, call: Callable[..., Any], **params: Any) -> Page:
        """Return one response body, retrying what a retry can fix (see the module doc).

        tenacity runs the attempts: each failure a retry can fix is a ``_Retry`` that says
        why and how long to wait (its own backoff, or the rate limit's reset), waited with
        ``self.sleep``; every other failure ends the request at once.
        """
        retries = self.settings.x.max_retries
        failures = itertools.count()  # failures so far: the exponent of the backoff

        def before_sleep(state: tenacity.RetryCallState) -> None:
            failed = state.outcome.exception() if state.outcome else None
            assert isinstance(failed, _Retry)
            # a fault is named once, at once (a warning); its retries are quiet (-v shows them)
            if failed.reason not in self.faults_named:
                self.faults_named.add(failed.reason)
                log.warning("X API: %s; retrying quietly, up to %d times", failed.reason, retries)
            log.info(
                "X API: %s; retry %d of %d in %.0f s",
                failed.reason,
                state.attempt_number,
                retries,
                failed.wait,
            )

        def give_up(state: tenacity.RetryCallState) -> Page:
            failed = state.outcome.exception() if state.outcome else None
            assert isinstance(failed, _Retry)
            raise SourceError(
                f"X API failed {state.attempt_number} times in a row, last: {failed.reason}; "
                "the next pass resumes where this one stopped"
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=tenacity.stop_after_attempt(retries + 1),
            wait=_planned_wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        return retrying(lambda: self._attempt(call, params, next(failures)))

    def _attempt(self, call: Callable[..., Any], params: dict[str, Any], attempt: int) -> Page:
        """Return one response body; raise _Retry for what a retry can fix, else an error."""
        self.requests += 1
        try:
            page = call(**params)
        except tweepy.TooManyRequests as exc:
            if usage_capped(exc):
                raise SourceError(
                    f"X says this app's monthly usage cap is reached ({detail(exc)}); "
                    "collection stops until the cap resets: check the developer portal, "
                    "and set [x] monthly_post_cap to your plan's cap"
                ) from exc
            raise _Retry("rate limited (429)", self._rate_limit_wait(exc, attempt)) from exc
        except tweepy.TwitterServerError as exc:
            raise _Retry(f"server error ({detail(exc)})", self._backoff(attempt)) from exc
        except tweepy.Unauthorized as exc:
            raise SourceError(
                f"X refused the bearer token ({detail(exc)}): check that {TOKEN_ENV} "
                "holds your app's current bearer token"
            ) from exc
        except tweepy.Forbidden as exc:
            raise SourceError(
                f"X refused access ({detail(exc)}): your app's access level does not "
                "include this endpoint (recent search needs Basic or above, full-archive "
                "search Pro or Enterprise), or the app is not attached to a project"
            ) from exc
        except tweepy.BadRequest as exc:
            if "since_id" in params and param_in_error(exc, "since_id"):
                raise SinceIdTooOld(detail(exc)) from exc
            if "until_id" in params and param_in_error(exc, "until_id"):
                raise _OutOfReach(detail(exc)) from exc
            raise SourceError(
                f"X rejected the request ({detail(exc)}); check [campaign] hashtags and accounts"
            ) from exc
        except tweepy.HTTPException as exc:
            raise SourceError(f"X API error ({detail(exc)})") from exc
        except requests.RequestException as exc:
            # timeouts, refused or dropped connections, and 200s whose body is not JSON
            reason = describe_transport(exc, self.settings.x.api_base_url)
            raise _Retry(reason, self._backoff(attempt)) from exc
        except RecursionError as exc:
            # the json module gives up on a body nested thousands deep: garbage, not data
            reason = "a response body nested too deeply to read"
            raise _Retry(reason, self._backoff(attempt)) from exc
        problem = malformed(page, search="query" in params)
        if problem is not None:
            raise _Retry(problem, self._backoff(attempt))
        return page


def _post_ids(page: Page) -> set[str]:
    data = page.get("data")
    if not isinstance(data, list):
        return set()
    return {str(i["id"]) for i in data if isinstance(i, dict) and i.get("id") is not None}


class _Retry(Exception):
    """A failure a retry can fix: what went wrong, and the seconds to wait before trying again."""

    def __init__(self, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def _planned_wait(state: tenacity.RetryCallState) -> float:
    """Return the wait the failed attempt planned (tenacity's ``wait``)."""
    failed = state.outcome.exception() if state.outcome else None
    return failed.wait if isinstance(failed, _Retry) else 0.0


class XArchiveSource(XSource):
    """Full-archive search over the local dates ``since``..``until`` (inclusive), for backfill.

    Its checkpoint is per date range, so an interrupted backfill of the same range
    resumes and a repeated one reads only posts newer than it stored.
    """

    # full-archive search may answer a sparse stretch of time with empty pages that carry
    # a next_token: allow more of them in a row than recent search ever sends
    idle_limit = 5 * MAX_IDLE_PAGES

    def __init__(
        self,
        settings: Settings,
        since: dt.date,
        until: dt.date,
        token: str | None = None,
        *,
        now: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, token, **kwargs)
        tz = settings.campaign.tz
        self.start_time = local_midnight(since, tz)
        end = local_midnight(until + dt.timedelta(days=1), tz)
        # X refuses an end_time less than 10 seconds before the request
        latest = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=30)
        self.end_time = min(end, latest)
        self.name = f"x:all:{since.isoformat()}:{until.isoformat()}"
        self.page_size = ARCHIVE_PAGE

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        """Yield full-archive pages of the dates, newest first, for ids in (since_id, until_id)."""
        params: dict[str, Any] = {}
        # an id bound is tighter than the matching time bound; X takes either
        if since_id is not None:
            params["since_id"] = since_id
        else:
            params["start_time"] = self.start_time
        if until_id is not None:
            params["until_id"] = until_id
        else:
            params["end_time"] = self.end_time
        yield from self._paginate(self.client.search_all_tweets, params)

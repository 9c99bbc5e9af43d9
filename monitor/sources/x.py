"""The X source: recent search, full-archive search and lookups through ``tweepy.Client``.

tweepy makes the requests and parses the bodies; this module decides what a failure
means, where it arises: 5xx, timeouts, dropped connections and bodies that are not
JSON are retried with bounded exponential backoff; a 429 waits for
``x-rate-limit-reset`` (bounded, never tweepy's own endless ``wait_on_rate_limit``); a
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
from urllib.parse import urlsplit

import requests
import tenacity
import tweepy
import urllib3

from monitor.budget import allowance
from monitor.errors import ConfigError, PassStopped, SourceError
from monitor.settings import DEFAULT_API_BASE, TOKEN_ENV, Campaign, Settings, bearer_token
from monitor.sources.base import Page, SinceIdTooOld, Source
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
# a response body is read whole into memory: X's largest page (500 posts with their
# includes) is a few MB, so anything near this is garbage or an attack, refused outright
MAX_BODY_BYTES = 64 * 2**20
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


class _TimeoutSession(requests.Session):
    """A requests session whose every request has an overall deadline and a body cap.

    requests' ``timeout`` bounds each socket read, not the request: a server dripping a
    byte every half second keeps one request alive for ever. So the body is streamed
    and read as it arrives, and ``timeout`` seconds after the request began it is given
    up (a ``requests.Timeout``, retried like any other); a body larger than
    ``MAX_BODY_BYTES`` is refused (SourceError) before it fills the memory.

    tweepy hard-codes ``https://api.twitter.com``; requests to it go to ``base`` instead
    (``[x] api_base_url`` or ``HASHMON_X_API_BASE``: a proxy, or a test server on loopback).
    A plain-http base (loopback only) is never sent through a proxy from the environment:
    ``HTTP_PROXY=http://...`` would carry the bearer token across the network in clear.
    """

    def __init__(self, timeout: float, base: str = DEFAULT_API_BASE) -> None:
        super().__init__()
        self.timeout = timeout
        self.base = base.rstrip("/")
        if self.base.startswith("http://"):
            self.trust_env = False  # no proxy (nor .netrc) for a plain-http base
            if requests.utils.get_environ_proxies(self.base + "/"):
                log.warning(
                    "not using the proxy of HTTP_PROXY/ALL_PROXY for the plain-http X API "
                    "base %s: the bearer token would cross it in clear",
                    self.base,
                )

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        if timeout is None:
            timeout = kwargs["timeout"] = self.timeout
        overall = timeout if isinstance(timeout, (int, float)) else self.timeout
        if isinstance(url, str) and url.startswith(DEFAULT_API_BASE + "/"):
            url = self.base + url[len(DEFAULT_API_BASE) :]
        deadline = time.monotonic() + overall
        kwargs["stream"] = True
        response = super().request(method, url, *args, **kwargs)
        _read_body(response, deadline, overall)
        return response


def _read_body(response: requests.Response, deadline: float, overall: float) -> None:
    """Read ``response``'s body whole by ``deadline`` and within ``MAX_BODY_BYTES``.

    ``read1`` returns whatever has arrived (each wait bounded by the per-read timeout),
    so the deadline is checked between any two arrivals, however slow the drip; no
    watchdog thread. Raises requests.Timeout past the deadline, SourceError for a body
    too large, requests.ConnectionError for a dropped one.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise requests.Timeout(f"no whole response within {overall:g} s")
            chunk = response.raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise SourceError(
                    f"X API sent a response body over {MAX_BODY_BYTES // 2**20} MiB "
                    f"({response.request.method} {response.request.path_url.split('?')[0]}); "
                    "refused unread: no X page is anywhere near that size"
                )
            chunks.append(chunk)
    except (requests.RequestException, SourceError):
        raise  # (requests' exceptions are OSErrors too)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(str(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(str(exc)) from exc
    finally:
        response.close()
    response._content = b"".join(chunks)  # what requests itself does on a streamed read
    response._content_consumed = True


class _OutOfReach(Exception):
    """A 400 saying ``until_id`` is older than the search window: nothing lies below it."""


def _body(exc: tweepy.HTTPException) -> dict[str, Any]:
    try:
        body = exc.response.json()
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def _detail(exc: tweepy.HTTPException) -> str:
    """Return what the API said about a failure, on one line (no headers, no secrets)."""
    body = _body(exc)
    said = list(exc.api_messages) or [str(body.get("detail") or body.get("title") or "")]
    line = " ".join(" ".join(str(m).split()) for m in said if m).strip()
    status = getattr(exc.response, "status_code", "?")
    reason = getattr(exc.response, "reason", "") or ""
    return f"{status} {reason}".strip() + (f": {line}" if line else "")


def _usage_capped(exc: tweepy.HTTPException) -> bool:
    """Return True when a 429 is the monthly usage cap, not a rate limit."""
    body = _body(exc)
    said = " ".join(str(body.get(k, "")) for k in ("title", "detail", "type")).casefold()
    return "usagecap" in said or "usage-capped" in said or "usage cap" in said


def _param_in_error(exc: tweepy.HTTPException, name: str) -> bool:
    """Return True when a 400 is about parameter ``name`` (its ``parameters`` or its message)."""
    for error in exc.api_errors:
        if isinstance(error, dict) and name in (error.get("parameters") or {}):
            return True
    said = " ".join(str(m) for m in exc.api_messages) + " " + str(_body(exc).get("detail", ""))
    return name in said


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
        self.client.session = _TimeoutSession(
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
            if _usage_capped(exc):
                raise SourceError(
                    f"X says this app's monthly usage cap is reached ({_detail(exc)}); "
                    "collection stops until the cap resets: check the developer portal, "
                    "and set [x] monthly_post_cap to your plan's cap"
                ) from exc
            raise _Retry("rate limited (429)", self._rate_limit_wait(exc, attempt)) from exc
        except tweepy.TwitterServerError as exc:
            raise _Retry(f"server error ({_detail(exc)})", self._backoff(attempt)) from exc
        except tweepy.Unauthorized as exc:
            raise SourceError(
                f"X refused the bearer token ({_detail(exc)}): check that {TOKEN_ENV} "
                "holds your app's current bearer token"
            ) from exc
        except tweepy.Forbidden as exc:
            raise SourceError(
                f"X refused access ({_detail(exc)}): your app's access level does not "
                "include this endpoint (recent search needs Basic or above, full-archive "
                "search Pro or Enterprise), or the app is not attached to a project"
            ) from exc
        except tweepy.BadRequest as exc:
            if "since_id" in params and _param_in_error(exc, "since_id"):
                raise SinceIdTooOld(_detail(exc)) from exc
            if "until_id" in params and _param_in_error(exc, "until_id"):
                raise _OutOfReach(_detail(exc)) from exc
            raise SourceError(
                f"X rejected the request ({_detail(exc)}); check [campaign] hashtags and accounts"
            ) from exc
        except tweepy.HTTPException as exc:
            raise SourceError(f"X API error ({_detail(exc)})") from exc
        except requests.RequestException as exc:
            # timeouts, refused or dropped connections, and 200s whose body is not JSON
            reason = _describe_transport(exc, self.settings.x.api_base_url)
            raise _Retry(reason, self._backoff(attempt)) from exc
        except RecursionError as exc:
            # the json module gives up on a body nested thousands deep: garbage, not data
            reason = "a response body nested too deeply to read"
            raise _Retry(reason, self._backoff(attempt)) from exc
        problem = _malformed(page, search="query" in params)
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


def _malformed(page: Any, *, search: bool) -> str | None:
    """Return what is wrong with the shape of a response body, or None if it is usable.

    A search page without ``meta`` (X always sends it) or a ``data`` that is not a list
    cannot be paged on: taken as it is, it would end the pass as if complete and move
    the checkpoint past posts never read. So it is retried like a 5xx, then fails the
    pass, whose next run resumes. (Single posts that cannot be used are skipped later.)
    """
    if not isinstance(page, dict):
        return "a response body that is not a JSON object"
    meta = page.get("meta")
    if search and not (isinstance(meta, dict) and isinstance(meta.get("result_count"), int)):
        return "a search response without its meta object"
    if page.get("data") is not None and not isinstance(page["data"], list):
        return "a response whose data is not a list"
    return None


def _describe_transport(exc: requests.RequestException, base_url: str) -> str:
    if isinstance(exc, requests.JSONDecodeError):
        return "a response body that is not JSON"
    if isinstance(exc, requests.Timeout):
        return "no response within [x] request_timeout_seconds"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to {urlsplit(base_url).netloc or base_url}"
    return type(exc).__name__


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

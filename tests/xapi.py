"""A fake X API v2 at the ``requests`` layer (``responses``), serving real recorded posts.

tweepy's own code builds every request and parses every body; only the HTTP exchange
is faked. ``FakeX`` holds the posts of recorded search pages (with their ``includes``)
and answers recent search, full-archive search and lookups the way X does: newest
first, honouring ``since_id``, ``until_id``, ``max_results`` and ``next_token``, with
the recent search window refusing an older ``since_id`` in X's own words. Faults (5xx,
429, timeouts, dropped connections, bodies that are not JSON) are injected at a given
HTTP call. ``recorded_chain`` serves the five recorded pages byte for byte instead.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import requests
import responses

from monitor.settings import Settings
from monitor.sources.x import XSource

FIXTURES = Path(__file__).parent / "fixtures" / "x-api-v2"
CHAIN_FILE = FIXTURES / "twarc2-jsonl" / "twarc2sql__search_example.jsonl"  # 5 pages, 2023
OTHER_CHAIN_FILE = FIXTURES / "twarc2-jsonl" / "twarc-network__tweets.jsonl"  # 5 pages, 2021
CASSETTES = FIXTURES / "tweepy-cassettes"
API = "https://api.twitter.com/2"
SEARCH_RECENT = f"{API}/tweets/search/recent"
SEARCH_ALL = f"{API}/tweets/search/all"
LOOKUP = f"{API}/tweets"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAtest%2Bbearer%3Dtoken0123456789abcdef"  # fake, shaped like one

# X's usage-cap answer (HTTP 429), as documented and seen in the wild
USAGE_CAPPED = {
    "title": "UsageCapExceeded",
    "detail": "Usage cap exceeded: Monthly product cap",
    "type": "https://api.twitter.com/2/problems/usage-capped",
    "period": "Monthly",
    "scope": "Product",
}
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
FORBIDDEN = {
    "title": "Forbidden",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
    "reason": "client-not-enrolled",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
    "and tokens from a Twitter developer App that is attached to a Project.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
}


def _id_key(i: str) -> tuple[int, str]:
    return (len(i), i)


@functools.cache
def read_pages(path: Path = CHAIN_FILE) -> list[dict[str, Any]]:
    """Return the recorded pages of a twarc2 JSONL file, ``__twarc`` removed (shared: read only)."""
    pages = []
    for line in path.read_text().splitlines():
        page = json.loads(line)
        page.pop("__twarc", None)
        pages.append(page)
    return pages


def cassette_headers(name: str) -> dict[str, str]:
    """Return the recorded response headers of a tweepy cassette (rate-limit headers etc.)."""
    return dict(json.loads((CASSETTES / f"{name}.headers.json").read_text())["headers"])


def query(request: requests.PreparedRequest) -> dict[str, str]:
    """Return the query parameters of a request, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


Fault = int | tuple[int, Any] | tuple[int, Any, dict[str, str]] | BaseException | str
"""An injected answer: a status (empty JSON body), (status, body[, headers]), an
exception to raise (timeout, connection error), or a str body served with 200."""


class FakeX:
    """Serves recorded posts as X would; records every request it answers."""

    def __init__(self, pages: Iterable[dict[str, Any]], *, published: int | None = None) -> None:
        self.posts: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.context: dict[str, dict[str, Any]] = {}
        for page in pages:
            for post in page.get("data") or []:
                self.posts.setdefault(post["id"], post)
            for user in (page.get("includes") or {}).get("users") or []:
                self.users.setdefault(user["id"], user)
            for tweet in (page.get("includes") or {}).get("tweets") or []:
                self.context.setdefault(tweet["id"], tweet)
        #: every post id, oldest first: the order they are "published" in
        self.order = sorted(self.posts, key=_id_key)
        self.published = len(self.order) if published is None else published
        self.window_floor: str | None = None  # ids below this are beyond the 7-day window
        self.faults: dict[int, Fault] = {}
        self.actions: dict[int, Callable[[], None]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.rate_limit_headers = cassette_headers("search_recent_tweets")
        self.metric_bump = 0  # added to like_count in lookups: counts that moved since
        self.restamp: Callable[[str], str] | None = None  # id -> created_at, for simulations
        #: id -> problem type: lookups answer these ids with an error of that type instead
        self.lookup_errors: dict[str, str] = {}

    # --- control -------------------------------------------------------------------

    def publish(self, n: int) -> None:
        """Make ``n`` more posts visible (newest ones), as if just posted."""
        self.published = min(self.published + n, len(self.order))

    def visible(self) -> list[str]:
        """Return the ids the search can see now, newest first."""
        ids = self.order[: self.published]
        if self.window_floor is not None:
            ids = [i for i in ids if _id_key(i) >= _id_key(self.window_floor)]
        return ids[::-1]

    def fail(self, call: int, fault: Fault) -> None:
        """Answer HTTP call number ``call`` (1-based, counting every call) with ``fault``."""
        self.faults[call] = fault

    def before(self, call: int, action: Callable[[], None]) -> None:
        """Run ``action`` when HTTP call number ``call`` arrives, then answer it as usual."""
        self.actions[call] = action

    def register(self, rsps: responses.RequestsMock) -> None:
        for url, handler in (
            (SEARCH_RECENT, self._search),
            (SEARCH_ALL, self._search),
            (LOOKUP, self._lookup),
        ):
            rsps.add_callback(
                responses.GET,
                re.compile(re.escape(url) + r"(\?.*)?$"),
                callback=self._answer(handler),
                content_type=None,
            )

    @property
    def search_calls(self) -> list[dict[str, str]]:
        return [q for path, q in self.calls if "/search/" in path]

    @property
    def lookup_calls(self) -> list[dict[str, str]]:
        return [q for path, q in self.calls if path.endswith("/2/tweets")]

    # --- serving -------------------------------------------------------------------

    def _answer(self, handler: Callable[[dict[str, str]], tuple[int, Any]]) -> Callable:
        def callback(
            request: requests.PreparedRequest,
        ) -> tuple[int, dict[str, str], bytes | str]:
            params = query(request)
            self.calls.append((urlsplit(request.url).path, params))
            action = self.actions.pop(len(self.calls), None)
            if action is not None:
                action()
            fault = self.faults.pop(len(self.calls), None)
            if fault is not None:
                return self._fault(fault)
            status, body = handler(params)
            headers = {"content-type": "application/json; charset=utf-8"}
            return status, headers, encoded(body)

        return callback

    def _fault(self, fault: Fault) -> tuple[int, dict[str, str], str]:
        if isinstance(fault, BaseException):
            raise fault
        if isinstance(fault, str):
            return 200, {"content-type": "text/html"}, fault
        if isinstance(fault, int):
            return fault, {"content-type": "application/json"}, "{}"
        status, body, *rest = fault
        headers = {"content-type": "application/json; charset=utf-8", **(rest[0] if rest else {})}
        return status, headers, body if isinstance(body, str) else json.dumps(body)

    def _post(self, post_id: str) -> dict[str, Any]:
        post = dict(self.posts[post_id])
        if self.restamp is not None:
            post["created_at"] = self.restamp(post_id)
        return post

    def _includes(self, posts: list[dict[str, Any]]) -> dict[str, Any]:
        users, tweets = {}, {}
        for post in posts:
            for ref in post.get("referenced_tweets") or []:
                if ref["id"] in self.context:
                    tweets[ref["id"]] = self.context[ref["id"]]
            wanted = [post.get("author_id")] + [
                m.get("id") for m in (post.get("entities") or {}).get("mentions") or []
            ]
            wanted += [
                tweets[r["id"]].get("author_id")
                for r in post.get("referenced_tweets") or []
                if r["id"] in tweets
            ]
            for uid in wanted:
                if uid in self.users:
                    users[uid] = self.users[uid]
        out: dict[str, Any] = {}
        if users:
            out["users"] = list(users.values())
        if tweets:
            out["tweets"] = list(tweets.values())
        return out

    def _search(self, params: dict[str, str]) -> tuple[int, Any]:
        since, until = params.get("since_id"), params.get("until_id")
        floor = self.window_floor
        for name, value in (("since_id", since), ("until_id", until)):
            if value is not None and floor is not None and _id_key(value) < _id_key(floor):
                return 400, _too_old(name, value)
        size = int(params.get("max_results", 10))
        ids = self.visible()
        if since is not None:
            ids = [i for i in ids if _id_key(i) > _id_key(since)]
        if until is not None:
            ids = [i for i in ids if _id_key(i) < _id_key(until)]
        token = params.get("next_token")
        if token is not None:
            below = token.removeprefix("next-")
            ids = [i for i in ids if _id_key(i) < _id_key(below)]
        page, more = ids[:size], len(ids) > size
        if not page:
            return 200, {"meta": {"result_count": 0}}
        data = [self._post(i) for i in page]
        meta: dict[str, Any] = {
            "newest_id": page[0],
            "oldest_id": page[-1],
            "result_count": len(page),
        }
        if more:
            meta["next_token"] = f"next-{page[-1]}"
        body = {"data": data, "includes": self._includes(data), "meta": meta}
        return 200, body

    def _lookup(self, params: dict[str, str]) -> tuple[int, Any]:
        ids = params["ids"].split(",")
        assert len(ids) <= 100, "X takes at most 100 ids a lookup"
        data = []
        for i in ids:
            if i in self.posts and i not in self.lookup_errors:
                post = self._post(i)
                metrics = dict(post.get("public_metrics") or {})
                metrics["like_count"] = metrics.get("like_count", 0) + self.metric_bump
                post["public_metrics"] = metrics
                data.append(post)
        errors = [
            {
                "value": i,
                "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids
            if i not in self.posts
        ]
        errors += [_lookup_error(i, self.lookup_errors[i]) for i in ids if i in self.lookup_errors]
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
            body["includes"] = self._includes(data)
        if errors:
            body["errors"] = errors
        return 200, body


def _lookup_error(post_id: str, problem: str) -> dict[str, Any]:
    """Return X's lookup error for ``post_id`` of the problem type ``problem``."""
    title = {
        "not-authorized-for-resource": "Authorization Error",
        "resource-not-found": "Not Found Error",
    }.get(problem.rsplit("/", 1)[-1], "Error")
    return {
        "value": post_id,
        "detail": f"Sorry, you are not authorized to see the Tweet with ids: [{post_id}].",
        "title": title,
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": post_id,
        "type": problem,
    }


def _too_old(param: str, value: str) -> dict[str, Any]:
    """Return X's 400 body for a since_id/until_id older than the recent search window."""
    message = (
        f"Invalid '{param}':'{value}'. '{param}' must be a tweet id created after "
        "2023-03-31T21:39Z. Please use a tweet id that is created after that time."
    )
    return {
        "errors": [{"parameters": {param: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def serve_recorded_chain(rsps: responses.RequestsMock, pages: list[dict[str, Any]]) -> list:
    """Serve the recorded pages byte for byte, chosen by ``next_token``; return the calls list."""
    by_token = {None: pages[0]}
    for before, page in zip(pages, pages[1:], strict=False):
        by_token[before["meta"]["next_token"]] = page
    calls: list[dict[str, str]] = []
    headers = cassette_headers("search_recent_tweets")
    headers.pop("content-type", None)

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        params = query(request)
        calls.append(params)
        if "since_id" in params:
            return 200, headers, json.dumps({"meta": {"result_count": 0}})
        # the file holds the first five pages of a longer chain: past them, an empty page
        page = by_token.get(params.get("next_token"), {"meta": {"result_count": 0}})
        return 200, headers, json.dumps(page)

    rsps.add_callback(
        responses.GET,
        re.compile(re.escape(SEARCH_RECENT) + r"(\?.*)?$"),
        callback=callback,
        content_type="application/json",
    )
    return calls


@contextmanager
def faked_x(pages: list[dict[str, Any]] | None = None) -> Iterator[FakeX]:
    """A FakeX serving ``pages`` (the recorded chain by default) at the requests layer, so
    tweepy's own code runs; what a test module's fixture yields."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fx = FakeX(read_pages() if pages is None else pages)
        fx.register(rsps)
        yield fx


def quiet_source(settings: Settings) -> XSource:
    """The X source with the test token, never sleeping between retries."""
    return XSource(settings, TOKEN, sleep=lambda s: None)


def encoded(body: Any) -> bytes | str:
    """Return a body as X sends it, UTF-8 JSON (orjson: the suite serves thousands of
    pages); what orjson will not write (a lone surrogate, a number past 64 bits) the
    standard encoder escapes."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body)

"""A hostile X server: pagination going round in circles, bodies dripped or huge, proxies.

Each test runs a real ``XSource`` (tweepy's client, requests, urllib3) against a small
HTTP server on loopback whose answers a test scripts, and checks what a user relies on:
the pass ends with a recorded, explained stop after a bounded number of requests, no
request outlives its deadline, and no page is written by a pass that lost its lease.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from jobs.passes import collect, refresh_metrics
from monitor import lease
from monitor.errors import LockedError, SourceError
from monitor.settings import Settings, X
from monitor.sources import x_http
from monitor.sources.base import Page, Source
from monitor.sources.x import MAX_IDLE_PAGES, XSource
from monitor.store.engine import writing
from monitor.store.runs import read_checkpoint, save_checkpoint
from monitor.store.schema import CollectionRun, Post
from tests.fakex import simulated_pages
from tests.xapi import TOKEN

LONG = os.environ.get("HASHMON_LONG") == "1"
#: a page answer: (status, body bytes, seconds between the body's bytes)
Answer = tuple[int, bytes, float]


class HostileServer:
    """Answers every request with ``answer(n, path, params)``; counts requests and bytes."""

    def __init__(self, answer: Callable[[int, str, dict[str, str]], Answer]) -> None:
        self.answer = answer
        self.requests = 0
        self.bytes_sent = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # a client cutting the drip is expected
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests += 1
            n = self.requests
        status, body, drip = self.answer(n, parts.path, params)
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not drip:
            handler.wfile.write(body)
            with self.lock:
                self.bytes_sent += len(body)
            return
        for i in range(len(body)):
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()
            with self.lock:
                self.bytes_sent += 1
            time.sleep(drip)


def settings_for(server: HostileServer, **x: object) -> Settings:
    return Settings(
        x=X(**{"api_base_url": server.url, "max_retries": 0, "request_timeout_seconds": 5, **x})
    )


def run_pass(settings: Settings, engine: Engine) -> tuple[Any, XSource]:
    source = XSource(settings, TOKEN, sleep=lambda s: None)
    return collect(settings, engine, source=source, wait_seconds=0), source


def stored_posts(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Post)).scalar_one()


def last_run(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(CollectionRun).order_by(CollectionRun.id.desc()).limit(1)
        ).first()


def page_body(page: Page, token: str | None) -> bytes:
    page = copy.deepcopy(page)
    page.setdefault("meta", {})["result_count"] = len(page.get("data") or [])
    page["meta"].pop("next_token", None)
    if token is not None:
        page["meta"]["next_token"] = token
    return json.dumps(page).encode()


EMPTY = {"meta": {"result_count": 0}}


# --- (2) pagination that does not move forward ----------------------------------------


def _same_token(n: int, path: str, params: dict[str, str]) -> Answer:
    return 200, page_body(EMPTY, "again"), 0.0


def _fresh_empty_tokens(n: int, path: str, params: dict[str, str]) -> Answer:
    return 200, page_body(EMPTY, f"t{n}"), 0.0


def _cycling_tokens(n: int, path: str, params: dict[str, str]) -> Answer:
    # A -> B -> A -> ...: each token is new once, then comes back
    return 200, page_body(EMPTY, "AB"[n % 2]), 0.0


@pytest.mark.parametrize(
    ("answer", "most_requests", "said"),
    [
        (_same_token, 2, "next_token a second time"),
        (_cycling_tokens, 3, "next_token a second time"),
        (_fresh_empty_tokens, MAX_IDLE_PAGES, "pages in a row without a new post"),
    ],
    ids=["same-token", "cycling-tokens", "fresh-tokens-no-posts"],
)
def test_pagination_that_goes_round_in_circles_stops_the_pass_with_a_recorded_reason(
    engine: Engine, answer: Callable, most_requests: int, said: str
) -> None:
    with HostileServer(answer) as server:
        result, source = run_pass(settings_for(server), engine)
    assert server.requests == most_requests  # bounded: not 1,481 requests in 100 s
    assert source.requests == most_requests
    assert said in (result.stopped_early or "")
    run = last_run(engine)
    assert run.status == "stopped"
    assert said in run.message and "round in circles" in run.message
    assert lease.read_lease(engine) is None  # the lease is given back


def test_repeated_pages_of_posts_stop_the_pass_before_spending_the_cap(engine: Engine) -> None:
    """Every page carries the same 100 posts under a new token: read twice, stored once."""
    pages = simulated_pages(100)
    assert len(pages) == 1 and len(pages[0]["data"]) == 100

    def answer(n: int, path: str, params: dict[str, str]) -> Answer:
        return 200, page_body(pages[0], f"token-{n}"), 0.0

    with HostileServer(answer) as server:
        result, _ = run_pass(settings_for(server, monthly_post_cap=10_000), engine)
    assert server.requests == 2  # the second page repeats the first: stop there
    assert result.posts_read == 200  # not 10,000 reads for 100 posts
    assert stored_posts(engine) == 100  # nothing lost: the posts of the first page stored
    assert "only posts already read" in last_run(engine).message


def test_pages_that_move_forward_are_all_followed(engine: Engine) -> None:
    """The guard stops nothing real: 12 pages of new posts, then the end (no token)."""
    pages = simulated_pages(240)
    posts = [post for page in pages for post in page["data"]]
    chunks = [posts[i : i + 20] for i in range(0, len(posts), 20)]

    def answer(n: int, path: str, params: dict[str, str]) -> Answer:
        page = {**pages[0], "data": chunks[n - 1]}
        return 200, page_body(page, f"p{n}" if n < len(chunks) else None), 0.0

    with HostileServer(answer) as server:
        result, _ = run_pass(settings_for(server), engine)
    assert server.requests == len(chunks) == 12 > MAX_IDLE_PAGES
    assert result.stopped_early is None
    assert stored_posts(engine) == 240
    assert last_run(engine).status == "ok"


# --- (3) a request that outlives its timeout ------------------------------------------


def test_a_dripped_body_is_cut_at_the_request_deadline_not_the_read_timeout() -> None:
    """One byte every 0.05 s never trips a 1 s read timeout; the overall deadline cuts it."""
    body = page_body(EMPTY, None) + b" " * (400 if not LONG else 4000)
    drip = 0.05 if not LONG else 0.5

    with HostileServer(lambda n, p, q: (200, body, drip)) as server:
        source = XSource(settings_for(server, request_timeout_seconds=1), TOKEN)
        with pytest.raises(SourceError) as err:
            list(source.search())
    assert "no response within [x] request_timeout_seconds" in str(err.value)
    assert server.requests == 1
    # the server was cut off long before it could finish dripping the page
    assert server.bytes_sent < len(body) // 2


class HeaderDrip:
    """A raw socket server on loopback that drips its status line and headers a byte at a time.

    http.server cannot do this (it sends its status line whole), and the headers are
    where requests' per-read ``timeout`` never fires: each byte arrives in time.
    """

    def __init__(self, head: bytes, drip: float) -> None:
        import socket

        self.head = head
        self.drip = drip
        self.bytes_sent = 0
        self.closed = threading.Event()  # the client gave up (or the whole head was sent)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> HeaderDrip:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)  # the request
            try:
                for i in range(len(self.head)):
                    conn.sendall(self.head[i : i + 1])
                    self.bytes_sent += 1
                    time.sleep(self.drip)
            except OSError:
                pass  # the client cut the drip: expected
            finally:
                self.closed.set()


def test_dripped_headers_are_cut_at_the_request_deadline_not_the_read_timeout() -> None:
    """A status line and headers dripped a byte every 0.5 s never trip the 2 s read timeout
    (each byte comes in time); the request's overall deadline of 2 s cuts them."""
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        f"x-drip-{i}: {'y' * 20}\r\n".encode() for i in range(10)
    )
    with HeaderDrip(head, drip=0.5) as server:
        source = XSource(settings_for(server, request_timeout_seconds=2), TOKEN)
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            list(source.search())
        took = time.monotonic() - started
        assert server.closed.wait(5)
    assert "no response within [x] request_timeout_seconds" in str(err.value)
    # cut at the deadline: about 2 s of drip (4-5 bytes), not the head's 0.5 s x 300 bytes
    assert server.bytes_sent < len(head) // 10, (server.bytes_sent, took)


def test_a_response_body_over_the_cap_is_refused_in_one_line(monkeypatch) -> None:
    monkeypatch.setattr(x_http, "MAX_BODY_BYTES", 2**20)
    body = page_body({"meta": {"result_count": 0}, "pad": "x" * (3 * 2**20)}, None)

    with HostileServer(lambda n, p, q: (200, body, 0.0)) as server:
        source = XSource(settings_for(server, max_retries=3), TOKEN, sleep=lambda s: None)
        with pytest.raises(SourceError) as err:
            list(source.search())
    message = str(err.value)
    assert "over 1 MiB" in message and "\n" not in message
    assert "/2/tweets/search/recent" in message and "query" not in message
    assert server.requests == 1  # refused, not retried


# --- (3) a pass that outlives its lease -----------------------------------------------


class _StaleSource(Source):
    """Two pages; before the second, the pass's lease expires and another collector takes it."""

    name = "x:recent"

    def __init__(self, engine: Engine, pages: list[Page]) -> None:
        super().__init__()
        self.engine = engine
        self.pages = pages
        self.other = lease.Lease(engine, holder="elsewhere:1:newer")

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        self.requests += 1
        yield self.pages[0]
        with writing(self.engine) as conn:  # the stale pass's lease runs out ...
            conn.exec_driver_sql("UPDATE leases SET expires_at = '2000-01-01T00:00:00Z'")
        assert self.other.try_acquire() is None  # ... and a newer pass takes it
        with writing(self.engine) as conn:
            save_checkpoint(
                conn, self.name, newest_id="999", pass_newest_id=None, pass_oldest_id=None
            )
        self.requests += 1
        yield self.pages[1]

    def lookup(self, ids: Any) -> Iterator[Page]:
        return iter(())


def test_a_pass_that_lost_its_lease_writes_nothing_more(engine: Engine) -> None:
    posts = simulated_pages(60)[0]["data"]
    includes = simulated_pages(60)[0].get("includes", {})
    pages = [
        {"data": posts[:30], "includes": includes, "meta": {"result_count": 30, "next_token": "n"}},
        {"data": posts[30:], "includes": includes, "meta": {"result_count": 30}},
    ]
    source = _StaleSource(engine, pages)
    with pytest.raises(LockedError) as err:
        collect(Settings(), engine, source=source, wait_seconds=0)
    assert "lost the collector lease" in str(err.value)
    assert stored_posts(engine) == 30  # the second page was rolled back, not stored
    cp = read_checkpoint(engine, "x:recent")
    assert cp.newest_id == "999" and cp.pass_oldest_id is None  # the newer pass's, untouched
    assert lease.read_lease(engine).holder == "elsewhere:1:newer"
    assert last_run(engine).status == "failed"


def test_confirm_renews_a_held_lease_and_refuses_an_expired_one(engine: Engine) -> None:
    held = lease.Lease(engine, seconds=60)
    held.acquire()
    with writing(engine) as conn:
        held.confirm(conn)  # held and unexpired: renewed
    with writing(engine) as conn:
        conn.exec_driver_sql("UPDATE leases SET expires_at = '2000-01-01T00:00:00Z'")
    with pytest.raises(LockedError), writing(engine) as conn:
        held.confirm(conn)
    assert lease.read_lease(engine).expires_at.startswith("2000-")  # nothing renewed


# --- (8) a plain-http proxy never sees the token --------------------------------------


def test_a_plain_http_proxy_from_the_environment_is_not_used_for_a_plain_http_base(
    monkeypatch, caplog
) -> None:
    with (
        HostileServer(lambda n, p, q: (200, page_body(EMPTY, None), 0.0)) as api,
        HostileServer(lambda n, p, q: (502, b"{}", 0.0)) as proxy,
    ):
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        source = XSource(settings_for(api), TOKEN)
        assert list(source.search()) != []
    assert proxy.requests == 0  # the bearer token never went through it
    assert api.requests == 1
    warned = [r.getMessage() for r in caplog.records if "proxy" in r.getMessage()]
    assert len(warned) == 1 and TOKEN not in warned[0]


class _StaleLookup(Source):
    """Serves ``page`` to search; its lookups find the lease taken by a newer collector."""

    name = "x:recent"

    def __init__(self, engine: Engine, page: Page) -> None:
        super().__init__()
        self.engine = engine
        self.page = page

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        self.requests += 1
        yield self.page

    def lookup(self, ids: Any) -> Iterator[Page]:
        with writing(self.engine) as conn:
            conn.exec_driver_sql("UPDATE leases SET expires_at = '2000-01-01T00:00:00Z'")
        assert lease.Lease(self.engine, holder="elsewhere:1:newer").try_acquire() is None
        wanted = set(ids)
        posts = copy.deepcopy([p for p in self.page["data"] if p["id"] in wanted])
        for post in posts:  # counts that moved: they must not be written by a stale refresh
            post["public_metrics"] = {k: v + 100 for k, v in post["public_metrics"].items()}
        self.requests += 1
        yield {**self.page, "data": posts, "meta": {"result_count": len(posts)}}


def test_a_refresh_that_lost_its_lease_writes_no_counts(engine: Engine) -> None:
    page = simulated_pages(30)[0]
    page = {**page, "meta": {"result_count": len(page["data"])}}
    source = _StaleLookup(engine, page)
    collect(Settings(), engine, source=source, wait_seconds=0)
    with engine.connect() as conn:
        before = conn.execute(select(Post.__table__).order_by(Post.id)).all()
    assert len(before) == 30
    when = dt.datetime(2017, 6, 20, tzinfo=dt.UTC)
    with pytest.raises(LockedError):
        refresh_metrics(Settings(), engine, dt.date(2017, 6, 1), when, source=source)
    with engine.connect() as conn:
        assert conn.execute(select(Post.__table__).order_by(Post.id)).all() == before

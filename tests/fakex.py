"""A fake X API v2 over real HTTP on 127.0.0.1, for tests that run ``hashmon`` as a process.

``FakeXServer`` serves a ``tests.xapi.FakeX`` (the same model the in-process tests fake
at the ``requests`` layer: recent and full-archive search newest first, honouring
``since_id``, ``until_id``, ``max_results`` and ``next_token``; lookups; injected faults)
from a small threaded ``http.server`` bound to loopback only. A ``hashmon`` subprocess
reaches it through ``HASHMON_X_API_BASE``; tweepy's real client builds every request and
parses every answer. The server counts arriving requests, so a test can act (kill the
client, cut the database) at an exact page, and it shuts itself down after
``lifetime`` seconds whatever the test does: no loop here runs unbounded.

``simulated_pages`` builds a fixed, seeded corpus from ``monitor.sources.simulated``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.settings import Settings
from monitor.sources.simulated import epoch_ms, simulate_campaign
from tests.xapi import FakeX, encoded

LOOPBACK = "127.0.0.1"


def simulated_pages(
    posts: int, *, seed: int = 7, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Return search pages (newest first) of a seeded simulated campaign of ``posts`` posts.

    Counts are frozen at the end of the simulated span, so every sighting of a post
    shows the same figures: a crashed-then-resumed pass must end equal to a clean one.
    """
    campaign = simulate_campaign(settings or Settings(), seed=seed, posts=posts)
    now_ms = epoch_ms(campaign.span_end_at)
    return list(campaign.search_pages(0, len(campaign), now_ms))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.owner._serve(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # a quiet test server: the tests assert on what they need


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeXServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client killed mid-response is what the crash tests do on purpose
        pass


class FakeXServer:
    """``FakeX`` answered over HTTP on ``127.0.0.1:<free port>``; use as a context manager.

    ``delay`` seconds pass before each answer (so a pass takes long enough to be killed
    at any point, and two clients overlap). ``arrived`` counts requests as they arrive;
    ``wait_for(n)`` blocks until the n-th has. ``max_in_flight`` is the most search
    requests ever open at once, ``tokens`` the Authorization headers seen.
    """

    def __init__(self, fake: FakeX, *, delay: float = 0.0, lifetime: float = 900.0) -> None:
        self.fake = fake
        self.delay = delay
        self.lifetime = lifetime
        self.arrived = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.tokens: set[str] = set()
        self.on_request: Callable[[int, str, dict[str, str]], None] | None = None
        self._cond = threading.Condition()
        self._httpd = _Server((LOOPBACK, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self._httpd.shutdown)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeXServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def wait_for(self, n: int, timeout: float) -> bool:
        """Return True once ``n`` requests have arrived, False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.arrived < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def reset_counts(self) -> None:
        with self._cond:
            self.arrived = 0
            self.max_in_flight = 0
            self.fake.calls.clear()

    # --- serving ---------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        search = "/2/tweets/search/" in path
        with self._cond:
            self.fake.calls.append((path, params))
            n = len(self.fake.calls)
            self.arrived += 1
            self.tokens.add(handler.headers.get("Authorization", ""))
            if search:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            action = self.fake.actions.pop(n, None)
            fault = self.fake.faults.pop(n, None)
            self._cond.notify_all()
        try:
            if self.on_request is not None:
                self.on_request(n, path, params)
            if action is not None:
                action()
            if self.delay:
                time.sleep(self.delay)
            if fault is not None and isinstance(fault, BaseException):
                handler.close_connection = True  # a dropped connection: no answer at all
                return
            if fault is not None:
                status, headers, body = self.fake._fault(fault)
            else:
                status, headers, body = self._answer(path, params)
            raw = body.encode("utf-8") if isinstance(body, str) else body
            if search:
                # done before the answer leaves: a client that has it may start its next
                # request before this thread runs again
                with self._cond:
                    self.in_flight -= 1
                search = False
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
        finally:
            if search:
                with self._cond:
                    self.in_flight -= 1

    def _answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes | str]:
        headers = {"content-type": "application/json; charset=utf-8"}
        with self._cond:  # FakeX is plain data: one answer at a time reads it
            if path.endswith(("/2/tweets/search/recent", "/2/tweets/search/all")):
                status, body = self.fake._search(params)
            elif path == "/2/tweets":
                status, body = self.fake._lookup(params)
            else:
                status, body = 404, {"title": "Not Found Error", "detail": path}
        return status, headers, encoded(body)


def utc(*args: int) -> dt.datetime:
    """Return an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=dt.UTC)

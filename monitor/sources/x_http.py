"""The HTTP under the X source: every request's overall deadline and body cap, and where it goes.

requests' ``timeout`` bounds each socket wait, not the request. This module gives each X
request one deadline from its start to its last byte, status line and headers included,
and caps the body it holds in memory, so neither a slow server nor a huge answer can
hold a pass (and its lease) or fill the memory. tweepy makes the requests through
``DeadlineSession``.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import socket
import time
from contextvars import ContextVar
from typing import Any

import orjson
import requests
import requests.adapters
import urllib3

from monitor.errors import SourceError
from monitor.settings import DEFAULT_API_BASE

log = logging.getLogger(__name__)

# a response body is read whole into memory: X's largest page (500 posts with their
# includes) is a few MB, so anything near this is garbage or an attack, refused outright
MAX_BODY_BYTES = 64 * 2**20
# the deadline of the request being made in this thread, for the response it opens
_DEADLINE: ContextVar[float | None] = ContextVar("x_request_deadline", default=None)


class DeadlineSession(requests.Session):
    """A requests session whose every request has an overall deadline and a body cap.

    requests' ``timeout`` bounds each socket read, not the request: a server dripping a
    byte every half second keeps one request alive for ever. So every socket read of the
    response, status line and headers included, waits no longer than what is left of
    ``timeout`` seconds from the request's start, the body is streamed and read as it
    arrives, and past that deadline the request is given up (a ``requests.Timeout``,
    retried like any other); a body larger than
    ``MAX_BODY_BYTES`` is refused (SourceError) before it fills the memory.

    tweepy hard-codes ``https://api.twitter.com``; requests to it go to ``base`` instead
    (``[x] api_base_url`` or ``HASHMON_X_API_BASE``: a proxy, or a test server on loopback).
    A plain-http base (loopback only) is never sent through a proxy from the environment:
    ``HTTP_PROXY=http://...`` would carry the bearer token across the network in clear.
    """

    def __init__(self, timeout: float, base: str = DEFAULT_API_BASE) -> None:
        super().__init__()
        self.timeout = timeout
        for scheme in ("https://", "http://"):
            self.mount(scheme, _DeadlineAdapter())
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
        started = _DEADLINE.set(deadline)
        try:
            response = super().request(method, url, *args, **kwargs)
        finally:
            _DEADLINE.reset(started)
        read_body(response, deadline, overall)
        response.__class__ = XResponse
        return response


# a number of 19 digits or more outside a string (or, harmlessly, inside one): orjson
# would read one past 64 bits as a float, Python's parser reads it exactly. Found on the
# body with its digits all made "0": bytes.find then runs at memchr's speed, where a
# regular expression tried at every byte cost several times orjson's parse.
_ZEROED = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def has_long_number(body: bytes) -> bool:
    """Return True if ``body`` may hold a JSON number of 19 digits or more: a run of 19
    digits after ``:``, ``[``, ``,`` or the start, and spaces or a minus sign."""
    zeroed = body.translate(_ZEROED)
    at = zeroed.find(_LONG_RUN)
    while at != -1:
        i = at - 1
        while i >= 0 and zeroed[i] in b" \t\r\n-":
            i -= 1
        if i < 0 or zeroed[i] in b":[,":
            return True
        at = zeroed.find(_LONG_RUN, at + len(_LONG_RUN))
    return False


class XResponse(requests.Response):
    """requests' response, its JSON parsed by orjson: several times faster on X's pages
    (100 posts and their includes, ~150 kB), which tweepy parses whole.

    What orjson refuses or would read otherwise (a lone surrogate escape, NaN, a number
    past 64 bits, a body not in UTF-8) goes to requests' own parser, so every body reads
    as it did, or fails as it did.
    """

    def json(self, **kwargs: Any) -> Any:
        body = self.content
        if not kwargs and not has_long_number(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        return super().json(**kwargs)


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections read their responses through ``_DeadlineReads``.

    The status line and headers are read by http.client before requests returns, one
    socket read at a time: a server dripping them a byte at a time never trips the
    per-read timeout. Each read is given only what is left of the request's deadline.
    """

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        pool = super().get_connection_with_tls_context(*args, **kwargs)
        pool.ConnectionCls = _with_deadline(pool.ConnectionCls)
        return pool


@functools.cache
def _with_deadline(cls: type) -> type:
    if getattr(cls, "response_class", None) is _DeadlineResponse:
        return cls
    return type(cls.__name__, (cls,), {"response_class": _DeadlineResponse})


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        deadline = _DEADLINE.get()
        super().__init__(sock if deadline is None else _Timed(sock, deadline), *args, **kwargs)


class _Timed:
    """A socket as http.client's response sees it: ``makefile`` whose reads keep a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReads(self.sock, self.deadline))


class _DeadlineReads(io.RawIOBase):
    """The socket's reads, each waiting no longer than the per-read timeout nor the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline
        self.per_read = sock.gettimeout()  # urllib3 has just set the read timeout
        self.raw = sock.makefile("rb", buffering=0)  # keeps the socket open while read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no whole response by the request's deadline")
        self.sock.settimeout(left if self.per_read is None else min(self.per_read, left))
        try:
            return self.raw.readinto(buffer)
        finally:
            self.sock.settimeout(self.per_read)  # a kept-alive connection's next request

    def close(self) -> None:
        self.raw.close()
        super().close()


def read_body(response: requests.Response, deadline: float, overall: float) -> None:
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

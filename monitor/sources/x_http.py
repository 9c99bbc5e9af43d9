"""The HTTP under the X source: every request's overall deadline and body cap, and where it goes.

requests' ``timeout`` bounds each socket wait, not the request. This module gives each X
request one deadline from its start to its last body byte, and caps the body it holds
in memory, so neither a slow server nor a huge answer can hold a pass (and its lease)
or fill the memory. tweepy makes the requests through ``DeadlineSession``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
import urllib3

from monitor.config import DEFAULT_API_BASE
from monitor.errors import SourceError

log = logging.getLogger(__name__)

# a response body is read whole into memory: X's largest page (500 posts with their
# includes) is a few MB, so anything near this is garbage or an attack, refused outright
MAX_BODY_BYTES = 64 * 2**20


class DeadlineSession(requests.Session):
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
        read_body(response, deadline, overall)
        return response


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

"""What a failed or malformed X API answer says: its detail on one line, and which
kind of failure it is (the usage cap, a parameter refused, a body of the wrong shape).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy


def _body(exc: tweepy.HTTPException) -> dict[str, Any]:
    try:
        body = exc.response.json()
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def detail(exc: tweepy.HTTPException) -> str:
    """Return what the API said about a failure, on one line (no headers, no secrets)."""
    body = _body(exc)
    said = list(exc.api_messages) or [str(body.get("detail") or body.get("title") or "")]
    line = " ".join(" ".join(str(m).split()) for m in said if m).strip()
    status = getattr(exc.response, "status_code", "?")
    reason = getattr(exc.response, "reason", "") or ""
    return f"{status} {reason}".strip() + (f": {line}" if line else "")


def usage_capped(exc: tweepy.HTTPException) -> bool:
    """Return True when a 429 is the monthly usage cap, not a rate limit."""
    body = _body(exc)
    said = " ".join(str(body.get(k, "")) for k in ("title", "detail", "type")).casefold()
    return "usagecap" in said or "usage-capped" in said or "usage cap" in said


def param_in_error(exc: tweepy.HTTPException, name: str) -> bool:
    """Return True when a 400 is about parameter ``name`` (its ``parameters`` or its message)."""
    for error in exc.api_errors:
        if isinstance(error, dict) and name in (error.get("parameters") or {}):
            return True
    said = " ".join(str(m) for m in exc.api_messages) + " " + str(_body(exc).get("detail", ""))
    return name in said


def malformed(page: Any, *, search: bool) -> str | None:
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


def describe_transport(exc: requests.RequestException, base_url: str) -> str:
    if isinstance(exc, requests.JSONDecodeError):
        return "a response body that is not JSON"
    if isinstance(exc, requests.Timeout):
        return "no response within [x] request_timeout_seconds"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to {urlsplit(base_url).netloc or base_url}"
    return type(exc).__name__

"""The simulator's words (words.json, read once) and the post text built from them.

Templates use fields: {T} campaign hashtag, {M} campaign account, {X} co-tag, {F}/{Fc} a
fact (lower/capitalised), {P}/{Pc} topic, {R} role, {U} link, {K} day of the campaign,
{N} time to go ("3 days"), {H} theme, {O} a time of day. Every name is invented.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

_WORDS: dict[str, Any] = json.loads(
    files(__package__).joinpath("words.json").read_text(encoding="utf-8")
)

FACTS: tuple[str, ...] = tuple(_WORDS["facts"])
TOPICS: tuple[str, ...] = tuple(_WORDS["topics"])
ROLES: tuple[str, ...] = tuple(_WORDS["roles"])
CO_TAGS: tuple[str, ...] = tuple(_WORDS["co_tags"])
TIMES: tuple[str, ...] = tuple(_WORDS["times"])
#: strings that test report escaping: scripts, spreadsheet formulas, a right-to-left override
HOSTILE: tuple[str, ...] = tuple(_WORDS["hostile"])
#: hostile strings a spreadsheet would run when they start a cell: put them first
HOSTILE_LEADING: frozenset[str] = frozenset(_WORDS["hostile_leading"])
HOSTILE_NAMES: tuple[str, ...] = tuple(_WORDS["hostile_names"])
FIRST_NAMES: tuple[str, ...] = tuple(_WORDS["first_names"])
LAST_NAMES: tuple[str, ...] = tuple(_WORDS["last_names"])
ORG_STEMS: tuple[str, ...] = tuple(_WORDS["org_stems"])
ORG_KINDS: tuple[str, ...] = tuple(_WORDS["org_kinds"])
STAR_NAMES: tuple[str, ...] = tuple(_WORDS["star_names"])
OUTSIDE_NAMES: tuple[str, ...] = tuple(_WORDS["outside_names"])


def _tokenise(templates: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Split templates once into literal and ``{X}`` tokens (odd positions are fields)."""
    out = []
    for t in templates:
        parts: list[str] = []
        rest = t
        while "{" in rest:
            before, _, after = rest.partition("{")
            name, _, rest = after.partition("}")
            parts += [before, name]
        parts.append(rest)
        out.append(tuple(parts))
    return tuple(out)


_TEMPLATES = _WORDS["templates"]
T_ORIGINAL_TAG = _tokenise(_TEMPLATES["original_tag"])
T_ORIGINAL_MENTION = _tokenise(_TEMPLATES["original_mention"])
#: an organisation's originals by phase: -1 before, 0 during, 1 after the window
T_ORG = {
    -1: _tokenise(_TEMPLATES["org_pre"]),
    0: _tokenise(_TEMPLATES["org_live"]),
    1: _tokenise(_TEMPLATES["org_post"]),
}
T_QUOTE_MATCH = _tokenise(_TEMPLATES["quote_match"])
T_QUOTE_NEITHER = _tokenise(_TEMPLATES["quote_neither"])
T_REPLY_MATCH = _tokenise(_TEMPLATES["reply_match"])
T_REPLY_NEITHER = _tokenise(_TEMPLATES["reply_neither"])
T_EXTERNAL = _tokenise(_TEMPLATES["external"])


def camel(text: str) -> str:
    """Return ``text`` as a hashtag or handle: its words capitalised and joined."""
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return "".join(w[:1].upper() + w[1:] for w in words)


def case_variants(tag: str) -> tuple[str, ...]:
    """Return spellings people use for one hashtag: as configured, lower, upper, mixed."""
    mixed = "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(tag[:4]))
    variants = (
        tag,
        tag.lower(),
        tag.upper(),
        tag[:1].upper() + tag[1:].lower(),
        mixed + tag[4:].lower(),
    )
    return tuple(dict.fromkeys(variants))


class Text:
    """Builds a post text and its entities with offsets as the API gives them."""

    __slots__ = ("parts", "pos", "hashtags", "mentions", "urls")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.hashtags: list[dict[str, Any]] = []
        self.mentions: list[dict[str, Any]] = []
        self.urls: list[dict[str, Any]] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def tag(self, tag: str) -> None:
        start = self.pos
        self.add("#" + tag)
        self.hashtags.append({"start": start, "end": self.pos, "tag": tag})

    def mention(self, username: str, user_id: str) -> None:
        start = self.pos
        self.add("@" + username)
        self.mentions.append({"start": start, "end": self.pos, "username": username, "id": user_id})

    def url(self, url: str) -> None:
        start = self.pos
        self.add(url)
        display = url.split("://", 1)[-1]
        self.urls.append(
            {
                "start": start,
                "end": self.pos,
                "url": url,
                "expanded_url": url,
                "display_url": display,
            }
        )

    def text(self) -> str:
        return "".join(self.parts)

    def entities(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.urls:
            out["urls"] = self.urls
        if self.hashtags:
            out["hashtags"] = self.hashtags
        if self.mentions:
            out["mentions"] = self.mentions
        return out

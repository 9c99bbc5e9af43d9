"""What simulated posts say: texts and entities from the word templates, drawn per post."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from monitor.sources.simulated.generator import CAMPAIGN, ORG, ORIGINAL, PRE_DAYS, QUOTE, RETWEET
from monitor.sources.simulated.ids import Draw, base36, mix, snowflake_ms
from monitor.sources.simulated.words import (
    CO_TAGS,
    FACTS,
    HOSTILE,
    HOSTILE_LEADING,
    ROLES,
    T_ORG,
    T_ORIGINAL_MENTION,
    T_ORIGINAL_TAG,
    T_QUOTE_MATCH,
    T_QUOTE_NEITHER,
    T_REPLY_MATCH,
    T_REPLY_NEITHER,
    TIMES,
    TOPICS,
    Text,
    camel,
    case_variants,
)

if TYPE_CHECKING:
    from monitor.sources.simulated.campaign import SimulatedCampaign

_NEITHER_QUOTE = 0.25  # quotes whose own text has no campaign term
_NEITHER_REPLY = 0.20
_HOSTILE = 0.006  # posts carrying a hostile string (report escaping must hold)


KEEP_COMPOSED = 30_000  # posts whose texts are kept (~1 kB each with their entities), and authors


class Composer:
    """Writes the texts of one simulated campaign's posts (the same text on every call).

    Every field of a template is drawn from a hash of the post id and the seed, so a
    post's text needs no storage. ``day_starts`` are the campaign's local midnights (UTC
    ms) from the first ramp-up day, ``n_days`` the days of its window.
    """

    def __init__(self, c: SimulatedCampaign, day_starts: list[int], n_days: int) -> None:
        campaign = c.campaign
        self._c = c
        self._day_starts = day_starts
        self._n_days = n_days
        self._tags = tuple(t.strip().lstrip("#") for t in campaign.hashtags)
        self._tag_variants = tuple(case_variants(t) for t in self._tags)
        folded = set(campaign.hashtag_terms)
        theme_tag = camel(campaign.theme) if campaign.theme else ""
        # the theme's own tag is the commonest companion of the campaign tag
        co_tags = [theme_tag] * 4 + list(CO_TAGS) if theme_tag else list(CO_TAGS)
        self._co_tags = tuple(t for t in co_tags if t.casefold() not in folded) or CO_TAGS
        self._theme = campaign.theme or "early relationships"
        self._slug = "".join(ch for ch in campaign.name.lower() if ch.isalnum()) or "campaign"
        # texts composed before: a simulated week serves each post ~10 times (every pass
        # that sees it, every lookup), and composing was a third of building a page
        self._composed: dict[int, tuple[str, dict[str, Any]]] = {}

    def phase(self, ms: int) -> tuple[int, int]:
        """Return (phase, day) of a moment: phase -1 before, 0 during, 1 after the window."""
        k = bisect.bisect_right(self._day_starts, ms) - 1 - PRE_DAYS
        if k < 0:
            return -1, k
        if k >= self._n_days:
            return 1, k
        return 0, k

    def fill(self, out: Text, d: Draw, tokens: tuple[str, ...], ms: int) -> None:
        """Append a template's text to ``out``, drawing every field from ``d``."""
        c = self._c
        for pos, token in enumerate(tokens):
            if not pos % 2:
                out.add(token)
                continue
            if token == "T":
                if self._tags:
                    which = 0 if len(self._tags) == 1 or d.u() < 0.7 else d.n(len(self._tags))
                    variants = self._tag_variants[which]
                    u = d.u()
                    # mostly as configured; lower-case and other spellings now and then
                    v = 0 if u < 0.6 else 1 if u < 0.8 else 2 + d.n(len(variants) - 2 or 1)
                    out.tag(variants[min(v, len(variants) - 1)])
                else:
                    self._campaign_mention(out, d)
            elif token == "M":
                if c.campaign_authors:
                    self._campaign_mention(out, d)
                else:
                    out.tag(self._tag_variants[0][0])
            elif token == "X":
                out.tag(d.pick(self._co_tags))
            elif token == "F":
                out.add(d.pick(FACTS))
            elif token == "Fc":
                f = d.pick(FACTS)
                out.add(f[:1].upper() + f[1:])
            elif token == "P":
                out.add(d.pick(TOPICS))
            elif token == "Pc":
                topic = d.pick(TOPICS)
                out.add(topic[:1].upper() + topic[1:])
            elif token == "R":
                out.add(d.pick(ROLES))
            elif token == "O":
                out.add(d.pick(TIMES))
            elif token == "H":
                out.add(self._theme)
            elif token == "K":
                out.add(str(self.phase(ms)[1] + 1))
            elif token == "N":
                days = max(1, -self.phase(ms)[1])
                out.add("1 day" if days == 1 else f"{days} days")
            elif token == "U":
                out.url(f"https://example.org/{self._slug}/{base36(d.n(36**6))}")
            else:  # pragma: no cover - a template typo
                raise ValueError(f"unknown template field {token}")

    def _campaign_mention(self, out: Text, d: Draw) -> None:
        c = self._c
        accounts = c.campaign_authors
        a = accounts[0] if len(accounts) == 1 or d.u() < 0.8 else d.pick(accounts)
        out.mention(c.names(a)[0], c.user_id(a))

    def compose(self, i: int, memo: dict[int, tuple[str, dict[str, Any]]]) -> tuple[str, dict]:
        """Return (text, entities) of campaign post ``i``; the same on every call.

        ``memo`` holds what one page composed already: a retweet's original is composed
        for the retweet's text and again for ``includes.tweets``.
        """
        done = memo.get(i) or self._composed.get(i)
        if done is None:
            done = self._compose_new(i, memo)
            if len(self._composed) < KEEP_COMPOSED:  # bounded: a 1M-post corpus is written once
                self._composed[i] = done
        memo[i] = done
        return done

    def _compose_new(self, i: int, memo: dict[int, tuple[str, dict]]) -> tuple[str, dict]:
        """Return (text, entities) of post ``i``, drawn from a hash of its id and the seed."""
        c = self._c
        pid = c.ids[i]
        d = Draw(mix(pid ^ c.salt))
        k = c.kind[i]
        a = c.author[i]
        ms = snowflake_ms(pid)
        out = Text()
        if k == RETWEET:
            target = c.ref[i]
            username = c.names(c.author[target])[0]
            out.add("RT ")
            out.mention(username, c.user_id(c.author[target]))
            out.add(": ")
            text, entities = self.compose(target, memo)
            shift = out.pos
            out.add(text)
            for key, into in (("hashtags", out.hashtags), ("mentions", out.mentions)):
                for e in entities.get(key, ()):
                    into.append({**e, "start": e["start"] + shift, "end": e["end"] + shift})
            for e in entities.get("urls", ()):
                out.urls.append({**e, "start": e["start"] + shift, "end": e["end"] + shift})
            return out.text(), out.entities()
        hostile = d.pick(HOSTILE) if d.u() < _HOSTILE else None
        if hostile in HOSTILE_LEADING:
            out.add(hostile + " ")
        cls = c.author_class[a]
        if k == ORIGINAL:
            if cls in (CAMPAIGN, ORG):
                phase, _ = self.phase(ms)
                tokens = d.pick(T_ORG[phase])
            elif c.campaign_authors and d.u() < 0.15:
                tokens = d.pick(T_ORIGINAL_MENTION)
            else:
                tokens = d.pick(T_ORIGINAL_TAG)
        elif k == QUOTE:
            neither = c.ref[i] >= 0 and d.u() < _NEITHER_QUOTE
            tokens = d.pick(T_QUOTE_NEITHER if neither else T_QUOTE_MATCH)
        else:  # REPLY: replies open with the handle of whom they answer
            target = c.ref[i]
            ta = c.author[target] if target >= 0 else c.ext_author[-2 - target]
            out.mention(c.names(ta)[0], c.user_id(ta))
            out.add(" ")
            neither = target >= 0 and d.u() < _NEITHER_REPLY
            tokens = d.pick(T_REPLY_NEITHER if neither else T_REPLY_MATCH)
        self.fill(out, d, tokens, ms)
        if hostile is not None and hostile not in HOSTILE_LEADING:
            out.add(" " + hostile)
        return out.text(), out.entities()

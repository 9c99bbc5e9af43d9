"""Simulated source: a deterministic, seeded campaign served as X API v2 pages.

``simulate_campaign(settings, seed=42)`` generates every post of a campaign up front
(hashtags, accounts, dates and time zone all come from ``settings.campaign``):

- volume ramps up over the 7 local days before ``campaign.start``, peaks during the
  window and tails off over 3 days after ``campaign.end``; within a day it follows a
  local rhythm (quiet at night, peaks in the morning and the evening);
- authors are a pool with heavy-tailed follower counts (most people 50-2,000, a few
  organisations and well-known accounts with 100k-1M) and heavy-tailed activity, so
  contributors < posts; the campaign account (the first of ``campaign.accounts``) and
  supporter organisations (``campaign.supporters``, else invented, obviously fictional
  charities) post often;
- about 45 % retweets (of earlier campaign posts, popular ones more often), quotes,
  replies, a few replies that also quote, and originals; the posts they point at come in
  ``includes.tweets``; some point at posts outside the campaign (context only);
- entities with case variants of the campaign hashtags and co-occurring tags, mentions of
  the campaign account, ~3 % of posts without an ``entities`` object, a few posts that
  match neither term (the real search also matches through a quoted post or a
  conversation), ~2 % of users without ``public_metrics``, ``impression_count`` on ~80 %;
- engagement that grows with a post's age along a saturating curve toward a heavy-tailed
  final value, so a later sighting shows larger counts;
- a small share of hostile strings in texts and display names (``<script>``, spreadsheet
  formulas, a right-to-left override) so that report escaping is exercised.

``SimulatedSource`` serves it through the Source interface at a settable clock ``now``;
``write_twarc_jsonl`` writes it as a twarc2 archive with repeat sightings.

Memory stays lean for benchmarks (1M posts): posts are parallel ``array`` columns; text,
entities, names and engagement are derived on demand from a hash of the post id and the
seed, so the same post always renders the same content, and only its counts change.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gzip as gzip_module
import math
import random
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import orjson

from monitor.config import Campaign, Settings
from monitor.sources.base import Page, SinceIdTooOld, Source

#: X snowflake ids count milliseconds from this moment (2010-11-04T01:42:54.657Z)
SNOWFLAKE_EPOCH_MS = 1288834974657
PAGE_SIZE = 100
#: how far back X recent search reaches
SEARCH_REACH = dt.timedelta(days=7)
PRE_DAYS = 7  # local days of ramp-up before campaign.start
POST_DAYS = 3  # local days of tail after campaign.end
#: default size: posts per unit of day weight (a launch day weighs 1.0): ~7,100 for 5 days
POSTS_PER_DAY_WEIGHT = 1300

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_SEQ_MAX = (1 << 22) - 1

# kinds of post
ORIGINAL, RETWEET, REPLY, QUOTE = 0, 1, 2, 3
# classes of author
CAMPAIGN, ORG, STAR, PRO, PUBLIC, OUTSIDE = range(6)

# share of posts of each kind by author class: (retweet, reply, quote); the rest originals
_KIND_SHARES = {
    CAMPAIGN: (0.18, 0.16, 0.06),
    ORG: (0.33, 0.08, 0.12),
    STAR: (0.50, 0.05, 0.15),
    PRO: (0.44, 0.13, 0.10),
    PUBLIC: (0.49, 0.13, 0.09),
}
# tickets an original adds to the pool that retweets, quotes and replies draw from:
# followers make reach, reach makes retweets
_TICKETS = {CAMPAIGN: 40, ORG: 10, STAR: 12, PRO: 3, PUBLIC: 1}
_REPLY_ALSO_QUOTES = 0.12  # share of in-campaign replies that quote another post too
_EXTERNAL_QUOTE = 0.25  # share of quotes of a post outside the campaign (news, say)
_EXTERNAL_REPLY = 0.35
_NO_ENTITIES = 0.03  # posts delivered without an entities object (matching uses text)
_NEITHER_QUOTE = 0.25  # quotes whose own text has no campaign term
_NEITHER_REPLY = 0.20
_NO_PUBLIC_METRICS = 0.02  # ordinary users whose includes entry lacks public_metrics
_IMPRESSIONS_REPORTED = 0.80
_HOSTILE = 0.006

# local hour of day -> relative volume: quiet at night, peaks at 8-9 and 19-20
_HOUR_WEIGHTS = (
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.60, 1.00, 1.00, 0.85, 0.80,
    0.85, 0.80, 0.75, 0.70, 0.70, 0.80, 0.95, 1.10, 1.15, 1.00, 0.70, 0.35,
)  # fmt: skip
_DAYTIME = range(7, 22)  # organisations and the campaign account post in these hours

_M64 = (1 << 64) - 1


_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(moment: dt.datetime) -> int:
    """Return UTC epoch milliseconds of an aware ``moment`` (snowflakes count in ms)."""
    return (moment - _UNIX_EPOCH) // dt.timedelta(milliseconds=1)


def _mix(x: int) -> int:
    """Return a 64-bit hash of ``x`` (splitmix64): per-post draws without stored state."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class _Draw:
    """A tiny deterministic stream of draws from a hashed seed (far cheaper than a Random).

    A 64-bit LCG: its high bits are plenty for choosing words and shaping counts.
    """

    __slots__ = ("h",)

    def __init__(self, h: int) -> None:
        self.h = h

    def u(self) -> float:
        self.h = (self.h * 6364136223846793005 + 1442695040888963407) & _M64
        return (self.h >> 11) * (1.0 / 9007199254740992.0)

    def n(self, k: int) -> int:
        self.h = (self.h * 6364136223846793005 + 1442695040888963407) & _M64
        return ((self.h >> 32) * k) >> 32

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.n(len(seq))]

    def normal(self) -> float:
        u1 = self.u() or 1e-12
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * self.u())


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def snowflake(ms: int, seq: int = 0) -> int:
    """Return an X-style id for UTC epoch milliseconds ``ms`` (ids grow with time)."""
    return ((ms - SNOWFLAKE_EPOCH_MS) << 22) | seq


def snowflake_ms(post_id: int | str) -> int:
    """Return the UTC epoch milliseconds an X-style id was made at."""
    return (int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS


def _iso(ms: int) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000))}.{ms % 1000:03d}Z"


def search_query(campaign: Campaign) -> str:
    """Return the recent-search query of a campaign: ``(#TAG OR @account ...)``.

    The same query as monitor.sources.x builds, without importing tweepy for it.
    """
    terms = [f"#{t.strip().lstrip('#')}" for t in campaign.hashtags]
    terms += [f"@{a.strip().lstrip('@')}" for a in campaign.accounts]
    terms = list(dict.fromkeys(terms))
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


# --- words -----------------------------------------------------------------------------
# Templates: {T} campaign hashtag, {M} campaign account, {X} co-tag, {F}/{Fc} a fact
# (lower/capitalised), {P}/{Pc} topic, {R} role, {U} link, {K} day of the campaign,
# {N} time to go ("3 days"), {H} theme, {O} a time of day. Every name is invented.

FACTS = (
    "a baby's brain doubles in size in the first year",
    "babies learn to feel safe through warm, responsive care",
    "early relationships lay the foundations for lifelong mental health",
    "parents' wellbeing in pregnancy matters for their baby too",
    "talking, singing and cuddling all help a baby's brain to grow",
    "babies can have mental health needs too",
    "support for parents early on pays off for a lifetime",
    "dads and partners play a vital role in a baby's development",
    "it's never too early to think about a baby's emotional wellbeing",
    "every baby deserves a secure, loving start",
    "stress in the first 1001 days can have long-lasting effects",
    "health visitors are often the first to notice when a family needs help",
    "play is how babies make sense of the world",
    "asking for help as a new parent is a sign of strength",
)
TOPICS = (
    "perinatal mental health",
    "infant mental health",
    "bonding with your baby",
    "dads' mental health",
    "early relationships",
    "support for new parents",
    "baby brain development",
    "parent-infant therapy",
    "health visiting",
    "the first 1001 days",
)
ROLES = (
    "health visitor",
    "midwife",
    "GP",
    "nursery practitioner",
    "perinatal psychiatrist",
    "children's centre worker",
    "researcher",
    "mum",
    "dad",
    "foster carer",
)
CO_TAGS = (
    "InfantMentalHealth",
    "1001days",
    "perinatalMH",
    "MaternalMentalHealth",
    "EarlyYears",
    "mentalhealth",
    "parenting",
)
TIMES = ("10am", "12.30pm", "2pm", "7pm", "8pm")
HOSTILE = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "@SUM(1)",
    "\u202eevil text reversed",
    "+cmd|' /C calc'!A0",
    "-2+3 <b>bold</b> & co",
)
# hostile strings a spreadsheet would run when they start a cell: put them first
_HOSTILE_LEADING = {
    '=HYPERLINK("http://x")',
    "@SUM(1)",
    "+cmd|' /C calc'!A0",
    "-2+3 <b>bold</b> & co",
}
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "@SUM(1)",
    "\u202eAnna Reversed",
)

_ORIGINAL_TAG = (
    "{Fc}. {T}",
    "Did you know {F}? {T} {X}",
    "{Fc}. That's why {T} matters {X}",
    "Learning so much about {P} this week {T}",
    "Proud to support {T}: {F}.",
    "As a {R}, I know {F}. {T}",
    "{Pc}: why it matters, this week and every week {T} {X}",
    "Great session on {P} with colleagues today {T}",
    "Reading the {T} resources tonight. {Fc}.",
    "{T} {X} {Fc}!",
)
_ORIGINAL_MENTION = (
    "Thanks {M} for the brilliant resources on {P}",
    "Just discovered {M}. {Fc}. {T}",
    "Really helpful thread from {M} on {P}",
    "Sharing {M}'s work with our local parent group {X}",
)
_ORG_PRE = (
    "{N} to go until {T}! This year's theme: {H} {X}",
    "Get ready for {T}: our free resource pack is out now {U}",
    "Coming soon: {T}. How will you take part? {X}",
    "Proud to support {M} for {T} this year. {Fc}.",
)
_ORG_LIVE = (
    "Day {K} of {T}: {Fc}. {X}",
    "Today for {T} we're talking about {P}. {Fc}. {U}",
    "Join our free webinar on {P} at {O} today {T} {U}",
    "Thank you for all your support so far this {T}! {X}",
    "Our new briefing on {P} is out today for {T} {U}",
    "{Fc}. Find out more this {T} {U}",
    "We're joining {M} this week for {T}: {Fc}. {X}",
    "This year's theme is {H}: {Fc}. {T}",
)
_ORG_POST = (
    "Thank you to everyone who joined in with {T}. {Fc}. {X}",
    "Our {T} round-up is here: {U}",
    "What a week! {T} reached so many families. Thank you {M} {X}",
)
_QUOTE_MATCH = (
    "This. {T}",
    "So important {T}",
    "Worth a read for anyone working with families {T} {X}",
    "Brilliant to see this {M} {T}",
    "Couldn't agree more {T}",
    "Sharing for {T}: {Fc}.",
)
_QUOTE_NEITHER = (
    "This is so important \U0001f447",
    "Everyone working with families should read this",
    "Yes! Sharing with my team",
    "Thank you for this",
)
_REPLY_MATCH = (
    "Thank you for sharing {T}",
    "Absolutely. {Fc}. {T}",
    "Is there a version of this for {R}s? {M}",
    "Lovely to see so much support for {T}",
    "We'd love to get involved next year {M}",
    "Our team is taking part too! {T} {X}",
)
_REPLY_NEITHER = (
    "Thank you, this is really helpful",
    "Where can I find out more?",
    "Couldn't agree more",
    "Such an important message",
)
_EXTERNAL = (
    "New figures on {P} published today",
    "Parents share what helped them with {P}",
    "What does a baby need to thrive? Our reporter finds out",
    "Opinion: we need to talk about {P}",
    "Local group offers support for new parents",
)

FIRST_NAMES = (
    "Maya", "Ollie", "Priya", "Tomasz", "Aisha", "Ewan", "Freya", "Kofi", "Lena", "Rhys",
    "Sofia", "Callum", "Niamh", "Ravi", "Elif", "Jonah", "Imogen", "Tariq", "Bethan", "Luca",
    "Hana", "Declan", "Zara", "Owain", "Mei", "Felix", "Amara", "Gus", "Isla", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Brightwell", "Pennock", "Ashdown", "Marlowe", "Fenwick", "Quayle", "Thistle", "Holloway",
    "Larkin", "Osei", "Novak", "Castell", "Duffield", "Kaur", "Moreau", "Winslade", "Yardley",
    "Abernethy", "Okafor", "Rennick", "Sully", "Tamsin", "Vickery", "Whitlock",
)  # fmt: skip
_ORG_STEMS = (
    "Tiny Hearts", "Little Acorns", "Bright Beginnings", "Cradlewell", "Nest and Nurture",
    "Bumblebee Parents", "First Cuddles", "Snug Start", "Lullaby Lane", "Gentle Steps",
    "Puddle Duck", "Rainbow Cot",
)  # fmt: skip
_ORG_KINDS = ("Trust", "Foundation", "Network", "Alliance", "Charity", "Project")
_STAR_NAMES = (
    "Dr Juniper Quill", "Morning Crumpet Show", "Riverside Gazette", "Sunny Marlowe",
    "Baby Talk Weekly", "Professor Hazel Finch", "The Parenting Hour", "Dr Felix Ambery",
    "Westvale Radio", "Clementine Oduya",
)  # fmt: skip
_OUTSIDE_NAMES = (
    "Daily Teacup News", "Northbridge Herald", "Parent Post Online", "Hilltown Echo",
    "Family Matters Desk", "Shire Health Bulletin",
)  # fmt: skip


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


_T_ORIGINAL_TAG = _tokenise(_ORIGINAL_TAG)
_T_ORIGINAL_MENTION = _tokenise(_ORIGINAL_MENTION)
_T_ORG = {-1: _tokenise(_ORG_PRE), 0: _tokenise(_ORG_LIVE), 1: _tokenise(_ORG_POST)}
_T_QUOTE_MATCH = _tokenise(_QUOTE_MATCH)
_T_QUOTE_NEITHER = _tokenise(_QUOTE_NEITHER)
_T_REPLY_MATCH = _tokenise(_REPLY_MATCH)
_T_REPLY_NEITHER = _tokenise(_REPLY_NEITHER)
_T_EXTERNAL = _tokenise(_EXTERNAL)


def _camel(text: str) -> str:
    """Return ``text`` as a hashtag or handle: its words capitalised and joined."""
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return "".join(w[:1].upper() + w[1:] for w in words)


def _case_variants(tag: str) -> tuple[str, ...]:
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


class _Text:
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


class SimulatedCampaign:
    """A whole simulated campaign: every post, author and engagement curve, seeded.

    Posts are indexed 0..len-1 in order of ``created_at`` (and id). Build one with
    ``simulate_campaign``. Nothing here changes after construction; rendering a post
    ``as of`` a moment is a pure function of (campaign, seed, index, moment).
    """

    def __init__(self, campaign: Campaign, *, seed: int = 42, posts: int | None = None) -> None:
        self.campaign = campaign
        self.seed = seed
        self._salt = _mix(seed & _M64 ^ 0x5EED)
        self._tz = campaign.tz
        first_day = campaign.start - dt.timedelta(days=PRE_DAYS)
        self._n_days = (campaign.end - campaign.start).days + 1
        day_count = PRE_DAYS + self._n_days + POST_DAYS
        # UTC ms of each local midnight from the first ramp-up day to the day after the tail
        self._day_starts = [
            epoch_ms(dt.datetime.combine(first_day + dt.timedelta(days=k), dt.time(), self._tz))
            for k in range(day_count + 1)
        ]
        if self._day_starts[0] <= SNOWFLAKE_EPOCH_MS:
            raise ValueError(
                "the simulator makes X-style ids, which begin on 2010-11-04; "
                "choose a campaign that starts later"
            )
        self.span_start_at = dt.datetime.fromtimestamp(self._day_starts[0] / 1000, dt.UTC)
        self.span_end_at = dt.datetime.fromtimestamp(self._day_starts[-1] / 1000, dt.UTC)
        self.window_start_at = dt.datetime.fromtimestamp(self._day_starts[PRE_DAYS] / 1000, dt.UTC)
        self.window_end_at = dt.datetime.fromtimestamp(
            self._day_starts[PRE_DAYS + self._n_days] / 1000, dt.UTC
        )
        self._tags = tuple(t.strip().lstrip("#") for t in campaign.hashtags)
        self._tag_variants = tuple(_case_variants(t) for t in self._tags)
        folded = set(campaign.hashtag_terms)
        theme_tag = _camel(campaign.theme) if campaign.theme else ""
        # the theme's own tag is the commonest companion of the campaign tag
        co_tags = [theme_tag] * 4 + list(CO_TAGS) if theme_tag else list(CO_TAGS)
        self._co_tags = tuple(t for t in co_tags if t.casefold() not in folded) or CO_TAGS
        self._theme = campaign.theme or "early relationships"
        self._slug = "".join(c for c in campaign.name.lower() if c.isalnum()) or "campaign"
        self._generate(posts)

    # --- generation -------------------------------------------------------------------

    def _day_weight(self, k: int) -> float:
        """Relative volume of local day ``k`` (0 = campaign.start)."""
        last = self._n_days - 1
        if k < 0:
            return 0.3 * 0.62 ** (-k - 1)
        if k > last:
            return 0.25 * 0.4 ** (k - last - 1)
        return 1.0 if k == 0 else 0.92 if k == last else 0.8

    def _generate(self, posts: int | None) -> None:
        rng = random.Random(self.seed)
        rnd = rng.random
        tz = self._tz
        # hour bins in UTC, weighted by the local day and the local hour
        bin_start: list[int] = []
        bin_len: list[int] = []
        daytime: list[bool] = []
        cum: list[float] = []
        total = 0.0
        end = self._day_starts[-1]
        ms = self._day_starts[0]
        while ms < end:
            local = dt.datetime.fromtimestamp(ms / 1000, tz)
            k = bisect.bisect_right(self._day_starts, ms) - 1 - PRE_DAYS
            w = self._day_weight(k) * _HOUR_WEIGHTS[local.hour] * (0.75 + 0.5 * rnd())
            total += w
            bin_start.append(ms)
            bin_len.append(min(_HOUR_MS, end - ms))
            daytime.append(local.hour in _DAYTIME)
            cum.append(total)
            ms += _HOUR_MS
        if posts is None:
            day_mass = sum(self._day_weight(k) for k in range(-PRE_DAYS, self._n_days + POST_DAYS))
            posts = round(POSTS_PER_DAY_WEIGHT * day_mass)
        if posts < 0:
            raise ValueError("posts must be 0 or more")
        n = posts
        counts = [0] * len(bin_start)
        for b in rng.choices(range(len(bin_start)), cum_weights=cum, k=n):
            counts[b] += 1

        self._make_authors(rng, n)
        acls = self.author_class
        day_pool, night_pool = self._author_pools(n)

        ids = array("q")
        author = array("i")
        kind = bytearray()
        ref = array("i")
        retweets_in = array("i")
        replies_in = array("i")
        quotes_in = array("i")
        also_quotes: dict[int, int] = {}
        ext_ids = array("q")
        ext_author = array("i")
        tickets = array("i")  # post indices, repeated by appeal: what gets retweeted
        outside = self._outside_range
        public = self._public_range
        expo = rng.expovariate
        getbits = rng.getrandbits
        kind_shares = {c: (a, a + b, a + b + q) for c, (a, b, q) in _KIND_SHARES.items()}
        prev_ms = prev_seq = -1

        def pick_target(avoid: int) -> int:
            t_len = len(tickets)
            if rnd() < 0.7:
                # recent posts are the ones on people's timelines
                j = t_len - 1 - int(expo(1.0) * (0.12 * t_len + 25))
                if j < 0:
                    j = int(rnd() * t_len)
            else:
                j = int(rnd() * t_len)
            t = tickets[j]
            if author[t] == avoid:
                t = tickets[int(rnd() * t_len)]
            return t

        def external(at_ms: int) -> int:
            e_ms = at_ms - 60_000 - int(rnd() ** 2 * 2 * _DAY_MS)
            ext_ids.append(snowflake(e_ms, getbits(22)))
            if rnd() < 0.5:
                ext_author.append(outside[int(rnd() * len(outside))])
            else:
                ext_author.append(public[int(rnd() * len(public))])
            return -2 - (len(ext_ids) - 1)

        for b, c in enumerate(counts):
            if not c:
                continue
            base = bin_start[b]
            span = bin_len[b]
            pool = day_pool if daytime[b] else night_pool
            p_len = len(pool)
            for off in sorted(int(rnd() * span) for _ in range(c)):
                ms = base + off
                seq = getbits(22)
                if ms == prev_ms and seq <= prev_seq:
                    seq = prev_seq + 1
                    if seq > _SEQ_MAX:  # 4 million posts in one millisecond: move on one
                        ms, seq = ms + 1, 0
                prev_ms, prev_seq = ms, seq
                i = len(ids)
                ids.append(snowflake(ms, seq))
                a = pool[int(rnd() * p_len)]
                author.append(a)
                cls = acls[a]
                shares = kind_shares[cls]
                r = rnd()
                k = ORIGINAL
                target = -1
                if tickets:
                    if r < shares[0]:
                        target = pick_target(a)
                        if author[target] != a:
                            k = RETWEET
                            retweets_in[target] += 1
                            tickets.append(target)  # the rich get richer
                        else:
                            target = -1
                    elif r < shares[1]:
                        k = REPLY
                        if rnd() < _EXTERNAL_REPLY:
                            target = external(ms)
                        else:
                            target = pick_target(a)
                            replies_in[target] += 1
                            if rnd() < _REPLY_ALSO_QUOTES:
                                q = pick_target(a)
                                if q != target:
                                    also_quotes[i] = q
                                    quotes_in[q] += 1
                    elif r < shares[2]:
                        k = QUOTE
                        if rnd() < _EXTERNAL_QUOTE:
                            target = external(ms)
                        else:
                            target = pick_target(a)
                            quotes_in[target] += 1
                kind.append(k)
                ref.append(target)
                retweets_in.append(0)
                replies_in.append(0)
                quotes_in.append(0)
                if k in (ORIGINAL, QUOTE):
                    t = _TICKETS[cls]
                    if k == QUOTE:
                        t = max(1, t // 2)
                    if rnd() < 0.03:
                        t *= 8  # the odd post that takes off
                    tickets.extend(array("i", [i]) * t)
                elif k == REPLY and cls == CAMPAIGN:
                    tickets.append(i)

        self.ids = ids
        self.author = author
        self.kind = kind
        self.ref = ref
        self.also_quotes = also_quotes
        self.retweets_in = retweets_in
        self.replies_in = replies_in
        self.quotes_in = quotes_in
        self.ext_ids = ext_ids
        self.ext_author = ext_author
        self._ext_index = {pid: k for k, pid in enumerate(ext_ids)}

    def _make_authors(self, rng: random.Random, n: int) -> None:
        """Build the author pool: classes, follower counts, names of the named ones."""
        c = self.campaign
        followers = array("i")
        classes = bytearray()
        # index -> (username, name, bio): the named accounts, then a cache of the rest
        self._named: dict[int, tuple[str, str, str]] = {}
        lognorm = rng.lognormvariate

        taken: set[str] = set()

        def add(cls: int, count: float, name: tuple[str, str, str] | None = None) -> int:
            followers.append(max(0, min(int(count), 2_000_000_000)))
            classes.append(cls)
            idx = len(classes) - 1
            if name is not None:
                username = name[0][:15]
                if username.casefold() in taken:
                    # X usernames are unique (15 characters at most): number the repeats
                    tail = _base36(idx)
                    username = username[: 15 - len(tail)] + tail
                taken.add(username.casefold())
                self._named[idx] = (username, *name[1:])
            return idx

        self.campaign_authors: list[int] = []
        for k, account in enumerate(c.accounts):
            username = account.strip().lstrip("@")
            count = rng.uniform(18_000, 30_000) if k == 0 else rng.uniform(2_000, 10_000)
            bio = f"Campaign account of {c.name} (simulated for a hashmon demo)."
            self.campaign_authors.append(add(CAMPAIGN, count, (username, username, bio)))
        orgs: list[tuple[str, str]] = []
        for s in dict.fromkeys(s.strip().lstrip("@") for s in c.supporters):
            username = "".join(ch for ch in s if ch.isalnum() or ch == "_") or "supporter"
            if s and username.casefold() not in c.account_terms:  # not the campaign itself
                orgs.append((username, s))
        if not orgs:
            n_orgs = max(12, n // 5000)
            for k in range(n_orgs):
                stem = _ORG_STEMS[k % len(_ORG_STEMS)]
                org_kind = _ORG_KINDS[(k + k // len(_ORG_STEMS)) % len(_ORG_KINDS)]
                suffix = "" if k < len(_ORG_STEMS) * len(_ORG_KINDS) else f" {k}"
                name = f"{stem} {org_kind}{suffix}"
                orgs.append((_camel(name), name))
        self._org_range = range(len(classes), len(classes) + len(orgs))
        bio = (
            f"Supporter of {c.name} (simulated account)."
            if c.supporters
            else "Fictional charity for babies and families (simulated account)."
        )
        for username, name in orgs:
            add(
                ORG, min(max(lognorm(math.log(25_000), 0.9), 1_500), 250_000), (username, name, bio)
            )
        n_stars = max(2, round(n / 1000))
        self._star_range = range(len(classes), len(classes) + n_stars)
        for k in range(n_stars):
            name = _STAR_NAMES[k % len(_STAR_NAMES)]
            if k >= len(_STAR_NAMES):
                name += f" {k // len(_STAR_NAMES) + 1}"
            bio = "Well-known fictional account (simulated)."
            count = math.exp(rng.uniform(math.log(100_000), math.log(1_000_000)))
            add(STAR, count, (_camel(name), name, bio))
        n_pros = max(3, round(n / 40))
        self._pro_range = range(len(classes), len(classes) + n_pros)
        for _ in range(n_pros):
            add(PRO, min(max(lognorm(math.log(2_000), 0.8), 200), 60_000))
        n_public = max(len(HOSTILE_NAMES) + 1, round(n / 2.6))
        self._public_range = range(len(classes), len(classes) + n_public)
        for _ in range(n_public):
            add(PUBLIC, min(max(lognorm(math.log(350), 1.0), 3), 50_000))
        n_outside = max(len(_OUTSIDE_NAMES), n // 500)
        self._outside_range = range(len(classes), len(classes) + n_outside)
        for k in range(n_outside):
            name = _OUTSIDE_NAMES[k % len(_OUTSIDE_NAMES)]
            if k >= len(_OUTSIDE_NAMES):
                name += f" {k // len(_OUTSIDE_NAMES) + 1}"
            bio = "Fictional news account (simulated)."
            count = min(max(lognorm(math.log(50_000), 1.2), 1_000), 5_000_000)
            add(OUTSIDE, count, (_camel(name), name, bio))
        self.followers = followers
        self.author_class = classes
        # the first few ordinary people carry hostile display names: the demo must show them
        self._hostile_authors = {
            self._public_range[k]: HOSTILE_NAMES[k] for k in range(len(HOSTILE_NAMES))
        }
        self._activity_rng = rng

    def _author_pools(self, n: int) -> tuple[array, array]:
        """Return ticket pools of authors for daytime and night-time posts.

        Activity is heavy-tailed (a few people post a lot), organisations and the campaign
        account post in working hours, so they are only in the daytime pool.
        """
        rng = self._activity_rng
        day = array("i")
        night = array("i")
        for a in self._org_range:
            day.extend(array("i", [a]) * 70)
        for a in self._star_range:
            day.extend(array("i", [a]) * 3)
            night.extend(array("i", [a]) * 1)
        for a in self._pro_range:
            day.extend(array("i", [a]) * 15)
            night.extend(array("i", [a]) * 5)
        pareto = rng.paretovariate
        for a in self._public_range:
            t = int(5 * min(pareto(1.7), 60.0))
            if a in self._hostile_authors:
                t = 40  # post often enough (~8 times by default) to show up in every demo
            day.extend(array("i", [a]) * t)
            night.extend(array("i", [a]) * t)
        if self.campaign_authors:
            # the campaign account writes ~0.6 % of all posts (~45 by default), in daytime
            main = round(0.0068 * len(day) / (1 - 0.0068))
            day.extend(array("i", [self.campaign_authors[0]]) * main)
            for a in self.campaign_authors[1:]:
                day.extend(array("i", [a]) * max(1, main // 4))
        del self._activity_rng
        return day, night

    # --- lookups ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def post_id(self, index: int) -> str:
        """Return the id of post ``index``."""
        return str(self.ids[index])

    def created_at(self, index: int) -> dt.datetime:
        """Return when post ``index`` was created (aware UTC)."""
        return dt.datetime.fromtimestamp(snowflake_ms(self.ids[index]) / 1000, dt.UTC)

    def count_until(self, now: dt.datetime) -> int:
        """Return how many posts were created at or before ``now``."""
        return self.index_after(epoch_ms(now))

    def index_after(self, now_ms: int) -> int:
        """Return the index of the first post created after ``now_ms``."""
        return bisect.bisect_right(self.ids, snowflake(now_ms, _SEQ_MAX))

    def index_of(self, post_id: int) -> int | None:
        """Return the index of a campaign post by id, or None."""
        i = bisect.bisect_left(self.ids, post_id)
        return i if i < len(self.ids) and self.ids[i] == post_id else None

    def window_potential_impressions(self) -> int:
        """Return Σ of author followers over posts created in the window (METRICS.md).

        The generator's own figure, for demos and docs: followers of users delivered
        without ``public_metrics`` count 0, as they do in the store.
        """
        lo = bisect.bisect_left(self.ids, snowflake(epoch_ms(self.window_start_at)))
        hi = bisect.bisect_left(self.ids, snowflake(epoch_ms(self.window_end_at)))
        return sum(self.followers[a] for a in self.author[lo:hi] if self._has_public_metrics(a))

    # --- rendering ------------------------------------------------------------------

    def _has_public_metrics(self, a: int) -> bool:
        if self.author_class[a] != PUBLIC or a in self._hostile_authors:
            return True
        return _mix(a ^ self._salt ^ 0xA11) % 10_000 >= _NO_PUBLIC_METRICS * 10_000

    def _user_id(self, a: int) -> str:
        return str(700_000_000 + a * 4099 + _mix(a ^ self._salt) % 4099)

    def _names(self, a: int) -> tuple[str, str, str]:
        named = self._named.get(a)
        if named is not None:
            return named
        d = _Draw(_mix(a ^ self._salt ^ 0xB0B))
        first, last = d.pick(FIRST_NAMES), d.pick(LAST_NAMES)
        username = f"{first}{last[:3]}{_base36(a)}"
        name = self._hostile_authors.get(a, f"{first} {last}")
        role = d.pick(ROLES)
        bio = f"{role[:1].upper()}{role[1:]}. Interested in {d.pick(TOPICS)}. (Simulated person.)"
        if len(self._named) < 100_000:  # bounded: a 1M-post campaign has 400k people
            self._named[a] = (username, name, bio)
        return username, name, bio

    def user(self, a: int) -> dict[str, Any]:
        """Return author ``a`` as an ``includes.users`` object."""
        username, name, bio = self._names(a)
        d = _Draw(_mix(a ^ self._salt ^ 0xC0C))
        joined = self._day_starts[0] - int(d.u() * 8 * 365 * _DAY_MS) - _DAY_MS
        user: dict[str, Any] = {
            "id": self._user_id(a),
            "name": name,
            "username": username,
            "created_at": _iso(joined - joined % 1000),
            "description": bio,
            "verified": self.author_class[a] in (STAR, OUTSIDE),
            "protected": False,
        }
        if self._has_public_metrics(a):
            f = self.followers[a]
            user["public_metrics"] = {
                "followers_count": f,
                "following_count": int(50 + d.u() * 900 + f**0.5),
                "tweet_count": int(200 + d.u() * 20_000),
                "listed_count": int(f * 0.01 * d.u()),
            }
        return user

    def _phase(self, ms: int) -> tuple[int, int]:
        """Return (phase, day) of a moment: phase -1 before, 0 during, 1 after the window."""
        k = bisect.bisect_right(self._day_starts, ms) - 1 - PRE_DAYS
        if k < 0:
            return -1, k
        if k >= self._n_days:
            return 1, k
        return 0, k

    def _fill(self, out: _Text, d: _Draw, tokens: tuple[str, ...], ms: int) -> None:
        """Append a template's text to ``out``, drawing every field from ``d``."""
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
                if self.campaign_authors:
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
                out.add(str(self._phase(ms)[1] + 1))
            elif token == "N":
                days = max(1, -self._phase(ms)[1])
                out.add("1 day" if days == 1 else f"{days} days")
            elif token == "U":
                out.url(f"https://example.org/{self._slug}/{_base36(d.n(36**6))}")
            else:  # pragma: no cover - a template typo
                raise ValueError(f"unknown template field {token}")

    def _campaign_mention(self, out: _Text, d: _Draw) -> None:
        accounts = self.campaign_authors
        a = accounts[0] if len(accounts) == 1 or d.u() < 0.8 else d.pick(accounts)
        out.mention(self._names(a)[0], self._user_id(a))

    def _compose(self, i: int, memo: dict[int, tuple[str, dict[str, Any]]]) -> tuple[str, dict]:
        """Return (text, entities) of campaign post ``i``; the same on every call.

        ``memo`` holds what one page composed already: a retweet's original is composed
        for the retweet's text and again for ``includes.tweets``.
        """
        done = memo.get(i)
        if done is None:
            done = memo[i] = self._compose_new(i, memo)
        return done

    def _compose_new(self, i: int, memo: dict[int, tuple[str, dict]]) -> tuple[str, dict]:
        """Return (text, entities) of post ``i``, drawn from a hash of its id and the seed."""
        pid = self.ids[i]
        d = _Draw(_mix(pid ^ self._salt))
        k = self.kind[i]
        a = self.author[i]
        ms = snowflake_ms(pid)
        out = _Text()
        if k == RETWEET:
            target = self.ref[i]
            username = self._names(self.author[target])[0]
            out.add("RT ")
            out.mention(username, self._user_id(self.author[target]))
            out.add(": ")
            text, entities = self._compose(target, memo)
            shift = out.pos
            out.add(text)
            for key, into in (("hashtags", out.hashtags), ("mentions", out.mentions)):
                for e in entities.get(key, ()):
                    into.append({**e, "start": e["start"] + shift, "end": e["end"] + shift})
            for e in entities.get("urls", ()):
                out.urls.append({**e, "start": e["start"] + shift, "end": e["end"] + shift})
            return out.text(), out.entities()
        hostile = d.pick(HOSTILE) if d.u() < _HOSTILE else None
        if hostile in _HOSTILE_LEADING:
            out.add(hostile + " ")
        cls = self.author_class[a]
        if k == ORIGINAL:
            if cls in (CAMPAIGN, ORG):
                phase, _ = self._phase(ms)
                tokens = d.pick(_T_ORG[phase])
            elif self.campaign_authors and d.u() < 0.15:
                tokens = d.pick(_T_ORIGINAL_MENTION)
            else:
                tokens = d.pick(_T_ORIGINAL_TAG)
        elif k == QUOTE:
            neither = self.ref[i] >= 0 and d.u() < _NEITHER_QUOTE
            tokens = d.pick(_T_QUOTE_NEITHER if neither else _T_QUOTE_MATCH)
        else:  # REPLY: replies open with the handle of whom they answer
            target = self.ref[i]
            ta = self.author[target] if target >= 0 else self.ext_author[-2 - target]
            out.mention(self._names(ta)[0], self._user_id(ta))
            out.add(" ")
            neither = target >= 0 and d.u() < _NEITHER_REPLY
            tokens = d.pick(_T_REPLY_NEITHER if neither else _T_REPLY_MATCH)
        self._fill(out, d, tokens, ms)
        if hostile is not None and hostile not in _HOSTILE_LEADING:
            out.add(" " + hostile)
        return out.text(), out.entities()

    def _engagement(self, i: int) -> tuple[int, int, int, int, int, float]:
        """Return final (likes, retweets, replies, quotes, impressions, tau hours) of post i."""
        pid = self.ids[i]
        d = _Draw(_mix(pid ^ self._salt ^ 0xE6))
        f = self.followers[self.author[i]]
        k = self.kind[i]
        appeal = math.exp(1.1 * d.normal()) * (0.7 if k == QUOTE else 0.25 if k == REPLY else 1)
        base = appeal * (f + 30) ** 0.6
        rts = self.retweets_in[i] + int(base * 0.04)
        likes = int(base * 0.12) + int(2.2 * self.retweets_in[i]) + self.quotes_in[i]
        replies = self.replies_in[i] + int(base * 0.03)
        quotes = self.quotes_in[i] + int(base * 0.01)
        impressions = int(f * (0.03 + 0.12 * d.u())) + likes * 30 + rts * 60
        tau = 1.0 + 11.0 * d.u()
        return likes, rts, replies, quotes, impressions, tau

    @staticmethod
    def _grown(final: int, age_h: float, tau: float) -> int:
        return int(final * (1.0 - math.exp(-age_h / tau))) if age_h > 0 else 0

    def _metrics(self, i: int, now_ms: int) -> dict[str, int]:
        """Return post i's public_metrics as of ``now_ms`` (retweets: the original's)."""
        pid = self.ids[i]
        has_impressions = _mix(pid ^ self._salt ^ 0x1A) % 1000 < _IMPRESSIONS_REPORTED * 1000
        if self.kind[i] == RETWEET:
            original = self._metrics(self.ref[i], now_ms)
            out = {
                "retweet_count": original["retweet_count"],
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
            }
            if has_impressions:
                out["impression_count"] = 0
            return out
        likes, rts, replies, quotes, impressions, tau = self._engagement(i)
        age_h = (now_ms - snowflake_ms(pid)) / _HOUR_MS
        grow = self._grown
        out = {
            "retweet_count": grow(rts, age_h, tau),
            "reply_count": grow(replies, age_h, tau),
            "like_count": grow(likes, age_h, tau),
            "quote_count": grow(quotes, age_h, tau),
        }
        if has_impressions:
            out["impression_count"] = grow(impressions, age_h, tau * 1.5)
        return out

    def _external_post(self, e: int, now_ms: int) -> dict[str, Any]:
        """Return external (context-only) post ``e`` as an API object."""
        pid = self.ext_ids[e]
        d = _Draw(_mix(pid ^ self._salt))
        out = _Text()
        ms = snowflake_ms(pid)
        self._fill(out, d, d.pick(_T_EXTERNAL), ms)
        f = self.followers[self.ext_author[e]]
        age_h = (now_ms - ms) / _HOUR_MS
        base = math.exp(d.normal()) * (f + 30) ** 0.6
        tau = 1.0 + 11.0 * d.u()
        item: dict[str, Any] = {
            "id": str(pid),
            "text": out.text(),
            "author_id": self._user_id(self.ext_author[e]),
            "created_at": _iso(ms),
            "conversation_id": str(pid),
            "lang": "en",
            "public_metrics": {
                "retweet_count": self._grown(int(base * 0.05), age_h, tau),
                "reply_count": self._grown(int(base * 0.03), age_h, tau),
                "like_count": self._grown(int(base * 0.15), age_h, tau),
                "quote_count": self._grown(int(base * 0.01), age_h, tau),
                "impression_count": self._grown(int(f * 0.1), age_h, tau),
            },
            "edit_history_tweet_ids": [str(pid)],
            "possibly_sensitive": False,
            "reply_settings": "everyone",
        }
        entities = out.entities()
        if entities:
            item["entities"] = entities
        return item

    def _ref_id(self, code: int) -> str:
        return str(self.ids[code] if code >= 0 else self.ext_ids[-2 - code])

    def _ref_author(self, code: int) -> int:
        return self.author[code] if code >= 0 else self.ext_author[-2 - code]

    def post(
        self, i: int, now_ms: int, memo: dict[int, tuple[str, dict]] | None = None
    ) -> dict[str, Any]:
        """Return campaign post ``i`` as an API v2 object with its metrics as of ``now_ms``."""
        pid = self.ids[i]
        sid = str(pid)
        text, entities = self._compose(i, {} if memo is None else memo)
        k = self.kind[i]
        item: dict[str, Any] = {
            "id": sid,
            "text": text,
            "author_id": self._user_id(self.author[i]),
            "created_at": _iso(snowflake_ms(pid)),
            "conversation_id": sid,
            "lang": "en",
        }
        if entities and _mix(pid ^ self._salt ^ 0xE7) % 1000 >= _NO_ENTITIES * 1000:
            item["entities"] = entities
        if k != ORIGINAL:
            target = self.ref[i]
            kind_name = {RETWEET: "retweeted", REPLY: "replied_to", QUOTE: "quoted"}[k]
            refs = [{"type": kind_name, "id": self._ref_id(target)}]
            quoted = self.also_quotes.get(i)
            if quoted is not None:
                # the API does not promise an order; METRICS.md's precedence must not care
                also = {"type": "quoted", "id": self._ref_id(quoted)}
                refs = refs + [also] if pid % 2 else [also] + refs
            item["referenced_tweets"] = refs
            if k == REPLY:
                item["in_reply_to_user_id"] = self._user_id(self._ref_author(target))
                item["conversation_id"] = self._ref_id(target)
        item["public_metrics"] = self._metrics(i, now_ms)
        item["edit_history_tweet_ids"] = [sid]
        item["possibly_sensitive"] = False
        item["reply_settings"] = "everyone"
        return item

    def _page_body(
        self, indices: Sequence[int], now_ms: int, user_json: dict[int, Any] | None = None
    ) -> dict[str, Any]:
        """Return ``data`` and ``includes`` for campaign posts ``indices`` (in that order).

        ``user_json`` caches users as serialised orjson fragments across the pages of a
        file being written (a user never changes); pages handed to callers never use it.
        """
        memo: dict[int, tuple[str, dict]] = {}
        data = [self.post(i, now_ms, memo) for i in indices]
        users: dict[int, None] = {}
        refs: dict[int, None] = {}
        for i in indices:
            users[self.author[i]] = None
            if self.kind[i] != ORIGINAL:
                refs[self.ref[i]] = None
            quoted = self.also_quotes.get(i)
            if quoted is not None:
                refs[quoted] = None
        tweets = []
        for code in refs:
            if code >= 0:
                tweets.append(self.post(code, now_ms, memo))
            else:
                tweets.append(self._external_post(-2 - code, now_ms))
            users[self._ref_author(code)] = None
        if user_json is None:
            user_list: list[Any] = [self.user(a) for a in users]
        else:
            if len(user_json) > 50_000:
                user_json.clear()  # bounded: ordinary people rarely come back
            user_list = []
            for a in users:
                fragment = user_json.get(a)
                if fragment is None:
                    # a copy, exactly sized: orjson's own buffer keeps kilobytes spare
                    raw = bytes(memoryview(orjson.dumps(self.user(a))))
                    fragment = user_json[a] = orjson.Fragment(raw)
                user_list.append(fragment)
        body: dict[str, Any] = {"data": data, "includes": {"users": user_list}}
        if tweets:
            body["includes"]["tweets"] = tweets
        return body

    def search_pages(
        self,
        lo: int,
        hi: int,
        now_ms: int,
        *,
        page_size: int = PAGE_SIZE,
        _user_json: dict[int, Any] | None = None,
    ) -> Iterator[Page]:
        """Yield search pages for campaign posts ``lo`` .. ``hi - 1``, newest first.

        Each page is built when asked for; the last one has no ``next_token``. With no
        posts in range, one page with ``result_count`` 0, as the API answers.
        """
        if hi <= lo:
            yield {"meta": {"result_count": 0}}
            return
        top = hi
        while top > lo:
            bottom = max(lo, top - page_size)
            indices = range(top - 1, bottom - 1, -1)
            page = self._page_body(indices, now_ms, _user_json)
            meta: dict[str, Any] = {
                "newest_id": str(self.ids[top - 1]),
                "oldest_id": str(self.ids[bottom]),
                "result_count": len(indices),
            }
            if bottom > lo:
                meta["next_token"] = _base36(_mix(self.ids[bottom] ^ self._salt ^ now_ms))
            page["meta"] = meta
            yield page
            top = bottom

    def lookup_page(self, ids: Sequence[str], now_ms: int) -> Page:
        """Return a GET /2/tweets page for ``ids`` as of ``now_ms``; unknown ids in errors.

        A post created after ``now_ms`` does not exist yet. External (context) posts are
        found too: they exist on the platform, outside the campaign.
        """
        found: list[dict[str, Any]] = []
        campaign_found: list[int] = []
        extra_users: dict[int, None] = {}
        errors: list[dict[str, Any]] = []
        for raw in ids:
            value = str(raw)
            pid = int(value) if value.isascii() and value.isdigit() else -1
            i = self.index_of(pid) if pid >= 0 else None
            e = self._ext_index.get(pid) if i is None else None
            if i is not None and snowflake_ms(pid) <= now_ms:
                campaign_found.append(i)
                found.append({"campaign": i})
            elif e is not None and snowflake_ms(pid) <= now_ms:
                found.append(self._external_post(e, now_ms))
                extra_users[self.ext_author[e]] = None
            else:
                errors.append(
                    {
                        "value": value,
                        "detail": f"Could not find tweet with ids: [{value}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": value,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
        page: dict[str, Any] = {}
        if found:
            body = self._page_body(campaign_found, now_ms)
            by_index = iter(body["data"])
            page["data"] = [next(by_index) if "campaign" in f else f for f in found]
            users = body["includes"]["users"]
            known = {u["id"] for u in users}
            for a in extra_users:
                if self._user_id(a) not in known:
                    users.append(self.user(a))
            page["includes"] = body["includes"]
        if errors:
            page["errors"] = errors
        return page


def simulate_campaign(
    settings: Settings | Campaign, *, seed: int = 42, posts: int | None = None
) -> SimulatedCampaign:
    """Return a simulated campaign for ``settings.campaign``, generated from ``seed``.

    ``posts`` fixes the number of posts (benchmarks use 100k and 1M); by default it is
    sized to the campaign's dates (~7,100 posts for a 5-day window, which puts the
    window's potential impressions near ten million). The same seed and settings give
    the same campaign, byte for byte. Raises ValueError for a campaign before 2010-11-04
    (X ids did not exist) or a negative ``posts``.
    """
    campaign = settings.campaign if isinstance(settings, Settings) else settings
    return SimulatedCampaign(campaign, seed=seed, posts=posts)


class SimulatedSource(Source):
    """Serves a SimulatedCampaign as X recent search and lookup, at the clock ``now``.

    ``campaign`` is a SimulatedCampaign, or Settings (then the campaign is simulated
    with ``settings.source.seed``). ``now`` (aware UTC) is settable: the demo moves it
    on hour by hour. ``clock`` is an aware datetime to start at, or a callable returning
    one, read each time until ``now`` is assigned; without it the source starts at the end
    of the simulated span (every post made, the last 7 days searchable).
    The source keeps no memory of what it served: a pass that overlaps an earlier one
    simply gets those posts again, with counts grown to ``now``.
    """

    platform = "x"
    name = "simulated:recent"
    search_reach = SEARCH_REACH

    def __init__(
        self,
        campaign: SimulatedCampaign | Settings,
        clock: Callable[[], dt.datetime] | dt.datetime | None = None,
    ) -> None:
        super().__init__()
        if isinstance(campaign, Settings):
            campaign = simulate_campaign(campaign, seed=campaign.source.seed)
        self.campaign = campaign
        self._clock: Callable[[], dt.datetime] | None = None
        self._now = campaign.span_end_at
        if callable(clock):
            self._clock = clock
        elif clock is not None:
            self.now = clock

    @property
    def now(self) -> dt.datetime:
        """The moment the source answers as of (aware UTC)."""
        return self._clock() if self._clock is not None else self._now

    @now.setter
    def now(self, value: dt.datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("now must be an aware datetime (UTC)")
        self._clock = None
        self._now = value.astimezone(dt.UTC)

    def search(self, since_id: str | None = None, until_id: str | None = None) -> Iterator[Page]:
        """Yield search pages, newest first, for ids in (since_id, until_id).

        Only posts created at or before ``now`` and within the last 7 days, as X recent
        search. Raises SinceIdTooOld (on the first page asked for, like the X source) when
        ``since_id`` was made more than 7 days before ``now``. Each page, and the refused
        request, counts as one request.
        """
        c = self.campaign
        now_ms = epoch_ms(self.now)
        reach_ms = now_ms - int(self.search_reach / dt.timedelta(milliseconds=1))
        lo = bisect.bisect_left(c.ids, snowflake(reach_ms))
        if since_id is not None:
            if snowflake_ms(since_id) < reach_ms:
                self.requests += 1
                raise SinceIdTooOld(
                    f"since_id {since_id} was made at {_iso(snowflake_ms(since_id))}, more "
                    f"than {self.search_reach.days} days before {_iso(now_ms)}: recent search "
                    "no longer reaches it"
                )
            lo = max(lo, bisect.bisect_right(c.ids, int(since_id)))
        hi = c.index_after(now_ms)
        if until_id is not None:
            hi = min(hi, bisect.bisect_left(c.ids, int(until_id)))
        for page in c.search_pages(lo, hi, now_ms):
            self.requests += 1
            yield page

    def lookup(self, ids: Sequence[str]) -> Iterator[Page]:
        """Yield lookup pages (GET /2/tweets) of up to 100 ids, metrics as of ``now``.

        Ids not found (or not created yet) are in the page's ``errors`` array.
        """
        now_ms = epoch_ms(self.now)
        ids = list(ids)
        for start in range(0, len(ids), self.lookup_batch):
            self.requests += 1
            yield self.campaign.lookup_page(ids[start : start + self.lookup_batch], now_ms)


def write_twarc_jsonl(
    campaign: SimulatedCampaign,
    path: str | Path,
    *,
    now: dt.datetime | None = None,
    gzip: bool = False,
    repeat_every: int = 10,
    step: dt.timedelta = dt.timedelta(hours=1),
) -> int:
    """Write the campaign as a twarc2 JSONL archive and return the sightings written.

    One search response page per line, each with a ``__twarc`` object (url, version,
    retrieved_at) as ``twarc2 search`` writes. Lines follow a collector polling every
    ``step`` from the start of the span to ``now`` (default: the end of the span): each
    poll writes the pages of the posts made since the previous poll, newest first, with
    counts as of the poll; then, when ``repeat_every`` is N > 0, every Nth page of the
    previous poll again, counts grown (repeat sightings). Streams page by page, so 1M
    posts need no more memory than one page. The return value counts every post item
    written, repeats included (an import's ``posts_seen``). ``gzip`` writes a .gz stream.
    """
    end_ms = epoch_ms(now) if now is not None else epoch_ms(campaign.span_end_at)
    step_ms = int(step / dt.timedelta(milliseconds=1))
    if step_ms <= 0:
        raise ValueError("step must be positive")
    url = (
        "https://api.twitter.com/2/tweets/search/recent?expansions=author_id%2C"
        "referenced_tweets.id%2Creferenced_tweets.id.author_id&tweet.fields=author_id%2C"
        "conversation_id%2Ccreated_at%2Centities%2Cid%2Cin_reply_to_user_id%2Clang%2C"
        "public_metrics%2Creferenced_tweets%2Ctext&user.fields=created_at%2Cdescription%2C"
        "id%2Cname%2Cpublic_metrics%2Cusername%2Cverified&max_results=100&query="
        + url_quote(search_query(campaign.campaign))
    )
    written = 0
    with (
        open(path, "wb") as raw,
        (
            # mtime 0: the same campaign gives the same bytes, so the same sha256 on import
            gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            if gzip
            else raw
        ) as fh,
    ):

        def emit(page: Page, at_ms: int) -> None:
            nonlocal written
            retrieved = dt.datetime.fromtimestamp(at_ms // 1000, dt.UTC).isoformat()
            page["__twarc"] = {
                "url": url,
                "version": "hashmon-simulated",
                "retrieved_at": retrieved,
            }
            fh.write(orjson.dumps(page) + b"\n")
            written += len(page.get("data", ()))

        user_json: dict[int, Any] = {}
        previous: list[tuple[int, int]] = []  # (lo, hi) of the pages of the previous poll
        lo = 0
        poll_ms = epoch_ms(campaign.span_start_at)
        page_no = 0
        while True:
            poll_ms = min(poll_ms + step_ms, end_ms)
            hi = campaign.index_after(poll_ms)
            current: list[tuple[int, int]] = []
            if hi > lo:
                for page in campaign.search_pages(lo, hi, poll_ms, _user_json=user_json):
                    emit(page, poll_ms)
                    page_no += 1
                    if repeat_every > 0 and page_no % repeat_every == 0:
                        meta = page["meta"]
                        bottom = campaign.index_of(int(meta["oldest_id"]))
                        top = campaign.index_of(int(meta["newest_id"]))
                        current.append((bottom, top + 1))
            for r_lo, r_hi in previous:
                for page in campaign.search_pages(r_lo, r_hi, poll_ms, _user_json=user_json):
                    emit(page, poll_ms)
            previous = current
            lo = hi
            if poll_ms >= end_ms:
                break
    return written

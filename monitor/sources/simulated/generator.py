"""The seeded generation of a simulated campaign: who posts, when, and what points at what.

``generate`` draws, from one ``random.Random(seed)``, the author pool (classes, heavy-tailed
follower counts, the named accounts), each post's moment (volume by local day and hour),
author and kind, and the posts that retweets, quotes and replies point at. Posts are
parallel ``array`` columns so a 1M-post campaign stays lean; what a post says and its
counts are rendered later from a hash of its id (campaign.py). The order of the draws is
the campaign: changing it changes every seeded campaign.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from array import array
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.settings import Campaign
from monitor.sources.simulated.ids import DAY_MS, HOUR_MS, SEQ_MAX, base36, snowflake
from monitor.sources.simulated.words import (
    HOSTILE_NAMES,
    ORG_KINDS,
    ORG_STEMS,
    OUTSIDE_NAMES,
    STAR_NAMES,
    camel,
)

PRE_DAYS = 7  # local days of ramp-up before campaign.start
POST_DAYS = 3  # local days of tail after campaign.end
#: default size: posts per unit of day weight (a launch day weighs 1.0): ~7,100 for 5 days
POSTS_PER_DAY_WEIGHT = 1300

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

# local hour of day -> relative volume: quiet at night, peaks at 8-9 and 19-20
_HOUR_WEIGHTS = (
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.60, 1.00, 1.00, 0.85, 0.80,
    0.85, 0.80, 0.75, 0.70, 0.70, 0.80, 0.95, 1.10, 1.15, 1.00, 0.70, 0.35,
)  # fmt: skip
_DAYTIME = range(7, 22)  # organisations and the campaign account post in these hours


@dataclass(slots=True)
class Authors:
    """The author pool: index -> class and followers; ranges of indices by class."""

    followers: array
    classes: bytearray
    #: index -> (username, name, bio) of the named accounts (the rest are drawn on demand)
    named: dict[int, tuple[str, str, str]]
    campaign: list[int]
    orgs: range
    stars: range
    pros: range
    public: range
    outside: range
    #: ordinary people who carry hostile display names: index -> name
    hostile: dict[int, str]


@dataclass(slots=True)
class Posts:
    """Every campaign post as parallel columns, in order of id, and the outside posts.

    ``ref`` is the index of the post a retweet, reply or quote points at, -1 for none,
    or ``-2 - e`` for outside post ``e`` (``ext_ids[e]``, by ``ext_author[e]``).
    """

    ids: array
    author: array
    kind: bytearray
    ref: array
    also_quotes: dict[int, int]  # reply index -> the campaign post it also quotes
    retweets_in: array
    replies_in: array
    quotes_in: array
    ext_ids: array
    ext_author: array


def day_weight(k: int, n_days: int) -> float:
    """Relative volume of local day ``k`` (0 = campaign.start) of an ``n_days`` window."""
    last = n_days - 1
    if k < 0:
        return 0.3 * 0.62 ** (-k - 1)
    if k > last:
        return 0.25 * 0.4 ** (k - last - 1)
    return 1.0 if k == 0 else 0.92 if k == last else 0.8


def generate(
    campaign: Campaign, seed: int, day_starts: list[int], tz: ZoneInfo, posts: int | None
) -> tuple[Authors, Posts]:
    """Return the authors and posts of a campaign, drawn from ``seed``.

    ``day_starts`` holds the UTC ms of each local midnight from the first ramp-up day to
    the day after the tail. ``posts`` fixes the number of posts (default: sized to the
    days). Raises ValueError for a negative ``posts``.
    """
    rng = random.Random(seed)
    rnd = rng.random
    n_days = len(day_starts) - 1 - PRE_DAYS - POST_DAYS
    # hour bins in UTC, weighted by the local day and the local hour
    bin_start: list[int] = []
    bin_len: list[int] = []
    daytime: list[bool] = []
    cum: list[float] = []
    total = 0.0
    end = day_starts[-1]
    ms = day_starts[0]
    while ms < end:
        local = dt.datetime.fromtimestamp(ms / 1000, tz)
        k = bisect.bisect_right(day_starts, ms) - 1 - PRE_DAYS
        w = day_weight(k, n_days) * _HOUR_WEIGHTS[local.hour] * (0.75 + 0.5 * rnd())
        total += w
        bin_start.append(ms)
        bin_len.append(min(HOUR_MS, end - ms))
        daytime.append(local.hour in _DAYTIME)
        cum.append(total)
        ms += HOUR_MS
    if posts is None:
        day_mass = sum(day_weight(k, n_days) for k in range(-PRE_DAYS, n_days + POST_DAYS))
        posts = round(POSTS_PER_DAY_WEIGHT * day_mass)
    if posts < 0:
        raise ValueError("posts must be 0 or more")
    n = posts
    counts = [0] * len(bin_start)
    for b in rng.choices(range(len(bin_start)), cum_weights=cum, k=n):
        counts[b] += 1

    authors = _make_authors(campaign, rng, n)
    acls = authors.classes
    day_pool, night_pool = _author_pools(authors, rng)

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
    outside = authors.outside
    public = authors.public
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
        e_ms = at_ms - 60_000 - int(rnd() ** 2 * 2 * DAY_MS)
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
                if seq > SEQ_MAX:  # 4 million posts in one millisecond: move on one
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

    return authors, Posts(
        ids=ids,
        author=author,
        kind=kind,
        ref=ref,
        also_quotes=also_quotes,
        retweets_in=retweets_in,
        replies_in=replies_in,
        quotes_in=quotes_in,
        ext_ids=ext_ids,
        ext_author=ext_author,
    )


def _make_authors(c: Campaign, rng: random.Random, n: int) -> Authors:
    """Build the author pool: classes, follower counts, names of the named ones."""
    followers = array("i")
    classes = bytearray()
    # index -> (username, name, bio): the named accounts, then a cache of the rest
    named: dict[int, tuple[str, str, str]] = {}
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
                tail = base36(idx)
                username = username[: 15 - len(tail)] + tail
            taken.add(username.casefold())
            named[idx] = (username, *name[1:])
        return idx

    campaign_authors: list[int] = []
    for k, account in enumerate(c.accounts):
        username = account.strip().lstrip("@")
        count = rng.uniform(18_000, 30_000) if k == 0 else rng.uniform(2_000, 10_000)
        bio = f"Campaign account of {c.name} (simulated for a hashmon demo)."
        campaign_authors.append(add(CAMPAIGN, count, (username, username, bio)))
    orgs: list[tuple[str, str]] = []
    for s in dict.fromkeys(s.strip().lstrip("@") for s in c.supporters):
        username = "".join(ch for ch in s if ch.isalnum() or ch == "_") or "supporter"
        if s and username.casefold() not in c.account_terms:  # not the campaign itself
            orgs.append((username, s))
    if not orgs:
        n_orgs = max(12, n // 5000)
        for k in range(n_orgs):
            stem = ORG_STEMS[k % len(ORG_STEMS)]
            org_kind = ORG_KINDS[(k + k // len(ORG_STEMS)) % len(ORG_KINDS)]
            suffix = "" if k < len(ORG_STEMS) * len(ORG_KINDS) else f" {k}"
            name = f"{stem} {org_kind}{suffix}"
            orgs.append((camel(name), name))
    org_range = range(len(classes), len(classes) + len(orgs))
    bio = (
        f"Supporter of {c.name} (simulated account)."
        if c.supporters
        else "Fictional charity for babies and families (simulated account)."
    )
    for username, name in orgs:
        add(ORG, min(max(lognorm(math.log(25_000), 0.9), 1_500), 250_000), (username, name, bio))
    n_stars = max(2, round(n / 1000))
    star_range = range(len(classes), len(classes) + n_stars)
    for k in range(n_stars):
        name = STAR_NAMES[k % len(STAR_NAMES)]
        if k >= len(STAR_NAMES):
            name += f" {k // len(STAR_NAMES) + 1}"
        bio = "Well-known fictional account (simulated)."
        count = math.exp(rng.uniform(math.log(100_000), math.log(1_000_000)))
        add(STAR, count, (camel(name), name, bio))
    n_pros = max(3, round(n / 40))
    pro_range = range(len(classes), len(classes) + n_pros)
    for _ in range(n_pros):
        add(PRO, min(max(lognorm(math.log(2_000), 0.8), 200), 60_000))
    n_public = max(len(HOSTILE_NAMES) + 1, round(n / 2.6))
    public_range = range(len(classes), len(classes) + n_public)
    for _ in range(n_public):
        add(PUBLIC, min(max(lognorm(math.log(350), 1.0), 3), 50_000))
    n_outside = max(len(OUTSIDE_NAMES), n // 500)
    outside_range = range(len(classes), len(classes) + n_outside)
    for k in range(n_outside):
        name = OUTSIDE_NAMES[k % len(OUTSIDE_NAMES)]
        if k >= len(OUTSIDE_NAMES):
            name += f" {k // len(OUTSIDE_NAMES) + 1}"
        bio = "Fictional news account (simulated)."
        count = min(max(lognorm(math.log(50_000), 1.2), 1_000), 5_000_000)
        add(OUTSIDE, count, (camel(name), name, bio))
    return Authors(
        followers=followers,
        classes=classes,
        named=named,
        campaign=campaign_authors,
        orgs=org_range,
        stars=star_range,
        pros=pro_range,
        public=public_range,
        outside=outside_range,
        # the first few ordinary people carry hostile display names: the demo must show them
        hostile={public_range[k]: HOSTILE_NAMES[k] for k in range(len(HOSTILE_NAMES))},
    )


def _author_pools(authors: Authors, rng: random.Random) -> tuple[array, array]:
    """Return ticket pools of authors for daytime and night-time posts.

    Activity is heavy-tailed (a few people post a lot), organisations and the campaign
    account post in working hours, so they are only in the daytime pool.
    """
    day = array("i")
    night = array("i")
    for a in authors.orgs:
        day.extend(array("i", [a]) * 70)
    for a in authors.stars:
        day.extend(array("i", [a]) * 3)
        night.extend(array("i", [a]) * 1)
    for a in authors.pros:
        day.extend(array("i", [a]) * 15)
        night.extend(array("i", [a]) * 5)
    pareto = rng.paretovariate
    for a in authors.public:
        t = int(5 * min(pareto(1.7), 60.0))
        if a in authors.hostile:
            t = 40  # post often enough (~8 times by default) to show up in every demo
        day.extend(array("i", [a]) * t)
        night.extend(array("i", [a]) * t)
    if authors.campaign:
        # the campaign account writes ~0.6 % of all posts (~45 by default), in daytime
        main = round(0.0068 * len(day) / (1 - 0.0068))
        day.extend(array("i", [authors.campaign[0]]) * main)
        for a in authors.campaign[1:]:
            day.extend(array("i", [a]) * max(1, main // 4))
    return day, night

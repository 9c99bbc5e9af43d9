"""A simulated campaign: every post, author and engagement curve, rendered as API objects.

What a post says, its entities, its author's names and its counts are derived on demand
from a hash of the post id and the seed (generator.py made only the columns), so the
same post always renders the same content, and only its counts change with ``now``:
engagement grows with a post's age along a saturating curve toward a heavy-tailed final
value. A small share of hostile strings in texts and display names exercises escaping.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterator, Sequence
from typing import Any

from monitor.settings import Campaign, Settings
from monitor.sources.base import Page
from monitor.sources.simulated import pages
from monitor.sources.simulated.generator import (
    ORIGINAL,
    OUTSIDE,
    POST_DAYS,
    PRE_DAYS,
    PUBLIC,
    QUOTE,
    REPLY,
    RETWEET,
    STAR,
    generate,
)
from monitor.sources.simulated.ids import (
    DAY_MS,
    HOUR_MS,
    M64,
    SEQ_MAX,
    SNOWFLAKE_EPOCH_MS,
    Draw,
    base36,
    epoch_ms,
    iso,
    mix,
    snowflake,
    snowflake_ms,
)
from monitor.sources.simulated.texts import KEEP_COMPOSED, Composer
from monitor.sources.simulated.words import (
    FIRST_NAMES,
    LAST_NAMES,
    ROLES,
    T_EXTERNAL,
    TOPICS,
    Text,
)

_NO_ENTITIES = 0.03  # posts delivered without an entities object (matching uses text)
_NO_PUBLIC_METRICS = 0.02  # ordinary users whose includes entry lacks public_metrics
_IMPRESSIONS_REPORTED = 0.80


class SimulatedCampaign:
    """A whole simulated campaign: every post, author and engagement curve, seeded.

    Posts are indexed 0..len-1 in order of ``created_at`` (and id). Build one with
    ``simulate_campaign``. Nothing here changes after construction; rendering a post
    ``as of`` a moment is a pure function of (campaign, seed, index, moment).
    """

    def __init__(self, campaign: Campaign, *, seed: int = 42, posts: int | None = None) -> None:
        self.campaign = campaign
        self.seed = seed
        #: the seed's hash: every per-post draw mixes it in
        self.salt = mix(seed & M64 ^ 0x5EED)
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
        self._texts = Composer(self, self._day_starts, self._n_days)
        self._users: dict[int, dict[str, Any]] = {}
        authors, made = generate(campaign, seed, self._day_starts, self._tz, posts)
        self.followers = authors.followers
        self.author_class = authors.classes
        self.campaign_authors = authors.campaign
        self._named = authors.named
        self._hostile_authors = authors.hostile
        self.ids = made.ids
        self.author = made.author
        self.kind = made.kind
        self.ref = made.ref
        self.also_quotes = made.also_quotes
        self.retweets_in = made.retweets_in
        self.replies_in = made.replies_in
        self.quotes_in = made.quotes_in
        self.ext_ids = made.ext_ids
        self.ext_author = made.ext_author
        self.ext_index = {pid: k for k, pid in enumerate(made.ext_ids)}

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
        return bisect.bisect_right(self.ids, snowflake(now_ms, SEQ_MAX))

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
        return mix(a ^ self.salt ^ 0xA11) % 10_000 >= _NO_PUBLIC_METRICS * 10_000

    def user_id(self, a: int) -> str:
        """Return the X user id of author ``a``."""
        return str(700_000_000 + a * 4099 + mix(a ^ self.salt) % 4099)

    def names(self, a: int) -> tuple[str, str, str]:
        """Return (username, display name, bio) of author ``a``; the same on every call."""
        named = self._named.get(a)
        if named is not None:
            return named
        d = Draw(mix(a ^ self.salt ^ 0xB0B))
        first, last = d.pick(FIRST_NAMES), d.pick(LAST_NAMES)
        username = f"{first}{last[:3]}{base36(a)}"
        name = self._hostile_authors.get(a, f"{first} {last}")
        role = d.pick(ROLES)
        bio = f"{role[:1].upper()}{role[1:]}. Interested in {d.pick(TOPICS)}. (Simulated person.)"
        if len(self._named) < 100_000:  # bounded: a 1M-post campaign has 400k people
            self._named[a] = (username, name, bio)
        return username, name, bio

    def user(self, a: int) -> dict[str, Any]:
        """Return author ``a`` as an ``includes.users`` object (the same object each time
        for the most recent authors: every page a post is on carries its author)."""
        kept = self._users.get(a)
        if kept is not None:
            return kept
        username, name, bio = self.names(a)
        d = Draw(mix(a ^ self.salt ^ 0xC0C))
        joined = self._day_starts[0] - int(d.u() * 8 * 365 * DAY_MS) - DAY_MS
        user: dict[str, Any] = {
            "id": self.user_id(a),
            "name": name,
            "username": username,
            "created_at": iso(joined - joined % 1000),
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
        if len(self._users) < KEEP_COMPOSED:  # bounded, as the texts are
            self._users[a] = user
        return user

    def _engagement(self, i: int) -> tuple[int, int, int, int, int, float]:
        """Return final (likes, retweets, replies, quotes, impressions, tau hours) of post i."""
        pid = self.ids[i]
        d = Draw(mix(pid ^ self.salt ^ 0xE6))
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

    def _metrics(self, i: int, now_ms: int) -> dict[str, int]:
        """Return post i's public_metrics as of ``now_ms`` (retweets: the original's)."""
        pid = self.ids[i]
        has_impressions = mix(pid ^ self.salt ^ 0x1A) % 1000 < _IMPRESSIONS_REPORTED * 1000
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
        age_h = (now_ms - snowflake_ms(pid)) / HOUR_MS
        grow = grown
        out = {
            "retweet_count": grow(rts, age_h, tau),
            "reply_count": grow(replies, age_h, tau),
            "like_count": grow(likes, age_h, tau),
            "quote_count": grow(quotes, age_h, tau),
        }
        if has_impressions:
            out["impression_count"] = grow(impressions, age_h, tau * 1.5)
        return out

    def external_post(self, e: int, now_ms: int) -> dict[str, Any]:
        """Return external (context-only) post ``e`` as an API object."""
        pid = self.ext_ids[e]
        d = Draw(mix(pid ^ self.salt))
        out = Text()
        ms = snowflake_ms(pid)
        self._texts.fill(out, d, d.pick(T_EXTERNAL), ms)
        f = self.followers[self.ext_author[e]]
        age_h = (now_ms - ms) / HOUR_MS
        base = math.exp(d.normal()) * (f + 30) ** 0.6
        tau = 1.0 + 11.0 * d.u()
        item: dict[str, Any] = {
            "id": str(pid),
            "text": out.text(),
            "author_id": self.user_id(self.ext_author[e]),
            "created_at": iso(ms),
            "conversation_id": str(pid),
            "lang": "en",
            "public_metrics": {
                "retweet_count": grown(int(base * 0.05), age_h, tau),
                "reply_count": grown(int(base * 0.03), age_h, tau),
                "like_count": grown(int(base * 0.15), age_h, tau),
                "quote_count": grown(int(base * 0.01), age_h, tau),
                "impression_count": grown(int(f * 0.1), age_h, tau),
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

    def ref_author(self, code: int) -> int:
        """Return the author of a ``ref`` code: a campaign post index, or ``-2 - e`` outside."""
        return self.author[code] if code >= 0 else self.ext_author[-2 - code]

    def post(
        self, i: int, now_ms: int, memo: dict[int, tuple[str, dict]] | None = None
    ) -> dict[str, Any]:
        """Return campaign post ``i`` as an API v2 object with its metrics as of ``now_ms``."""
        pid = self.ids[i]
        sid = str(pid)
        text, entities = self._texts.compose(i, {} if memo is None else memo)
        k = self.kind[i]
        item: dict[str, Any] = {
            "id": sid,
            "text": text,
            "author_id": self.user_id(self.author[i]),
            "created_at": iso(snowflake_ms(pid)),
            "conversation_id": sid,
            "lang": "en",
        }
        if entities and mix(pid ^ self.salt ^ 0xE7) % 1000 >= _NO_ENTITIES * 1000:
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
                item["in_reply_to_user_id"] = self.user_id(self.ref_author(target))
                item["conversation_id"] = self._ref_id(target)
        item["public_metrics"] = self._metrics(i, now_ms)
        item["edit_history_tweet_ids"] = [sid]
        item["possibly_sensitive"] = False
        item["reply_settings"] = "everyone"
        return item

    # --- pages ------------------------------------------------------------------------

    def search_pages(
        self,
        lo: int,
        hi: int,
        now_ms: int,
        *,
        page_size: int = pages.PAGE_SIZE,
    ) -> Iterator[Page]:
        """Yield search pages for campaign posts ``lo`` .. ``hi - 1``, newest first.

        Each page is built when asked for; the last one has no ``next_token``. With no
        posts in range, one page with ``result_count`` 0, as the API answers.
        """
        return pages.search_pages(self, lo, hi, now_ms, page_size=page_size)

    def lookup_page(self, ids: Sequence[str], now_ms: int) -> Page:
        """Return a GET /2/tweets page for ``ids`` as of ``now_ms``; unknown ids in errors.

        A post created after ``now_ms`` does not exist yet. External (context) posts are
        found too: they exist on the platform, outside the campaign.
        """
        return pages.lookup_page(self, ids, now_ms)


def grown(final: int, age_h: float, tau: float) -> int:
    """Return the share of a final count reached ``age_h`` hours after posting."""
    return int(final * (1.0 - math.exp(-age_h / tau))) if age_h > 0 else 0


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

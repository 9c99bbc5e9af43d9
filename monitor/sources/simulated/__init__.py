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

``SimulatedSource`` serves it through the Source interface at a settable clock ``now``.
bench/twarc.py writes it as a twarc2 archive with repeat sightings.

Modules: ``ids`` (X-style ids, times, seeded draws), ``words`` (words.json, the text
builder), ``generator`` (the seeded columns: authors, moments, kinds, targets), ``texts``
(what each post says), ``campaign`` (SimulatedCampaign: posts and users as API objects),
``pages`` (search and lookup pages), ``source`` (SimulatedSource).

Memory stays lean for benchmarks (1M posts): posts are parallel ``array`` columns; text,
entities, names and engagement are derived on demand from a hash of the post id and the
seed, so the same post always renders the same content, and only its counts change.
"""

from monitor.sources.simulated.campaign import SimulatedCampaign, simulate_campaign
from monitor.sources.simulated.ids import SNOWFLAKE_EPOCH_MS, epoch_ms, snowflake, snowflake_ms
from monitor.sources.simulated.pages import PAGE_SIZE
from monitor.sources.simulated.source import SEARCH_REACH, SimulatedSource

__all__ = [
    "PAGE_SIZE",
    "SEARCH_REACH",
    "SNOWFLAKE_EPOCH_MS",
    "SimulatedCampaign",
    "SimulatedSource",
    "epoch_ms",
    "simulate_campaign",
    "snowflake",
    "snowflake_ms",
]

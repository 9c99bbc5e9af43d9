"""The names of the period figures (METRICS.md), shared by the SQL, the tables and the files."""

from __future__ import annotations

PERIOD_KEYS = (
    "posts",
    "originals",
    "retweets",
    "quotes",
    "replies",
    "hashtag_posts",
    "mention_posts",
    "contributors",
    "potential_impressions",
    "potential_reach",
    "like_count",
    "retweet_count",
    "reply_count",
    "quote_count",
    "engagements",
    "engagement_rate",
    "impressions",
    "impressions_coverage",
    "posts_without_followers",
    "hidden_posts",
    "excluded_posts",
)
ENGAGEMENT_COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")
METRIC_NAMES = {
    "posts": "posts",
    "contributors": "contributors",
    "potential_impressions": "potential impressions",
    "potential_reach": "potential reach",
    "engagements": "engagements",
}

# the period figures that are sums of the posts' own columns; the rest count distinct
# authors or are computed from these sums
_NOT_SUMS = {
    "contributors",
    "potential_reach",
    "engagements",
    "engagement_rate",
    "impressions_coverage",
    "excluded_posts",
}
SUM_KEYS = (*(k for k in PERIOD_KEYS if k not in _NOT_SUMS), "impressions_reported")

"""The metric definitions in plain words, after METRICS.md.

The HTML Methodology section, the "Definitions" sheet and the JSON all read them from
here, so they never drift apart.
"""

from __future__ import annotations

from monitor.settings import Settings
from reports.format import metric_name, num


def definitions(settings: Settings) -> list[tuple[str, str, str]]:
    """Return (key, name, plain-words definition) for every figure, after METRICS.md."""
    c = settings.campaign
    tags = ", ".join(f"#{t.strip().lstrip('#')}" for t in c.hashtags) or "(none configured)"
    accounts = ", ".join(f"@{a.strip().lstrip('@')}" for a in c.accounts) or "(none configured)"
    b = settings.baseline
    baseline = (
        f"The period's {metric_name(b.metric)} divided by {b.label}'s {num(b.value)}."
        if b is not None
        else "No baseline is configured, so there is nothing to compare against."
    )
    return [
        (
            "query",
            "Search query",
            f"Posts were collected from X with the search query {c.query()} (each hashtag "
            "and account one term, refused otherwise), and imported from archives.",
        ),
        (
            "day",
            "Day",
            f"A local date in the campaign's time zone ({c.timezone}, summer time "
            "included). A post's day is when it was created, in that zone.",
        ),
        (
            "posts",
            "Posts",
            "Posts collected in the period, each counted once however often "
            "it was seen: originals, retweets, replies and quotes.",
        ),
        ("originals", "Originals", "Posts that neither retweet, reply to nor quote another."),
        ("retweets", "Retweets", "Posts that retweet another."),
        ("replies", "Replies", "Posts that reply to another (a reply that quotes is a reply)."),
        ("quotes", "Quotes", "Posts that quote another."),
        ("hashtag_posts", "Hashtag posts", f"Posts tagged {tags}, in any letter case."),
        ("mention_posts", "Mention posts", f"Posts mentioning {accounts}, in any letter case."),
        (
            "contributors",
            "Contributors",
            "Distinct accounts that posted in the period. Over "
            "several days each account counts once, so daily figures do not add up to the week's.",
        ),
        (
            "potential_impressions",
            "Potential impressions",
            "The sum, over every post "
            "(retweets included), of its author's followers when the post was first collected: "
            "how many times the posts could have been delivered to someone's timeline. It counts "
            "deliveries, not people, and is the 'exposure' figure of tools like TweetReach.",
        ),
        (
            "potential_reach",
            "Potential reach",
            "The sum of the followers of the distinct "
            "accounts that posted, each account counted once (from its latest post in the "
            "period). It is an upper bound on the people who could have seen a post: audiences "
            "overlap, and someone who follows two contributors is counted twice. It is never "
            "added up across days: the week's reach counts each account once over the week.",
        ),
        (
            "like_count",
            "Likes",
            "Likes of the period's posts as last reported, retweets left "
            "out (a retweet's counts belong to its original).",
        ),
        (
            "retweet_count",
            "Retweets received",
            "Times the period's posts were retweeted, as "
            "last reported, retweets' own counts left out.",
        ),
        ("reply_count", "Replies received", "Replies to the period's posts, as last reported."),
        ("quote_count", "Quotes received", "Quotes of the period's posts, as last reported."),
        (
            "engagements",
            "Engagements",
            "Likes + retweets + replies + quotes received by posts "
            "that are not retweets, so no engagement is counted twice through a retweet's copy.",
        ),
        (
            "engagement_rate",
            "Engagement rate",
            "Engagements divided by potential impressions; "
            "n/a when there are no potential impressions.",
        ),
        (
            "impressions",
            "Impressions",
            "Views X itself reported (it has done so since 2022), "
            "summed over the posts that reported them; n/a when no post did.",
        ),
        (
            "impressions_coverage",
            "Impressions coverage",
            "The share of the period's posts that "
            "reported an impression count: read 'impressions' with this in mind.",
        ),
        (
            "posts_without_followers",
            "Posts lacking a follower count",
            "Posts whose author's "
            "follower count was missing from the data that delivered them first; they add "
            "nothing to potential impressions or potential reach.",
        ),
        (
            "hidden_posts",
            "Hidden posts",
            "Posts the config's [moderation] lists hide (hide_posts, hide_accounts): "
            "counted in every figure above, never shown or quoted in any list, chart or file.",
        ),
        (
            "excluded_posts",
            "Excluded posts",
            "Posts the config's [moderation] lists exclude (exclude_posts, exclude_accounts, "
            "by the author's username as stored): counted in no other figure and never shown; "
            "they stay stored. Excluding wins over hiding.",
        ),
        ("baseline_progress", "Progress against the baseline", baseline),
    ]

"""The campaign's terms as SQL conditions over the stored hashtags and mentions of posts."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.settings import Settings


def like_terms(column: str, terms: Sequence[str], prefix: str) -> tuple[str, dict[str, str]]:
    """Return an SQL condition true when ``column`` (" a b ") holds any of ``terms``."""
    if not terms:
        return "1 = 0", {}
    conds, params = [], {}
    for i, term in enumerate(terms):
        escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params[f"{prefix}{i}"] = f"% {escaped} %"
        conds.append(f"{column} LIKE :{prefix}{i} ESCAPE '!'")
    return "(" + " OR ".join(conds) + ")", params


def match_conditions(settings: Settings, alias: str = "p") -> tuple[str, str, dict[str, str]]:
    """Return (hashtag condition, mention condition, parameters) for the campaign's terms."""
    tag_cond, tag_params = like_terms(f"{alias}.hashtags", settings.campaign.hashtag_terms, "t")
    men_cond, men_params = like_terms(f"{alias}.mentions", settings.campaign.account_terms, "m")
    return tag_cond, men_cond, tag_params | men_params

"""Careless or hostile settings: search terms that would change the query, extreme numbers
and dates. Each is refused in one line naming the key, exit 2, before anything is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import load_settings
from monitor.settings import Campaign, Settings
from monitor.store.engine import make_engine
from reports.definitions import definitions
from tests.harness import fails, isolated  # noqa: F401 - isolated: an autouse fixture


def config_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


# --- (6) search terms go into the query as single terms only --------------------------

BAD_TERMS = [
    ("hashtags", "IMHAW17 OR from:someone"),
    ("hashtags", "#IMHAW17 -is:retweet"),
    ("hashtags", "IMHAW17)"),
    ("hashtags", '"exact phrase"'),
    ("hashtags", "#"),
    ("hashtags", "tag\u200bzero-width"),
    ("accounts", "first1001days -is:retweet"),
    ("accounts", "from:someone"),
    ("accounts", "a_very_long_username_16"),
    ("accounts", "@élan"),
    ("accounts", "@"),
]


@pytest.mark.parametrize(("key", "term"), BAD_TERMS)
def test_a_search_term_that_is_not_one_hashtag_or_account_is_refused_naming_the_key(
    capsys, tmp_path: Path, key: str, term: str
) -> None:
    db = tmp_path / "x.db"
    toml = f"[campaign]\n{key} = [{json.dumps(term)}]\n"
    code, err = fails(
        capsys, "--config", config_file(tmp_path, toml), "--database", f"sqlite:///{db}", "init"
    )
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("Error: config error in ")
    assert f"[campaign] {key}" in err
    assert not db.exists()  # nothing made, nothing stored


def test_single_terms_in_any_script_are_accepted_and_make_the_query_shown() -> None:
    c = Campaign(hashtags=("#भारत", "தமிழ்", "Straße", "_2017"), accounts=("@first1001days", "a_b"))
    assert c.query() == "(#भारत OR #தமிழ் OR #Straße OR #_2017 OR @first1001days OR @a_b)"
    shown = dict((k, text) for k, _, text in definitions(Settings(campaign=c)))
    assert c.query() in shown["query"]  # every report's methodology names the query sent


def test_status_shows_the_search_query_sent(tmp_path: Path) -> None:
    toml = (
        '[campaign]\nhashtags = ["SleepWeek"]\naccounts = ["sleepcharity"]\n'
        "start = 2026-03-09\nend = 2026-03-15\n"
    )
    db = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["--config", config_file(tmp_path, toml), "--database", db, "status"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    assert "search query: (#SleepWeek OR @sleepcharity)" in result.stdout.splitlines()
    as_json = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert json.loads(as_json.stdout)["query"] == "(#SleepWeek OR @sleepcharity)"


# --- (9) extreme numbers and dates ----------------------------------------------------

EXTREMES = [
    ("[baseline]\nlabel = 'x'\nvalue = inf\n", "[baseline] value"),
    ("[baseline]\nlabel = 'x'\nvalue = nan\n", "[baseline] value"),
    ("[baseline]\nlabel = 'x'\nvalue = 5e-324\n", "[baseline] value"),
    ("[baseline]\nlabel = 'x'\nvalue = 1e20\n", "[baseline] value"),
    ("[campaign]\nstart = 2017-06-12\nend = 9999-12-31\n", "the campaign"),
    ("[campaign]\nstart = 1000-01-01\nend = 1000-01-05\n", "the campaign"),
    ("[campaign]\nstart = 2010-01-01\nend = 2017-06-16\n", "the campaign"),
]


@pytest.mark.parametrize(("toml", "key"), EXTREMES)
def test_extreme_settings_are_refused_in_one_line_naming_the_key(
    capsys, tmp_path: Path, toml: str, key: str
) -> None:
    db = tmp_path / "x.db"
    code, err = fails(
        capsys, "--config", config_file(tmp_path, toml), "--database", f"sqlite:///{db}", "stats"
    )
    assert code == 2
    assert err.count("\n") == 1 and f": {key}" in err
    assert "Traceback" not in err and not db.exists()


def test_the_largest_sane_settings_still_load() -> None:
    path_free = Settings.model_validate(
        {
            "campaign": {"start": "2017-01-01", "end": "2019-12-31"},
            "baseline": {"label": "x", "value": 1e15},
        }
    )
    assert len(path_free.campaign.days()) == 1095
    assert path_free.baseline.value == 1e15


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "1000-01-01"], "the period 1000-01-01 is outside"),
        (["--to", "9999-12-31"], "the period 9999-12-31 is outside"),
        (["--from", "2006-06-01"], "days; hashmon covers at most 1098 days"),
    ],
)
def test_a_stats_window_out_of_range_is_refused_at_once(capsys, tmp_path: Path, args, said) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, err = fails(capsys, "--database", db, "stats", *args)
    assert code == 2
    assert err.count("\n") == 1 and said in err and "--from and --to" in err


def test_stats_json_never_prints_a_value_json_does_not_have(tmp_path: Path) -> None:
    """A baseline that would divide to infinity (set unvalidated) prints null, not Infinity."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    make_engine(db).dispose()
    from reports import stats as stats_module

    settings = load_settings(None, db)
    tiny = settings.baseline.model_copy(update={"value": 5e-324, "metric": "posts"})
    obj = {"a": float("inf"), "b": [float("nan"), 1.5], "c": {"d": -float("inf")}}
    assert stats_module.finite(obj) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    from monitor.store.engine import snapshot

    engine = make_engine(db)
    with snapshot(engine) as conn:
        out = stats_module.stats_object(conn, settings.model_copy(update={"baseline": tiny}))
    text = json.dumps(out, allow_nan=False)  # raises on Infinity or NaN
    assert "Infinity" not in text and "NaN" not in text

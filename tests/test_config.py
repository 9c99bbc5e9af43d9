"""Configuration: #IMHAW17 defaults, a ConfigError naming every bad key, and precedence
(--config / --database, then HASHMON_CONFIG / HASHMON_DATABASE_URL, then ./hashmon.toml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.settings import Baseline, Campaign

REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No override from the caller's environment, and a current folder without hashmon.toml."""
    monkeypatch.delenv("HASHMON_CONFIG", raising=False)
    monkeypatch.delenv("HASHMON_DATABASE_URL", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def toml(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_describe_imhaw17() -> None:
    settings = load_settings()
    c = settings.campaign
    assert c.name == "IMHAW17"
    assert c.hashtags == ("IMHAW17",)
    assert c.accounts == ("first1001days",)
    assert (c.start, c.end) == (dt.date(2017, 6, 12), dt.date(2017, 6, 16))
    assert c.timezone == "Europe/London"
    assert settings.baseline == Baseline(
        label="#IMHAW16", metric="potential_impressions", value=10_000_000
    )
    assert settings.database.url == "sqlite:///hashmon.db"
    assert settings.origin == "built-in defaults"


def test_the_documented_example_config_is_valid_and_states_the_defaults() -> None:
    example = load_settings(str(REPO / "config.example.toml"))
    defaults = load_settings()
    assert example.campaign == defaults.campaign
    assert example.baseline == defaults.baseline
    assert example.database == defaults.database


def test_a_file_sets_the_campaign(tmp_path: Path) -> None:
    path = toml(
        tmp_path / "c.toml",
        '[campaign]\nname = "MHAW23"\nhashtags = ["#MHAW23", "mentalhealth"]\n'
        'accounts = ["@mentalhealth"]\nstart = 2023-05-15\nend = 2023-05-21\n'
        'timezone = "America/New_York"\n',
    )
    c = load_settings(path).campaign
    assert (c.name, c.hashtags, c.accounts) == (
        "MHAW23",
        ("#MHAW23", "mentalhealth"),
        ("@mentalhealth",),
    )
    assert (c.start, c.end, c.timezone) == (
        dt.date(2023, 5, 15),
        dt.date(2023, 5, 21),
        "America/New_York",
    )


def test_the_campaign_gives_its_query_display_terms_and_days() -> None:
    # marks optional and surrounding space ignored, as users write terms in a config
    c = Campaign(
        hashtags=("IMHAW17", " #BeginBeforeBirth", "#IMHAW17"),
        accounts=("@first1001days",),
        start=dt.date(2017, 6, 30),
        end=dt.date(2017, 7, 2),
    )
    assert c.query() == "(#IMHAW17 OR #BeginBeforeBirth OR @first1001days)"
    shown = Campaign(hashtags=("IMHAW17", " #BeginBeforeBirth"), accounts=("first1001days",))
    assert shown.display_terms() == "#IMHAW17 #BeginBeforeBirth @first1001days"
    assert c.days() == [dt.date(2017, 6, 30), dt.date(2017, 7, 1), dt.date(2017, 7, 2)]
    one = Campaign(hashtags=(), accounts=("first1001days",), start=dt.date(2017, 6, 12))
    assert one.query() == "@first1001days"
    assert one.display_terms() == "@first1001days"
    assert one.days() == [
        dt.date(2017, 6, 12),
        dt.date(2017, 6, 13),
        dt.date(2017, 6, 14),
        dt.date(2017, 6, 15),
        dt.date(2017, 6, 16),
    ]


def test_a_file_without_a_baseline_table_compares_against_nothing(tmp_path: Path) -> None:
    path = toml(tmp_path / "c.toml", '[campaign]\nname = "X"\n')
    assert load_settings(path).baseline is None


def test_a_partial_baseline_table_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = toml(tmp_path / "c.toml", '[baseline]\nmetric = "posts"\nvalue = 250\n')
    assert load_settings(path).baseline == Baseline(label="#IMHAW16", metric="posts", value=250)


# --- bad keys -------------------------------------------------------------------------------

# each kind of mistake, and the whole line a user reads for it: the key as the file writes
# it, the value found, the form expected with an example
BAD = {
    "start-not-a-date": (
        '[campaign]\nstart = "june"\n',
        '[campaign] start = "june": expected a date written YYYY-MM-DD, without quotes, '
        "e.g. start = 2017-06-12",
    ),
    "end-impossible-date": (
        '[campaign]\nend = "2017-13-45"\n',
        '[campaign] end = "2017-13-45": expected a date written YYYY-MM-DD, without quotes, '
        "e.g. end = 2017-06-16",
    ),
    "end-a-number": (
        "[campaign]\nend = 20170616\n",
        "[campaign] end = 20170616: expected a date written YYYY-MM-DD, without quotes, "
        "e.g. end = 2017-06-16",
    ),
    "metric-unknown": (
        '[baseline]\nmetric = "likes"\n',
        '[baseline] metric = "likes": expected one of "posts", "contributors", '
        '"potential_impressions", "potential_reach", "engagements", '
        'e.g. metric = "potential_impressions"',
    ),
    "value-zero": (
        "[baseline]\nvalue = 0\n",
        "[baseline] value = 0: expected a number greater than 0, e.g. value = 10000000",
    ),
    "value-negative": (
        "[baseline]\nvalue = -5\n",
        "[baseline] value = -5: expected a number greater than 0, e.g. value = 10000000",
    ),
    "top-n-too-big": (
        "[reports]\ntop_n = 500\n",
        "[reports] top_n = 500: expected a whole number greater than 0 and at most 100, "
        "e.g. top_n = 10",
    ),
    "time-not-a-time": (
        '[schedule]\nsummary_at = "9am"\n',
        '[schedule] summary_at = "9am": expected a time written HH:MM:SS, without quotes, '
        "e.g. summary_at = 09:00:00",
    ),
    "timezone": (
        '[campaign]\ntimezone = "Mars/Olympus"\n',
        '[campaign] timezone = "Mars/Olympus": expected an IANA time zone name such as '
        "Europe/London",
    ),
    "end-before-start": (
        "[campaign]\nstart = 2017-06-16\nend = 2017-06-12\n",
        "[campaign] end = 2017-06-12 is before [campaign] start = 2017-06-16: the end must be "
        "on or after the start, e.g. start = 2017-06-12, end = 2017-06-16",
    ),
    "empty-hashtag": (
        '[campaign]\nhashtags = ["#"]\n',
        """[campaign] hashtags = ["#"]: '#' is not one hashtag: expected letters, digits and _ """
        "only, like IMHAW17 (one term per entry, no spaces or search operators)",
    ),
    "hashtags-not-a-list": (
        '[campaign]\nhashtags = "IMHAW17"\n',
        '[campaign] hashtags = "IMHAW17": expected a list of text in quotes, '
        'e.g. hashtags = ["IMHAW17"]',
    ),
    "list-item-wrong-type": (
        "[campaign]\nhashtags = [1]\n",
        '[campaign] hashtags, item 1 = 1: expected text in quotes, e.g. hashtags = ["IMHAW17"]',
    ),
    "list-item-unknown": (
        '[reports]\nformats = ["html", "docx"]\n',
        '[reports] formats, item 2 = "docx": expected one of "html", "png", "csv", "xlsx", '
        '"pdf", "json", e.g. formats = ["html", "png", "csv", "xlsx", "pdf", "json"]',
    ),
    "no-terms": (
        "[campaign]\nhashtags = []\naccounts = []\n",
        "[campaign] hashtags and accounts are both empty: give at least one, "
        'e.g. hashtags = ["IMHAW17"]',
    ),
    "database-url-not-text": (
        "[database]\nurl = 5\n",
        '[database] url = 5: expected text in quotes, e.g. url = "sqlite:///hashmon.db"',
    ),
    "table-not-a-table": (
        "campaign = 5\n",
        "campaign = 5: expected a table, a line [campaign] with its keys on the lines below",
    ),
}

# words of the validation library a user must never read
LIBRARY_WORDS = ("Input should", "valid tuple", "invalid character", "Value error", "campaign.")


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_value_is_a_config_error_naming_its_key(tmp_path: Path, case: str) -> None:
    text, key_message = BAD[case]
    path = toml(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == f"config error in {path}: {key_message}"
    assert not any(words in str(caught.value) for words in LIBRARY_WORDS)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "[campaign]\nhashtag = ['x']\n",
            "[campaign] hashtag: unknown key; did you mean hashtags? "
            "see config.example.toml for the keys hashmon reads",
        ),
        (
            "[schedule]\nsumary_at = 09:00:00\n",
            "[schedule] sumary_at: unknown key; did you mean summary_at? "
            "see config.example.toml for the keys hashmon reads",
        ),
        (
            "[database]\nport = 5432\n",
            "[database] port: unknown key; see config.example.toml for the keys hashmon reads",
        ),
        (
            '[campagn]\nname = "x"\n',
            "[campagn]: unknown table; did you mean [campaign]? hashmon reads [campaign], "
            "[baseline], [database], [source], [x], [schedule], [reports], [email], "
            "[stakeholders], [moderation], [shareable]",
        ),
        (
            "[foo]\nbar = 1\n",
            "[foo]: unknown table; hashmon reads [campaign], [baseline], [database], [source], "
            "[x], [schedule], [reports], [email], [stakeholders], [moderation], [shareable]",
        ),
    ],
    ids=["misspelt-key", "misspelt-time-key", "unknown-key", "misspelt-table", "unknown-table"],
)
def test_an_unknown_key_is_named_with_the_key_it_may_mean(
    tmp_path: Path, text: str, line: str
) -> None:
    path = toml(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == f"config error in {path}: {line}"


def test_a_bad_database_url_is_named_without_repeating_it(tmp_path: Path) -> None:
    # the value may hold a password: the key is named, the value is not shown
    path = toml(tmp_path / "bad.toml", '[database]\nurl = ["postgresql://u:pw@h/db"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f'config error in {path}: [database] url: expected text in quotes, e.g. url = "sqlite:///hashmon.db"'
    )


def test_a_file_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    path = toml(tmp_path / "bad.toml", '[campaign\nname = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"config error in {path}: not valid TOML (")
    assert message.endswith("); fix the file")
    assert caught.value.exit_code == 2


# --- where settings come from ---------------------------------------------------------------


def test_hashmon_toml_in_the_current_folder_is_read(clean_env: Path) -> None:
    toml(clean_env / "hashmon.toml", '[campaign]\nname = "HERE"\n')
    assert load_settings().campaign.name == "HERE"


def test_hashmon_config_beats_the_current_folder(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml(clean_env / "hashmon.toml", '[campaign]\nname = "HERE"\n')
    monkeypatch.setenv("HASHMON_CONFIG", toml(tmp_path / "env.toml", '[campaign]\nname = "ENV"\n'))
    assert load_settings().campaign.name == "ENV"


def test_the_config_option_beats_hashmon_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMON_CONFIG", toml(tmp_path / "env.toml", '[campaign]\nname = "ENV"\n'))
    option = toml(tmp_path / "opt.toml", '[campaign]\nname = "OPTION"\n')
    assert load_settings(option).campaign.name == "OPTION"


def test_a_missing_config_option_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(str(missing))
    assert str(caught.value) == (
        f"config file {missing} not found; copy config.example.toml there or pass --config"
    )


def test_a_missing_hashmon_config_file_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("HASHMON_CONFIG", str(missing))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"config file {missing} (from HASHMON_CONFIG) not found; "
        "copy config.example.toml there or pass --config"
    )


def test_hashmon_database_url_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = toml(tmp_path / "c.toml", '[database]\nurl = "sqlite:///from-file.db"\n')
    assert load_settings(path).database.url == "sqlite:///from-file.db"
    monkeypatch.setenv("HASHMON_DATABASE_URL", "sqlite:///from-env.db")
    assert load_settings(path).database.url == "sqlite:///from-env.db"
    assert load_settings().database.url == "sqlite:///from-env.db"


def test_the_database_option_beats_hashmon_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMON_DATABASE_URL", "sqlite:///from-env.db")
    path = toml(tmp_path / "c.toml", '[database]\nurl = "sqlite:///from-file.db"\n')
    assert load_settings(path, "sqlite:///opt.db").database.url == "sqlite:///opt.db"
    assert load_settings(None, "sqlite:///opt.db").database.url == "sqlite:///opt.db"


def test_an_empty_hashmon_config_is_no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHMON_CONFIG", "")
    monkeypatch.setenv("HASHMON_DATABASE_URL", "")
    settings = load_settings()
    assert settings.campaign.name == "IMHAW17"
    assert settings.database.url == "sqlite:///hashmon.db"


# --- a campaign of one's own inherits nothing of #IMHAW17 -----------------------------------


def test_a_campaign_of_ones_own_inherits_no_theme_account_or_name_of_the_built_in_one(
    tmp_path: Path,
) -> None:
    path = toml(
        tmp_path / "c.toml",
        '[campaign]\nhashtags = ["#SleepWeek"]\nstart = 2026-03-09\nend = 2026-03-15\n',
    )
    campaign = load_settings(path).campaign
    # what the user did not write is empty, never "Begin Before Birth" or @first1001days
    assert (campaign.name, campaign.theme, campaign.accounts) == ("SleepWeek", "", ())
    assert campaign.query() == "#SleepWeek"
    accounts_only = toml(
        tmp_path / "d.toml",
        '[campaign]\naccounts = ["@sleepcharity"]\nstart = 2026-03-09\nend = 2026-03-15\n',
    )
    campaign = load_settings(accounts_only).campaign
    assert (campaign.name, campaign.hashtags, campaign.theme) == ("sleepcharity", (), "")
    named = toml(
        tmp_path / "e.toml",
        '[campaign]\nname = "Sleep"\ntheme = "Rest"\nhashtags = ["SleepWeek"]\n'
        "start = 2026-03-09\nend = 2026-03-15\n",
    )
    assert (load_settings(named).campaign.name, load_settings(named).campaign.theme) == (
        "Sleep",
        "Rest",
    )


@pytest.mark.parametrize("missing", ["start", "end"])
def test_a_campaign_of_ones_own_without_its_dates_is_refused_naming_the_key(
    tmp_path: Path, missing: str
) -> None:
    dates = {"start": "start = 2026-03-09\n", "end": "end = 2026-03-15\n"}
    body = '[campaign]\nhashtags = ["SleepWeek"]\n' + "".join(
        line for key, line in dates.items() if key != missing
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(toml(tmp_path / "c.toml", body))
    said = str(caught.value)
    assert f"[campaign] {missing} is missing" in said and "\n" not in said


def test_a_file_that_keeps_the_built_in_terms_keeps_their_window_and_theme(
    tmp_path: Path,
) -> None:
    path = toml(tmp_path / "c.toml", '[campaign]\nhashtags = ["IMHAW17"]\n')
    campaign = load_settings(path).campaign
    assert (campaign.start, campaign.end) == (dt.date(2017, 6, 12), dt.date(2017, 6, 16))

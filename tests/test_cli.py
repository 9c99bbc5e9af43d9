"""The `hashmon` command line: import and stats on real archives, and every failure as one
line with the documented exit status (1 at run time, 2 for bad usage or config).

Successes go through click's CliRunner on ``jobs.cli.cli``; failures through
``jobs.cli.main``, which is where errors become one line and an exit status.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from jobs.cli import cli, main
from monitor.config import DEFAULTS_NOTICE, load_settings
from monitor.store.engine import make_engine
from monitor.store.writes import stored_counts
from reports.stats import stats_object
from tests.harness import fails, isolated  # noqa: F401 - isolated: an autouse fixture

JSONL = Path(__file__).parent / "fixtures" / "x-api-v2" / "twarc2-jsonl"
SEARCH = JSONL / "twarc2sql__search_example.jsonl"
USERS = JSONL / "twarc-csv__users.jsonl"
CAMPAIGN = """\
[campaign]
name = "BLM23"
hashtags = ["#BlackLivesMatter"]
accounts = ["@Alima1000"]
start = 2023-04-06
end = 2023-04-09
timezone = "Europe/Moscow"

[baseline]
label = "last year"
metric = "potential_reach"
value = 400000
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'x.db'}"


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "blm.toml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    return str(path)


def run(*args: str) -> Result:
    """Run ``hashmon ARGS`` through click's test runner; it must succeed."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def stored(url: str) -> dict[str, int]:
    """What a fresh engine finds in the database at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return stored_counts(conn)
    finally:
        engine.dispose()


# --- import and stats -----------------------------------------------------------------------


NONE_OF = (
    "campaign #IMHAW17 @first1001days, 2017-06-12..2017-06-16: none of the {n} posts imported "
    "matches its terms and none falls in its window; its figures count none of them (check "
    "the archive and the config)\n"
)


def test_import_prints_one_line_per_file_and_a_total(db: str) -> None:
    kpop, brexit = JSONL / "twarc-csv__kpop.jsonl", JSONL / "twarc-csv__brexit.jsonl"
    result = run("--database", db, "import", str(kpop), str(brexit))
    assert result.stdout == (
        f"{kpop}: 1 pages, 100 posts seen, 100 new, 0 updated\n"
        f"{brexit}: 1 pages, 100 posts seen, 100 new, 0 updated\n"
        "total: 2 pages, 200 posts seen, 200 new, 0 updated\n" + NONE_OF.format(n=200)
    )
    again = run("--database", db, "import", str(kpop))
    assert again.stdout == f"{kpop}: already imported (same contents); nothing changed\n"
    assert stored(db)["posts"] == 200


def test_stats_json_prints_the_stats_object(db: str, config: str) -> None:
    run("--database", db, "import", str(SEARCH))
    result = run("--config", config, "--database", db, "stats", "--json")
    printed = json.loads(result.stdout)
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            want = stats_object(conn, load_settings(config, db))
    finally:
        engine.dispose()
    assert printed == want
    assert printed["campaign"]["name"] == "BLM23"
    assert printed["baseline"] == {
        "label": "last year",
        "metric": "potential_reach",
        "value": 400000,
    }
    assert printed["stored"]["posts"] == 500
    assert [d["date"] for d in printed["days"]] == [f"2023-04-0{n}" for n in range(6, 10)]


def test_stats_json_from_and_to_move_the_period(db: str, config: str) -> None:
    run("--database", db, "import", str(SEARCH))
    one = json.loads(
        run(
            "--config",
            config,
            "--database",
            db,
            "stats",
            "--json",
            "--from",
            "2023-04-08",
            "--to",
            "2023-04-08",
        ).stdout
    )
    assert [d["date"] for d in one["days"]] == ["2023-04-08"]
    assert one["campaign"]["start"] == "2023-04-06"
    start_only = json.loads(
        run("--config", config, "--database", db, "stats", "--json", "--from", "2023-04-08").stdout
    )
    assert [d["date"] for d in start_only["days"]] == ["2023-04-08", "2023-04-09"]


def test_stats_without_json_prints_a_table_and_what_is_stored(db: str) -> None:
    run("--database", db, "import", str(JSONL / "twarc-csv__kpop.jsonl"))
    out = run("--database", db, "stats").stdout
    assert "potential_impressions against #IMHAW16 (10,000,000): 0.00%" in out
    assert out.rstrip().endswith("stored: 100 posts by 87 authors (all dates)")


def _big_stats_object(days: int) -> dict:
    """A stats object of a long, busy campaign: every figure many digits wide."""
    from reports.figure_keys import PERIOD_KEYS

    def figures(seed: int) -> dict:
        out = {k: 1_026_000_000 + 7_919 * seed * (i + 1) for i, k in enumerate(PERIOD_KEYS)}
        out["engagement_rate"] = 0.123456 + seed / 1000
        out["impressions_coverage"] = 0.5 + seed / 100
        return out

    dates = [f"2017-06-{d:02d}" for d in range(12, 12 + days)]
    return {
        "campaign": {"name": "A long campaign name, " * 4, "timezone": "Europe/London"},
        "days": [{"date": d, **figures(i + 1)} for i, d in enumerate(dates)],
        "totals": {**figures(99), "baseline_progress": 1.5},
        "baseline": {"label": "#IMHAW16", "metric": "posts", "value": 10_000_000},
        "stored": {"posts": 123_456_789, "authors": 98_765_432},
    }


@pytest.mark.parametrize("width", [40, 80, 200])
@pytest.mark.parametrize("days", [1, 7])
def test_stats_never_cuts_a_figure_short_at_any_terminal_width(width: int, days: int) -> None:
    import io

    from rich.console import Console

    from jobs.terminal import fmt, stats_table

    obj = _big_stats_object(days)
    buf = io.StringIO()
    stats_table(obj, Console(file=buf, width=width, color_system=None))
    out = buf.getvalue()
    assert "…" not in out
    assert all(len(line) <= width for line in out.splitlines()), out
    for period in [*obj["days"], obj["totals"]]:
        for key, value in period.items():
            if key != "date":
                # every figure whole on one line: a number is never folded or cut
                assert any(fmt(key, value) in line for line in out.splitlines()), (key, out)
    words = " ".join(out.split())  # sentences may wrap at a narrow width
    assert words.endswith("stored: 123,456,789 posts by 98,765,432 authors (all dates)")
    assert "posts against #IMHAW16 (10,000,000): 150.00%" in words


def test_import_skip_bad_lines_lists_the_skipped_lines(db: str) -> None:
    path = JSONL / "twarc-csv__streaming_output_with_error.jsonl"
    result = run("--database", db, "import", "--skip-bad-lines", str(path))
    assert result.stdout == (
        f"{path}: 7 pages, 7 posts seen, 7 new, 0 updated; skipped 1 bad line(s): 8\n"
        + NONE_OF.format(n=7)
    )
    assert stored(db)["posts"] == 7


def test_hashmon_database_url_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_db = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("HASHMON_DATABASE_URL", env_db)
    run("import", str(JSONL / "twarc-csv__kpop.jsonl"))
    assert stored(env_db)["posts"] == 100
    option_db = f"sqlite:///{tmp_path / 'option.db'}"
    run("--database", option_db, "import", str(JSONL / "twarc-csv__brexit.jsonl"))
    assert stored(option_db)["posts"] == 100
    assert stored(env_db)["posts"] == 100


def test_hashmon_config_chooses_the_campaign(
    db: str, config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHMON_CONFIG", config)
    printed = json.loads(run("--database", db, "stats", "--json").stdout)
    assert printed["campaign"]["name"] == "BLM23"


# --- failures: one line, the right exit status, nothing stored ------------------------------


def test_importing_a_missing_file_fails_with_status_1(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    code, err = fails(capsys, "--database", db, "import", str(SEARCH), str(missing))
    assert code == 1
    assert (
        err
        == f"Error: {missing}: file not found; check the path\n"
        + "Error: 1 of 2 files refused (nothing stored from them); the others were imported\n"
    )
    assert stored(db)["posts"] == 500  # the other file is imported


def test_importing_a_users_archive_with_posts_fails_with_status_1_naming_it(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    code, err = fails(capsys, "--database", db, "import", str(SEARCH), str(USERS))
    assert code == 1
    assert err == (
        f"Error: {USERS}, line 1: holds users, not posts; "
        "hashmon imports post archives (twarc2 search or stream output)\n"
        + "Error: 1 of 2 files refused (nothing stored from them); the others were imported\n"
    )
    assert stored(db)["posts"] == 500  # the posts file is imported on its own


def test_importing_a_file_with_a_bad_line_fails_with_status_1_and_stores_nothing_of_it(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(SEARCH.read_text(encoding="utf-8").splitlines()[0] + '\n{"data": [{"id": "1"')
    code, err = fails(capsys, "--database", db, "import", str(SEARCH), str(bad))
    assert code == 1
    assert err == (
        f"Error: {bad}, line 2: not valid JSON (unexpected end of data); a twarc2 file has one "
        "JSON object per line; fix it, or pass --skip-bad-lines to import the rest\n"
        + "Error: 1 of 2 files refused (nothing stored from them); the others were imported\n"
    )
    assert stored(db)["posts"] == 500  # SEARCH only: nothing of the bad file


def test_a_bad_config_file_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[campaign]\nstart = "june"\n')
    code, err = fails(capsys, "--config", str(bad), "--database", db, "stats")
    assert code == 2
    # the line the README shows for this very mistake
    assert err == (
        f'Error: config error in {bad}: [campaign] start = "june": expected a date written '
        "YYYY-MM-DD, without quotes, e.g. start = 2017-06-12\n"
    )


def test_a_missing_config_file_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"
    code, err = fails(capsys, "--config", str(missing), "--database", db, "stats")
    assert code == 2
    assert err == (
        f"Error: config file {missing} not found; copy config.example.toml there or pass --config\n"
    )


def test_a_missing_hashmon_config_file_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("HASHMON_CONFIG", str(missing))
    code, err = fails(capsys, "--database", db, "stats")
    assert code == 2
    assert err == (
        f"Error: config file {missing} (from HASHMON_CONFIG) not found; "
        "copy config.example.toml there or pass --config\n"
    )


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (
            "foo://",
            "Error: database 'foo' is not supported; use sqlite:///FILE or postgresql+psycopg://",
        ),
        (
            "nonsense",
            "Error: bad database URL: expected e.g. sqlite:///hashmon.db or "
            "postgresql+psycopg://user@host:5432/dbname (--database, HASHMON_DATABASE_URL "
            "or [database] url)",
        ),
    ],
)
def test_a_bad_database_url_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], url: str, line: str
) -> None:
    code, err = fails(capsys, "--database", url, "stats")
    assert (code, err) == (2, line + "\n")


def test_an_unreachable_postgresql_fails_with_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = fails(
        capsys, "--database", "postgresql+psycopg://postgres:pw@127.0.0.1:5999/x", "stats"
    )
    assert code == 1
    assert re.fullmatch(
        r"Error: cannot use database postgresql\+psycopg://postgres:\*\*\*@127\.0\.0\.1:5999/x: "
        r"[^\n]*5999[^\n]*; check --database, HASHMON_DATABASE_URL or \[database\] url\n",
        err,
    ), err


def test_from_after_to_fails_with_status_2(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, err = fails(
        capsys, "--database", db, "stats", "--from", "2017-06-14", "--to", "2017-06-12"
    )
    assert code == 2
    assert err == (
        "Error: the period starts on 2017-06-14, after it ends on 2017-06-12; "
        "give --from on or before --to\n"
    )


def test_from_after_the_campaign_end_alone_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    code, err = fails(capsys, "--database", db, "stats", "--from", "2017-06-20")
    assert code == 2
    assert err.splitlines() == [
        "Error: the period starts on 2017-06-20, after it ends on 2017-06-16; "
        "give --from on or before --to"
    ]


@pytest.mark.parametrize("value", ["2017-13-01", "12/06/2017", "tomorrow"])
def test_a_bad_date_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str, value: str
) -> None:
    code, err = fails(capsys, "--database", db, "stats", "--from", value)
    assert code == 2
    # one line: what is wrong, and where the help is
    assert err.splitlines() == [
        f"Error: Invalid value for '--from': {value!r} is not a date like 2017-06-12; "
        "see 'hashmon stats --help'"
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["import"], "Error: Missing argument 'PATH...'."),
        (["bogus"], "Error: No such command 'bogus'."),
        (["stats", "--jsn"], "Error: No such option"),
    ],
)
def test_bad_usage_fails_with_status_2(
    capsys: pytest.CaptureFixture[str], db: str, args: list[str], line: str
) -> None:
    code, err = fails(capsys, "--database", db, *args)
    assert code == 2
    # click's own wording (it shows the usage first); ours begins the last line
    assert err.splitlines()[-1].startswith(line)
    assert sum(1 for x in err.splitlines() if x.startswith("Error")) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["import", "missing.jsonl"],
        ["import", str(USERS)],
        ["--database", "nonsense", "stats"],
        ["stats", "--from", "2017-06-14", "--to", "2017-06-12"],
    ],
)
def test_no_failure_shows_a_traceback_without_v(
    capsys: pytest.CaptureFixture[str], db: str, args: list[str]
) -> None:
    code, err = fails(capsys, "--database", db, *args)
    assert code in (1, 2)
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_v_shows_the_traceback_of_a_failure(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    code, err = fails(capsys, "-v", "--database", db, "import", str(missing))
    assert code == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "ImportFileError" in err
    assert err.splitlines()[-1] == f"Error: {missing}: file not found; check the path"


def test_main_exits_0_on_success(capsys: pytest.CaptureFixture[str], db: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--database", db, "stats", "--json"])
    assert caught.value.code == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["stored"] == {"posts": 0, "authors": 0}
    assert out.err == f"note: {DEFAULTS_NOTICE}\n"  # no config file: the one line on it


@pytest.mark.parametrize("fail", [False, True], ids=["success", "failure"])
def test_a_command_closes_the_database_before_it_returns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: str, fail: bool
) -> None:
    """Run in-process (a script, a notebook, a test), a command leaves no connection open:
    SQLite's -wal and -shm files are gone as soon as it returns, not whenever the garbage
    collector gets round to it (a folder being copied or scanned meanwhile lost them)."""
    import gc

    args = ["--database", db, "import", str(SEARCH)]
    if fail:
        args.append(str(tmp_path / "missing.jsonl"))
    gc.disable()
    try:
        with pytest.raises(SystemExit) as caught:
            main(args)
        capsys.readouterr()
        assert caught.value.code == (1 if fail else 0)
        assert (tmp_path / "x.db").exists()
        assert sorted(p.name for p in tmp_path.glob("x.db-*")) == []
    finally:
        gc.enable()
    # the missing file is refused on its own; SEARCH is imported either way
    assert stored(db)["posts"] == 500


def test_a_report_written_by_hand_is_recorded_as_a_run_like_a_scheduled_one(
    db: str, tmp_path: Path
) -> None:
    run("--database", db, "import", str(JSONL / "twarc-csv__kpop.jsonl"))
    out = tmp_path / "out"
    result = run("--database", db, "report", "daily", "--date", "2017-06-12", "--out", str(out))
    assert f"index:  {out / 'index.html'}" in result.stdout
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            runs = conn.execute(
                text("SELECT status, message FROM collection_runs WHERE kind = 'report'")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in runs] == [("ok", f"daily report 2017-06-12 in {out}")]


# --- reports of nothing, and running on the defaults ------------------------------------------


def _campaign_file(tmp_path: Path, start: dt.date, end: dt.date) -> str:
    path = tmp_path / "campaign.toml"
    path.write_text(
        f'[campaign]\nname = "Now"\nhashtags = ["Now"]\nstart = {start}\nend = {end}\n'
        'timezone = "UTC"\n[reports]\nformats = ["html", "json"]\n',
        encoding="utf-8",
    )
    return str(path)


def test_without_a_config_file_a_command_says_once_it_runs_on_the_defaults(
    capsys: pytest.CaptureFixture[str], db: str, config: str
) -> None:
    main_ok = ["--database", db, "stats", "--json"]
    with pytest.raises(SystemExit) as caught:
        main(main_ok)
    assert caught.value.code in (0, None)
    err = capsys.readouterr().err
    assert err == f"note: {DEFAULTS_NOTICE}\n"
    with pytest.raises(SystemExit):
        main(["--config", config, *main_ok])
    assert "note:" not in capsys.readouterr().err


def test_report_daily_without_a_date_after_the_window_reports_its_last_day(
    db: str, tmp_path: Path
) -> None:
    # the built-in campaign (June 2017) is long over
    out = tmp_path / "out"
    result = run("--database", db, "report", "daily", "--out", str(out))
    assert (out / "daily-2017-06-16.html").is_file()
    assert len(list(out.glob("daily-*.html"))) == 1
    assert "report:" in result.stdout


def test_report_daily_without_a_date_during_the_window_reports_today(
    db: str, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    config = _campaign_file(tmp_path, today - dt.timedelta(days=1), today + dt.timedelta(days=1))
    out = tmp_path / "out"
    run("--config", config, "--database", db, "report", "daily", "--out", str(out))
    assert [p.name for p in out.glob("daily-*.html")] == [f"daily-{today}.html"]


def test_report_daily_without_a_date_before_the_window_says_when_it_starts(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    start = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    config = _campaign_file(tmp_path, start, start + dt.timedelta(days=4))
    out = tmp_path / "out"
    code, err = fails(
        capsys, "--config", config, "--database", db, "report", "daily", "--out", str(out)
    )
    assert code == 2
    assert err == (
        f"Error: the campaign starts on {start} (UTC time): there is no campaign day to "
        "report yet; give --date to report a day anyway\n"
    )
    assert not out.exists()


def test_a_report_of_nothing_is_written_and_says_so_on_the_terminal_and_its_face(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # a date outside the window, in a database without posts
    with pytest.raises(SystemExit) as caught:
        main(["--database", db, "report", "daily", "--date", "2026-12-03", "--out", str(out)])
    assert caught.value.code in (0, None)
    err = capsys.readouterr().err.removeprefix(f"note: {DEFAULTS_NOTICE}\n")
    outside = (
        "Thursday 3 December 2026 is outside the campaign window (Monday 12 June 2017 to "
        "Friday 16 June 2017): this report is not part of the campaign's figures."
    )
    empty = (
        "The database holds no posts at all, so every figure is zero: collect or import "
        "posts first (hashmon collect, hashmon import)."
    )
    assert err == f"note: {outside}\nnote: {empty}\n"
    page = (out / "daily-2026-12-03.html").read_text(encoding="utf-8").replace("&#39;", "'")
    assert outside in page and empty in page


def test_a_window_day_without_posts_says_so(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    run("--database", db, "import", str(JSONL / "twarc-csv__kpop.jsonl"))  # not in June 2017
    capsys.readouterr()
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        main(["--database", db, "report", "daily", "--date", "2017-06-13", "--out", str(out)])
    err = capsys.readouterr().err.removeprefix(f"note: {DEFAULTS_NOTICE}\n")
    assert err == "note: No posts were collected for Tuesday 13 June 2017.\n"
    page = (out / "daily-2017-06-13.html").read_text(encoding="utf-8")
    assert '<p class="lead notice">No posts were collected for Tuesday 13 June 2017.</p>' in page

"""Supporters and decision makers, exactly as METRICS.md ("Stakeholders") defines them.

The lists under tests/fixtures/stakeholders name authors and mentioned accounts of a
real recorded search archive in every handle form; `hashmon stakeholders --json` and the
`groups` of `hashmon stats --json` are compared with a computation written here in plain
Python from the raw JSON (the stats oracle of test_stats.py), on SQLite and PostgreSQL.
The expected lists are spelled out by hand, not read with hashmon's reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import Engine

from jobs.cli import cli, main
from jobs.terminal import stakeholders_table
from monitor.archive import import_files
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.settings import Settings, Stakeholders
from monitor.stakeholder_lists import DECISION_MAKERS, SUPPORTERS, Stakeholder, handle_username
from monitor.stakeholder_lists import read_list as read
from reports.stakeholders import stakeholders_object
from tests.harness import isolated  # noqa: F401 - isolated: an autouse fixture
from tests.test_stats import (
    ENGAGEMENT,
    _matches,
    campaign_settings,
    group_oracle,
    observed,
    oracle,
    stats,
)

LISTS = Path(__file__).parent / "fixtures" / "stakeholders"
SEARCH = (
    Path(__file__).parent
    / "fixtures"
    / "x-api-v2"
    / "twarc2-jsonl"
    / ("twarc2sql__search_example.jsonl")
)
D = dt.date
SETTINGS = campaign_settings(
    D(2023, 4, 6), D(2023, 4, 9), "Europe/Moscow", ("#blacklivesmatter",), ("@alima1000",)
)

# the fixture lists as a person reads them (METRICS.md: handles casefolded, file order)
SUPPORTERS_WANT = [
    Stakeholder("Point of Eew", ("pointofeew",), None, {"Event": "Webinar (Tue)", "Contact": ""}),
    Stakeholder(
        "Green Stream",
        ("greenstream11", "mike54371842"),
        None,
        {"Event": "Coffee morning", "Contact": "green@example.org"},
    ),
    Stakeholder("Aye Bow", ("ayebow",), None, {"Event": "Stall", "Contact": ""}),
    Stakeholder("Say The Names", ("say_the_names",), None, {"Event": "", "Contact": ""}),
    Stakeholder(
        "Quiet Harbour Trust (fictional)",
        ("quietharbourtr",),
        None,
        {"Event": "Walk", "Contact": "0123"},
    ),
    Stakeholder("Alima (also the campaign)", ("alima1000",), None, {"Event": "", "Contact": ""}),
    Stakeholder("Wylde Cherry", ("wyldecherry",), None, {"Event": "Talk", "Contact": ""}),
]
MAKERS_WANT = [
    Stakeholder("Mhd Ksafa (fictional MP)", ("mhdksafa",), "MP", {"area": "Northvale (fictional)"}),
    Stakeholder("Dept of Basic Ed (fictional)", ("dbe_sa",), "commissioner", {"area": ""}),
    Stakeholder(
        "Racismo Brancos (fictional)", ("racismobrancos",), "councillor", {"area": "Ward 3"}
    ),
    Stakeholder("Two Handles (fictional)", ("commsza", "the_dhs"), "commissioner", {"area": ""}),
    Stakeholder(
        "Nobody Posting (fictional)", ("nosuchperson1",), "MP", {"area": "Southvale (fictional)"}
    ),
    Stakeholder("Wylde Cherry", ("wyldecherry",), "councillor", {"area": ""}),
]


# --- the oracle ------------------------------------------------------------------------------


def _window_posts(settings: Settings, first: dt.date, last: dt.date) -> tuple[list[dict], dict]:
    posts, usernames = observed([SEARCH], settings)
    zone = ZoneInfo(settings.campaign.timezone)
    out = []
    for p in posts.values():
        if p["created"] is not None and first <= p["created"].astimezone(zone).date() <= last:
            out.append(p | {"day": p["created"].astimezone(zone).date()})
    return out, usernames


def _engagements(posts: list[dict]) -> int:
    return sum(p["counts"].get(c, 0) for p in posts if p["kind"] != "retweet" for c in ENGAGEMENT)


def stakeholders_oracle(
    settings: Settings,
    supporters: list[Stakeholder],
    makers: list[Stakeholder],
    first: dt.date,
    last: dt.date,
) -> dict[str, Any]:
    """METRICS.md's `hashmon stakeholders --json` object, from the raw pages."""
    posts, usernames = _window_posts(settings, first, last)

    def by(person: Stakeholder) -> list[dict]:
        return [p for p in posts if usernames.get(p["author"]) in person.handles]

    sup = []
    for s in supporters:
        mine = by(s)
        sup.append(
            {
                "name": s.name,
                "handles": list(s.handles),
                "columns": s.columns,
                "posts": len(mine),
                "days_active": sorted({p["day"].isoformat() for p in mine}),
                "potential_impressions": sum(p["followers"] or 0 for p in mine),
                "engagements": _engagements(mine),
                "hashtag_posts": sum(p["hashtag"] for p in mine),
            }
        )
    dms = []
    for m in makers:
        mine = by(m)
        kinds = [p["kind"] for p in mine]
        dms.append(
            {
                "name": m.name,
                "handles": list(m.handles),
                "role": m.role,
                "columns": m.columns,
                "posts": len(mine),
                "originals": kinds.count("original"),
                "retweets": kinds.count("retweet"),
                "quotes": kinds.count("quote"),
                "replies": kinds.count("reply"),
                "mentioned_in": sum(
                    _matches(p["item"], set(m.handles), "mentions", "username", "@") for p in posts
                ),
                "potential_impressions": sum(p["followers"] or 0 for p in mine),
                "engagements": _engagements(mine),
                "engaged": bool(mine),
            }
        )
    return {
        "dates": {"from": first.isoformat(), "to": last.isoformat()},
        "supporters": sup,
        "silent": [s["name"] for s in sup if not s["posts"]],
        "decision_makers": dms,
    }


def with_lists(settings: Settings, supporters: Path | None, makers: Path | None) -> Settings:
    lists = Stakeholders(
        supporters=str(supporters) if supporters else None,
        decision_makers=str(makers) if makers else None,
    )
    return settings.model_copy(update={"stakeholders": lists})


# --- reading lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "handle",
    [
        "@Name_1",
        "Name_1",
        " @NAME_1 ",
        "twitter.com/Name_1",
        "x.com/Name_1",
        "https://x.com/Name_1",
        "http://twitter.com/name_1/",
        "https://www.twitter.com/Name_1?lang=en",
        "https://mobile.twitter.com/Name_1/",
        "www.x.com/Name_1/?s=20&t=abc",
        "HTTPS://X.COM/NAME_1",
    ],
)
def test_every_handle_form_means_the_casefolded_username(handle: str) -> None:
    assert handle_username(handle) == "name_1"


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "@",
        "sixteen_chars_16",
        "two words",
        "x.com/Name/status/1",
        "@näme",
        "facebook.com/Name",
        "https://x.com/",
        "@@name",
    ],
)
def test_a_handle_that_is_not_1_to_15_letters_digits_or_underscores_is_invalid(
    handle: str,
) -> None:
    assert handle_username(handle) is None


def test_a_csv_list_with_bom_blank_rows_extra_columns_and_repeated_names_reads_as_written() -> None:
    assert read(LISTS / "supporters.csv", SUPPORTERS) == SUPPORTERS_WANT
    assert read(LISTS / "decision_makers.csv", DECISION_MAKERS) == MAKERS_WANT


def _xlsx_twin(csv_path: Path, out: Path) -> Path:
    """Write the CSV's cells to the first sheet of an XLSX file (a second sheet ignored),
    numbers as numbers, as a spreadsheet would hold them."""
    book = openpyxl.Workbook()
    sheet = book.active
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            sheet.append([int(c) if c.isdigit() and not c.startswith("0") else c for c in row])
    book.create_sheet("notes").append(["name", "handle"])
    book.save(out)
    return out


@pytest.mark.parametrize(
    "name,kind", [("supporters", SUPPORTERS), ("decision_makers", DECISION_MAKERS)]
)
def test_an_xlsx_list_and_its_csv_twin_give_the_same_stakeholders(
    tmp_path: Path, name: str, kind: str
) -> None:
    twin = _xlsx_twin(LISTS / f"{name}.csv", tmp_path / f"{name}.xlsx")
    assert read(twin, kind) == read(LISTS / f"{name}.csv", kind)


def test_a_number_in_an_xlsx_column_is_kept_as_text(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Name", "Handle", "Members"])
    book.active.append(["Acorn Club (fictional)", "@AcornClub", 120])
    book.save(tmp_path / "s.xlsx")
    (person,) = read(tmp_path / "s.xlsx")
    assert person.columns == {"Members": "120"}


def test_an_empty_list_has_no_stakeholders_and_every_supporter_group_figure_is_zero(
    sqlite_engine: Engine,
) -> None:
    assert read(LISTS / "empty.csv", DECISION_MAKERS) == []
    import_files(sqlite_engine, [SEARCH])
    settings = with_lists(SETTINGS, LISTS / "empty.csv", LISTS / "empty.csv")
    got = stats(sqlite_engine, settings)
    assert got["groups"]["supporters"] == dict.fromkeys(got["groups"]["supporters"], 0)
    with sqlite_engine.connect() as conn:
        obj = stakeholders_object(conn, settings)
    assert obj == {
        "dates": {"from": "2023-04-06", "to": "2023-04-09"},
        "supporters": [],
        "silent": [],
        "decision_makers": [],
    }


# --- figures against the oracle --------------------------------------------------------------


PERIODS = [
    (None, None),  # the campaign window
    (D(2023, 4, 7), D(2023, 4, 7)),  # one local day
    (D(2023, 4, 8), None),  # a day with no posts onwards
]


def test_stakeholder_figures_of_a_real_archive_match_an_independent_computation(
    engine: Engine,
) -> None:
    import_files(engine, [SEARCH])
    settings = with_lists(SETTINGS, LISTS / "supporters.csv", LISTS / "decision_makers.csv")
    for date_from, date_to in PERIODS:
        with engine.connect() as conn:
            got = stakeholders_object(conn, settings, date_from, date_to)
        first, last = date_from or SETTINGS.campaign.start, date_to or SETTINGS.campaign.end
        want = stakeholders_oracle(SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, first, last)
        assert got == want, (date_from, date_to)
    # the case exercises each status: active and silent supporters; decision makers who
    # posted, who were only mentioned, and neither
    window = stakeholders_oracle(
        SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, SETTINGS.campaign.start, SETTINGS.campaign.end
    )
    assert 0 < len(window["silent"]) < len(window["supporters"])
    statuses = {(m["engaged"], m["mentioned_in"] > 0) for m in window["decision_makers"]}
    assert {(True, True), (False, True), (False, False)} <= statuses
    assert any(len(s["days_active"]) > 1 for s in window["supporters"])


def test_stats_groups_of_a_real_archive_match_an_independent_computation(engine: Engine) -> None:
    import_files(engine, [SEARCH])
    settings = with_lists(SETTINGS, LISTS / "supporters.csv", None)
    handles = {h for s in SUPPORTERS_WANT for h in s.handles}
    for date_from, date_to in PERIODS:
        got = stats(engine, settings, date_from, date_to)
        want = oracle([SEARCH], SETTINGS, date_from, date_to, supporters=handles)
        assert got == want
        groups = got["groups"]
        assert sum(g["posts"] for g in groups.values()) == got["totals"]["posts"]
    window = stats(engine, settings)["groups"]
    # alima1000 is a campaign account and a listed supporter: owned wins
    assert window["owned"]["posts"] == 198 - _outside_window("alima1000")
    assert window["supporters"]["posts"] > 0 and window["others"]["posts"] > 0


def _outside_window(username: str) -> int:
    posts, usernames = observed([SEARCH], SETTINGS)
    zone = ZoneInfo("Europe/Moscow")
    return sum(
        1
        for p in posts.values()
        if usernames.get(p["author"]) == username
        and not D(2023, 4, 6) <= p["created"].astimezone(zone).date() <= D(2023, 4, 9)
    )


def test_without_a_supporters_list_the_supporters_group_is_there_with_zeros(
    engine: Engine,
) -> None:
    import_files(engine, [SEARCH])
    got = stats(engine, SETTINGS)
    assert got["groups"]["supporters"] == {
        "posts": 0,
        "contributors": 0,
        "potential_impressions": 0,
        "potential_reach": 0,
        "engagements": 0,
    }
    assert got["groups"] == group_oracle(
        [p for p in _window_posts(SETTINGS, D(2023, 4, 6), D(2023, 4, 9))[0]],
        _window_posts(SETTINGS, D(2023, 4, 6), D(2023, 4, 9))[1],
        ("alima1000",),
        set(),
    )


# --- the command -----------------------------------------------------------------------------


CONFIG = """\
[campaign]
name = "BLM23"
hashtags = ["#BlackLivesMatter"]
accounts = ["@Alima1000"]
start = 2023-04-06
end = 2023-04-09
timezone = "Europe/Moscow"

[stakeholders]
supporters = "{supporters}"
decision_makers = "{makers}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config in its own folder naming lists beside it, by relative paths, and a
    database holding the archive."""
    folder = tmp_path / "campaign"
    (folder / "lists").mkdir(parents=True)
    for name in ("supporters.csv", "decision_makers.csv"):
        (folder / "lists" / name).write_bytes((LISTS / name).read_bytes())
    config = folder / "hashmon.toml"
    config.write_text(
        CONFIG.format(supporters="lists/supporters.csv", makers="lists/decision_makers.csv"),
        encoding="utf-8",
    )
    (folder / "cwd").mkdir()
    db = f"sqlite:///{folder / 'x.db'}"
    CliRunner().invoke(cli, ["--database", db, "import", str(SEARCH)], catch_exceptions=False)
    return config


def _db(config: Path) -> str:
    return f"sqlite:///{config.parent / 'x.db'}"


def test_stakeholders_json_prints_the_metrics_object_for_lists_relative_to_the_config(
    project: Path,
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--config", str(project), "--database", _db(project), "stakeholders", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    want = stakeholders_oracle(SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, D(2023, 4, 6), D(2023, 4, 9))
    assert json.loads(result.stdout) == want


def test_stakeholders_table_shows_active_then_silent_and_engaged_then_mentioned_then_neither(
    project: Path,
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--config", str(project), "--database", _db(project), "stakeholders"],
        catch_exceptions=False,
        env={"COLUMNS": "250"},  # rich wraps long names in a narrow terminal
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    want = stakeholders_oracle(SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, D(2023, 4, 6), D(2023, 4, 9))
    active = [s["name"] for s in want["supporters"] if s["posts"]]
    order = [out.index(name) for name in active + want["silent"]]
    assert order == sorted(order)
    makers = want["decision_makers"]
    engaged = [m["name"] for m in makers if m["engaged"]]
    mentioned = [m["name"] for m in makers if not m["engaged"] and m["mentioned_in"]]
    neither = [m["name"] for m in makers if not m["engaged"] and not m["mentioned_in"]]
    section = out[out.index("Decision makers") :]
    order = [section.index(name) for name in engaged + mentioned + neither]
    assert order == sorted(order) and engaged and mentioned and neither
    assert f"{len(active)} of {len(want['supporters'])} active" in out


def _fingerprint(folder: Path) -> str:
    db = folder / "x.db"
    return hashlib.sha256(db.read_bytes()).hexdigest()


BAD_LISTS = {
    # file name and contents -> what the one line must name
    "missing": (None, ["not found"]),
    "no_handle_column.csv": ("name,twitter\nA,@a\n", ["no 'handle' column"]),
    "no_name_column.csv": ("Handle,role\n@a,MP\n", ["no 'name' column"]),
    "bad_handle.csv": ("name,handle\nA,@a\n\nB,facebook.com/b\n", ["row 4", "facebook.com/b"]),
    "long_handle.csv": ("name,handle\nA,@sixteen_chars_16\n", ["row 2", "@sixteen_chars_16"]),
    "shared_handle.csv": ("name,handle\nA,@Same\nB,x.com/same\n", ["row 3", "x.com/same", "'A'"]),
    "no_handle_in_row.csv": ("name,handle\nA,@a\nB,\n", ["row 3", "no handle", "'B'"]),
    "unreadable.xlsx": ("this is not a zip file", ["not a readable XLSX"]),
    "latin1.csv": (b"name,handle\nCaf\xe9,@cafe\n", ["not UTF-8"]),
}


@pytest.mark.parametrize("which", ["supporters", "decision_makers"])
@pytest.mark.parametrize("bad", sorted(BAD_LISTS))
def test_a_bad_list_gets_one_line_naming_file_row_and_value_exit_2_and_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], bad: str, which: str
) -> None:
    contents, says = BAD_LISTS[bad]
    name = "missing.csv" if contents is None else bad
    path = project.parent / "lists" / name
    if isinstance(contents, str):
        path.write_text(contents, encoding="utf-8")
    elif isinstance(contents, bytes):
        path.write_bytes(contents)
    text = project.read_text(encoding="utf-8").replace(f"lists/{which}.csv", f"lists/{name}")
    project.write_text(text, encoding="utf-8")
    before = _fingerprint(project.parent)
    for command in (["stakeholders", "--json"], ["stats", "--json"]):
        if which == "decision_makers" and command[0] == "stats":
            continue  # stats reads the supporters list only
        with pytest.raises(SystemExit) as caught:
            main(["--config", str(project), "--database", _db(project), *command])
        captured = capsys.readouterr()
        assert caught.value.code == 2
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("Error: stakeholder list ") and str(path) in lines[0]
        for part in says:
            assert part in lines[0], lines[0]
    assert _fingerprint(project.parent) == before


def test_a_bad_list_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("name,handle\nA,@a\nB,@b\nC,not a handle\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 4"):
        read(path)


def test_the_old_campaign_supporters_key_still_loads_with_a_one_line_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sqlite_engine: Engine
) -> None:
    path = tmp_path / "old.toml"
    path.write_text(
        CONFIG.split("[stakeholders]")[0].replace(
            'timezone = "Europe/Moscow"',
            'timezone = "Europe/Moscow"\nsupporters = ["@PointOfEew", "x.com/greenstream11"]',
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        settings = load_settings(str(path))
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and "[stakeholders] supporters" in notices[0]
    assert str(path) in notices[0] and "\n" not in notices[0]
    import_files(sqlite_engine, [SEARCH])
    got = stats(sqlite_engine, settings)
    want = oracle([SEARCH], SETTINGS, supporters={"pointofeew", "greenstream11"})
    assert got["groups"] == want["groups"] and got["groups"]["supporters"]["posts"] > 0
    with sqlite_engine.connect() as conn:
        names = [s["name"] for s in stakeholders_object(conn, settings)["supporters"]]
    assert names == ["@PointOfEew", "x.com/greenstream11"]


# --- in every report -------------------------------------------------------------------------


@pytest.mark.slow
def test_each_report_carries_the_stakeholders_of_its_dates_in_json_csv_xlsx_and_html(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from reports.build import write_daily_report, write_summary_report

    import_files(sqlite_engine, [SEARCH])
    settings = with_lists(SETTINGS, LISTS / "supporters.csv", LISTS / "decision_makers.csv")
    write_summary_report(sqlite_engine, settings, tmp_path)
    write_daily_report(sqlite_engine, settings, D(2023, 4, 8), tmp_path)
    summary = next(tmp_path.glob("summary-*.json")).stem
    cases = [(summary, D(2023, 4, 6), D(2023, 4, 9)), ("daily-2023-04-08", D(2023, 4, 8), None)]
    for stem, first, last in cases:
        obj = json.loads((tmp_path / f"{stem}.json").read_text(encoding="utf-8"))
        want = stakeholders_oracle(SETTINGS, SUPPORTERS_WANT, MAKERS_WANT, first, last or first)
        assert obj["stakeholders"] == want
        assert (
            obj["figures"]["groups"]
            == oracle(
                [SEARCH],
                SETTINGS,
                first,
                last or first,
                supporters={h for s in SUPPORTERS_WANT for h in s.handles},
            )["groups"]
        )
        with (tmp_path / f"{stem}-supporters.csv").open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        active = [s for s in want["supporters"] if s["posts"]]
        silent = [s for s in want["supporters"] if not s["posts"]]
        assert [r["name"] for r in rows] == [s["name"] for s in active + silent]
        assert [int(r["posts"]) for r in rows] == [s["posts"] for s in active + silent]
        assert rows[0]["Event"] == (active + silent)[0]["columns"]["Event"]
        with (tmp_path / f"{stem}-decision-makers.csv").open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert sorted(r["name"] for r in rows) == sorted(m["name"] for m in want["decision_makers"])
        mentioned = {r["name"]: int(r["mentioned_in"]) for r in rows}
        assert mentioned == {m["name"]: m["mentioned_in"] for m in want["decision_makers"]}
        book = openpyxl.load_workbook(tmp_path / f"{stem}.xlsx", read_only=True)
        assert {"Supporters", "Decision makers"} <= set(book.sheetnames)
        page = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
        for s in silent:
            assert s["name"] in page.split("Not heard from yet")[1].split("</ul>")[0]
        assert f"{len(active)} of {len(want['supporters'])} supporters" in page


def test_without_lists_the_report_json_stakeholders_is_null(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from reports.build import write_summary_report

    import_files(sqlite_engine, [SEARCH])
    write_summary_report(sqlite_engine, SETTINGS, tmp_path)
    obj = json.loads(next(tmp_path.glob("summary-*.json")).read_text(encoding="utf-8"))
    assert obj["stakeholders"] is None
    assert obj["figures"]["groups"]["supporters"]["posts"] == 0
    assert not list(tmp_path.glob("*-supporters.csv"))


def test_without_lists_the_table_says_how_to_name_them(project: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--database", _db(project), "stakeholders"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "[stakeholders]" in result.stdout and "No stakeholders listed" in result.stdout


def test_hostile_list_text_is_inert_in_html_csv_xlsx_and_the_terminal(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from reports.build import write_summary_report

    hostile = tmp_path / "hostile.csv"
    with hostile.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "handle", "=cmd|' /C calc'!A0", "notes"])
        w.writerow(
            ["<script>alert(1)</script>", "@pointofeew", '=HYPERLINK("http://x")', "[bold]x"]
        )
        w.writerow(["=1+2 \u202e", "@QuietHarbourTr", "+1", "@SUM(1)"])
    import_files(sqlite_engine, [SEARCH])
    settings = with_lists(SETTINGS, hostile, hostile)
    write_summary_report(sqlite_engine, settings, tmp_path)
    stem = next(tmp_path.glob("summary-*.json")).stem
    page = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    for name in ("supporters", "decision-makers"):
        with (tmp_path / f"{stem}-{name}.csv").open(encoding="utf-8-sig") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        assert not [c for c in cells if c.startswith(("=", "+", "@"))], cells
    book = openpyxl.load_workbook(tmp_path / f"{stem}.xlsx")
    for title in ("Supporters", "Decision makers"):
        for row in book[title].iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value.startswith(("=", "+", "@")))
    obj = json.loads((tmp_path / f"{stem}.json").read_text(encoding="utf-8"))
    assert obj["stakeholders"]["supporters"][0]["name"] == "<script>alert(1)</script>"
    buffer = io.StringIO()
    stakeholders_table(obj["stakeholders"], Console(file=buffer, width=300))
    shown = buffer.getvalue()
    assert "[bold]x" in shown and "\u202e" not in shown and "\x1b" not in shown

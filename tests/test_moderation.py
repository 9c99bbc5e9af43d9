"""Hidden and excluded posts (METRICS.md "Hidden and excluded posts") in reports, and the
``hashmon hide`` / ``hashmon exclude`` commands that add to the config's lists.

The figures with exclusion are checked against the independent computation in
tests/test_stats.py; here: a hidden post or account is in no output file of any format
while every figure stays as it was, the coverage says how many and why, and the commands
edit the config file leaving every other line as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tomllib
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine

from jobs.cli import cli, main
from monitor.archive import import_files
from monitor.config import load_settings
from monitor.handles import post_id_of, username_of
from monitor.settings import Moderation, Settings
from reports.build import write_summary_report
from reports.html import post_excerpt
from tests.test_stats import _real, oracle

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _alnum(text: str) -> str:
    """Letters and digits only: how a text is looked for across formats that wrap lines."""
    return re.sub(r"[^0-9A-Za-z]", "", text)


def _outputs(files: list[Path]) -> dict[str, str]:
    """Return the text a reader finds in each output file, by file name."""
    out = {}
    for path in files:
        if path.suffix in (".html", ".json"):
            out[path.name] = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                out[path.name] = orjson.loads(path.read_bytes()).__repr__()
        elif path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                out[path.name] = "\n".join(" ".join(row) for row in csv.reader(fh))
        elif path.suffix == ".xlsx":
            book = load_workbook(path)
            out[path.name] = "\n".join(
                str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value
            )
        elif path.suffix == ".pdf":
            out[path.name] = "\n".join(p.extract_text() for p in PdfReader(path).pages)
    return out


def _report(engine: Engine, settings: Settings, out: Path) -> tuple[dict, dict[str, str]]:
    files = write_summary_report(engine, settings, out, now=NOW)
    (data,) = [orjson.loads(p.read_bytes()) for p in files if p.suffix == ".json"]
    return data, _outputs(files)


def _figures_without_hidden(data: dict) -> dict:
    fig = orjson.loads(orjson.dumps(data["figures"]))
    for row in (*fig["days"], fig["totals"]):
        row.pop("hidden_posts")
    return fig


@pytest.mark.slow
def test_hidden_posts_and_accounts_are_in_no_output_file_and_every_figure_stays(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    paths, settings = _real("brexit_kpop_2sets")
    import_files(sqlite_engine, paths)
    before, shown_before = _report(sqlite_engine, settings, tmp_path / "before")
    account = before["top_contributors"][0]
    post = next(p for p in before["top_posts"] if p["username"] != account["username"])
    # the hidden account's own posts that were listed: by its username in the top posts
    their_posts = [p for p in before["top_posts"] if p["username"] == account["username"]]
    hidden = settings.model_copy(
        update={
            "moderation": Moderation(
                hide_posts=(f"https://x.com/{post['username']}/status/{post['id']}",),
                hide_accounts=(f"x.com/{account['username'].upper()}",),
            )
        }
    )
    after, shown_after = _report(sqlite_engine, hidden, tmp_path / "after")
    assert set(shown_after) == set(shown_before)
    assert {n.rsplit(".", 1)[1] for n in shown_after} >= {"html", "csv", "xlsx", "json", "pdf"}
    secrets = [post["id"], _alnum(post["text"])[:40]]
    secrets += [_alnum(p["text"])[:40] for p in their_posts]
    for name, text in shown_before.items():
        if name.endswith((".html", ".pdf", ".xlsx")) or "posts" in name:
            assert post["id"] in text or _alnum(post["text"])[:40] in _alnum(text), name
    for name, text in shown_after.items():
        for secret in secrets:
            assert secret not in text and secret not in _alnum(text), (name, secret)
    # the account is never a row: not a contributor, not an author of a listed post
    assert account["author_id"] not in {c["author_id"] for c in after["top_contributors"]}
    assert account["author_id"] not in {p["author_id"] for p in after["top_posts"]}
    # the lists are of the posts that may be shown, not shorter for what is hidden
    assert len(after["top_posts"]) == len(before["top_posts"])
    # counted still: every figure as before, and the hidden ones counted apart
    assert _figures_without_hidden(after) == _figures_without_hidden(before)
    assert after["figures"]["totals"]["hidden_posts"] >= 1 + account["posts"]
    assert after["coverage"]["hidden_posts"] == after["figures"]["totals"]["hidden_posts"]


@pytest.mark.slow
def test_excluded_posts_leave_the_figures_and_the_lists(engine: Engine, tmp_path: Path) -> None:
    # on SQLite and PostgreSQL: the rankings' conditions run on both
    paths, settings = _real("brexit_kpop_2sets")
    import_files(engine, paths)
    before, _ = _report(engine, settings, tmp_path / "before")
    account = before["top_contributors"][0]
    post = next(p for p in before["top_posts"] if p["username"] != account["username"])
    excluded = settings.model_copy(
        update={
            "moderation": Moderation(
                exclude_posts=(post["id"],),
                exclude_accounts=(f"@{account['username']}",),
                hide_accounts=(f"@{account['username']}",),  # excluding wins
            )
        }
    )
    after, shown = _report(engine, excluded, tmp_path / "after")
    totals = after["figures"]["totals"]
    assert totals["excluded_posts"] >= 1 + account["posts"]
    assert totals["hidden_posts"] == 0
    assert totals["posts"] == before["figures"]["totals"]["posts"] - totals["excluded_posts"]
    assert after["figures"]["stored"] == before["figures"]["stored"]
    assert post["id"] not in {p["id"] for p in after["top_posts"]}
    assert account["author_id"] not in {c["author_id"] for c in after["top_contributors"]}
    for name, text in shown.items():
        assert post["id"] not in text, name


@pytest.mark.slow
def test_every_report_format_says_how_many_are_hidden_and_excluded_and_why(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    paths, settings = _real("brexit_kpop_2sets")
    import_files(sqlite_engine, paths)
    plain, _ = _report(sqlite_engine, settings, tmp_path / "plain")
    post = plain["top_posts"][0]
    moderated = settings.model_copy(
        update={"moderation": Moderation(hide_posts=(post["id"],), exclude_accounts=("nobody1",))}
    )
    data, shown = _report(sqlite_engine, moderated, tmp_path / "out")
    hidden, excluded = data["coverage"]["hidden_posts"], data["coverage"]["excluded_posts"]
    # the post and its retweets (METRICS.md), as the oracle of tests/test_stats.py counts
    want = oracle(paths, moderated)["totals"]["hidden_posts"]
    assert (hidden, excluded) == (want, 0) and want >= 1
    said = f"{want:,} {'post is' if want == 1 else 'posts are'} hidden"
    for name in (n for n in shown if n.endswith((".html", ".pdf"))):
        text = " ".join(shown[name].split())
        assert said in text, name
        assert "1 post in hide_posts and 0 accounts in hide_accounts" in text, name
        assert "0 posts are excluded" in text, name
        assert "0 posts in exclude_posts and 1 account in exclude_accounts" in text, name
        assert "nobody1" not in text, name  # the reason is the list, no one is named
    _, quiet = _report(sqlite_engine, settings, tmp_path / "quiet")
    for name in (n for n in quiet if n.endswith((".html", ".pdf"))):
        assert "No posts are hidden or excluded" in " ".join(quiet[name].split()), name


def test_a_long_post_is_clipped_in_a_list_with_the_whole_text_a_click_away() -> None:
    long = "\n".join(f"line {i} " + "x" * 50 for i in range(25))
    short = post_excerpt(long)
    assert short.endswith("…") and short.count("\n") < 4 and len(short) <= 280
    assert post_excerpt("a short post") == "a short post"


def test_handles_and_post_addresses_in_every_form_mean_one_account_or_post() -> None:
    for handle in (
        "@First1001Days",
        "first1001days",
        "x.com/First1001Days",
        "https://twitter.com/first1001days/",
        "https://www.x.com/first1001days?lang=en",
        "mobile.twitter.com/first1001days",
    ):
        assert username_of(handle) == "first1001days", handle
    for ref in (
        "874583463395364864",
        "https://x.com/first1001days/status/874583463395364864",
        "twitter.com/first1001days/status/874583463395364864?s=20",
        "https://x.com/i/web/status/874583463395364864",
    ):
        assert post_id_of(ref) == "874583463395364864", ref
    for bad in ("two words", "@toolongusername_over15", "x.com/a/b/c", ""):
        with pytest.raises(ValueError):
            username_of(bad)


# --- hashmon hide / hashmon exclude ----------------------------------------------------------

CONFIG = """# our campaign
[campaign]
name = "MHAW23"   # kept as written
hashtags = ["MHAW23"]
accounts = ["mentalhealth"]
start = 2023-05-15
end = 2023-05-21

[moderation]
# reviewed by the comms team
hide_posts = [
  "1001",  # spam
  "1002",
]

[reports]
top_n = 5
"""


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_hide_and_exclude_add_to_the_lists_and_leave_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hashmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    out = _run("--config", str(path), "hide", "https://x.com/a/status/1003", "1001", "@Spammer")
    assert "1 added to hide_posts (1 already listed); 1 added to hide_accounts" in out
    _run("--config", str(path), "exclude", "x.com/BotNet?s=1", "1005")
    _run("--config", str(path), "exclude", "@botnet")  # already there: nothing changes
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    # every line but the rewritten list is as it was, in order
    kept = [line for line in CONFIG.splitlines() if not line.startswith(("  ", "]"))]
    kept.remove("hide_posts = [")
    assert [line for line in lines if line in kept] == kept
    settings = load_settings(str(path))
    m = settings.moderation
    assert m.hidden_ids == ("1001", "1002", "1003")
    assert m.hidden_usernames == ("spammer",)
    assert (m.excluded_ids, m.excluded_usernames) == (("1005",), ("botnet",))
    assert settings.reports.top_n == 5 and settings.campaign.name == "MHAW23"
    assert tomllib.loads(text)["reports"] == {"top_n": 5}


def test_hide_adds_a_moderation_table_to_a_file_without_one(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    original = '[campaign]\nname = "X"\n'
    path.write_text(original, encoding="utf-8")
    _run("--config", str(path), "hide", "@someone")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(original)
    assert load_settings(str(path)).moderation.hide_accounts == ("@someone",)


def test_hide_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hashmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(path), "hide", "@fine", "not a handle!"])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.count("\n") == 1 and "'not a handle!' is neither an account nor a post" in err
    assert path.read_text(encoding="utf-8") == CONFIG
    monkeypatch.chdir(tmp_path / "..")
    monkeypatch.delenv("HASHMON_CONFIG", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(["exclude", "@someone"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "config file hashmon.toml not found" in err


def test_a_bad_list_entry_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[moderation]\nexclude_accounts = ["two words"]\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"\[moderation\] exclude_accounts") as caught:
        load_settings(str(path))
    assert "is not an account" in str(caught.value)


def test_the_html_clips_a_long_post_and_keeps_its_whole_text_a_click_away(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from monitor.settings import Reports
    from tests import reportdata as rd

    rd.build(sqlite_engine, tmp_path, rd.hostile_pages(), "hostile.jsonl")  # one 10,000 x post
    settings = Settings(reports=Reports(formats=("html",)))
    (page,) = write_summary_report(sqlite_engine, settings, tmp_path / "out", now=NOW)
    html = page.read_text(encoding="utf-8")
    found = re.search(r'<details class="full"><summary>(.*?)</summary>(.*?)</details>', html, re.S)
    assert found is not None
    summary, whole = found.groups()
    assert "x" * 280 not in summary and "x" * 200 in summary and "…" in summary
    assert "x" * 10_000 in whole

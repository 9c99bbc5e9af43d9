"""Shareable reports: private individuals are neither named nor quoted; figures unchanged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine

from monitor.settings import Reports, Settings
from monitor.store.engine import snapshot
from reports.build import summary_report_data, write_report
from reports.report_data import ReportData
from reports.shareable import shareable_report
from tests import reportdata as rd

NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
USERS = {
    "101": ("first1001days", "1001 Critical Days", 5000),  # the campaign's own
    "201": ("bigcharity", "Big Charity", 20000),  # public by its audience
    "202": ("zqparentxq", "Zqparentnamexq", 300),  # a private individual
    "203": ("zqmumxq", "Zqmumnamexq", None),  # another, with no follower count
}
PRIVATE = ["zqparentxq", "Zqparentnamexq", "zqmumxq", "Zqmumnamexq", "Zqsecretxq", "9202"]


def pages() -> list[dict]:
    at = "2017-06-13T1{}:00:00.000Z"
    posts = [
        rd.post("9201", "202", at.format(0), "Zqsecretxq our baby #IMHAW17", likes=90),
        rd.post("9202", "203", at.format(1), "Zqsecretxq me too #IMHAW17", likes=70, kind="reply"),
        rd.post(
            "9203",
            "201",
            at.format(2),
            "@zqparentxq thank you, and @first1001days #IMHAW17",
            mentions=("zqparentxq", "first1001days"),
            likes=50,
        ),
        rd.post("9204", "101", at.format(3), "Our campaign #IMHAW17", likes=40, retweets=3),
        rd.post("9205", "202", at.format(4), "RT @first1001days: Our campaign", kind="retweet"),
    ]
    return [rd.page(posts, USERS)]


def _both_summaries(engine: Engine, tmp_path: Path) -> tuple[ReportData, ReportData]:
    """The summary of ``pages()`` (top 10 lists) and its shareable version."""
    rd.build(engine, tmp_path, pages(), "week.jsonl")
    full = summary_report_data(engine, Settings(reports=Reports(top_n=10)), now=NOW)
    with snapshot(engine) as conn:
        return full, shareable_report(conn, full)


def test_lists_keep_public_accounts_end_with_one_aggregate_and_mask_mentions(
    engine: Engine, tmp_path: Path
) -> None:
    full, share = _both_summaries(engine, tmp_path)

    assert share.figures == full.figures  # hides names, never numbers
    assert share.shareable and not full.shareable
    posts = share.top_posts
    assert [p["id"] for p in posts] == ["9203", "9204", None]
    assert posts[0]["text"] == "@… thank you, and @first1001days #IMHAW17"
    # private individuals: 9201, 9202 and the retweet 9205, by two people
    aggregate = posts[-1]
    assert aggregate["name"] == "2 private individuals"
    assert aggregate["text"] == "2 posts (retweets aside) by 2 private individuals, not shown"
    assert aggregate["engagements"] == 90 + 70
    people = share.top_contributors
    assert [c["username"] for c in people] == ["bigcharity", "first1001days", None]
    assert people[-1]["posts"] == 3 and people[-1]["potential_impressions"] == 300 + 300


def test_no_file_of_the_shareable_summary_names_a_private_individual(
    engine: Engine, tmp_path: Path
) -> None:
    full, share = _both_summaries(engine, tmp_path)
    written = write_report(share, tmp_path / "out")
    assert all("shareable" in p.name for p in written)
    seen = []
    for path in written:
        if path.suffix == ".pdf":
            seen += [page.extract_text() for page in PdfReader(path).pages]
        elif path.suffix == ".xlsx":
            for sheet in load_workbook(path, read_only=True).worksheets:
                seen += [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v]
        elif path.suffix != ".png":
            seen.append(path.read_text(encoding="utf-8"))
    shown = "\n".join(seen)
    for secret in PRIVATE[:-1]:
        assert secret.casefold() not in shown.casefold(), secret
    assert "9202" not in shown.replace("2017", "")  # no post id of theirs (dates aside)
    assert "bigcharity" in shown and "first1001days" in shown
    obj = json.loads(next(p for p in written if p.suffix == ".json").read_text())
    assert obj["figures"] == full.figures
    assert obj["shareable"].startswith("Shareable version")
    for path in written:
        if path.suffix in (".html", ".pdf"):
            text = path.read_text("latin-1") if path.suffix == ".html" else shown
            assert "Shareable version" in text, path


@pytest.mark.slow
def test_report_summary_shareable_from_the_cli_sits_beside_the_full_one(
    engine: Engine, tmp_path: Path, capsys
) -> None:
    import pytest

    from jobs.cli import main

    rd.build(engine, tmp_path, pages(), "week.jsonl")
    out = tmp_path / "reports"
    url = engine.url.render_as_string(hide_password=False)
    for extra in ([], ["--shareable"]):
        with pytest.raises(SystemExit) as done:
            main(["--database", url, "report", "summary", "--out", str(out), *extra])
        assert done.value.code == 0
    full = json.loads((out / "summary-IMHAW17.json").read_text())
    share = json.loads((out / "summary-IMHAW17-shareable.json").read_text())
    assert share["figures"]["totals"] == full["figures"]["totals"]
    assert "zqparentxq" in json.dumps(full) and "zqparentxq" not in json.dumps(share)
    index = (out / "index.html").read_text()
    assert "summary-IMHAW17-shareable.html" in index and "summary-IMHAW17.html" in index


# --- who is public: verified accounts and listed stakeholders too (METRICS.md) ---------

PUBLIC_TOO = {
    "301": ("zqverifiedorgxq", "Zqverified Org", None),  # verified, follower count private
    "302": ("zqsupporterxq", "Zqsupporter Few", 12),  # a listed supporter, 12 followers
    "303": ("zqprivatemumxq", "Zqprivate Mumxq", 40),  # a private individual
    "304": ("zqmpxq", "Zqmp Name", 30),  # a listed decision maker
}


def verified_pages() -> list[dict]:
    at = "2017-06-14T0{}:00:00.000Z"
    posts = [
        rd.post("9301", "301", at.format(1), "We back #IMHAW17 @zqprivatemumxq", likes=30),
        rd.post("9302", "302", at.format(2), "Proud supporter #IMHAW17 @zqmpxq", likes=20),
        rd.post("9303", "303", at.format(3), "Zqmumsecretxq my story #IMHAW17", likes=25),
        rd.post("9304", "304", at.format(4), "Listening #IMHAW17", likes=5),
        rd.post("9305", "303", at.format(5), "RT @zqverifiedorgxq: We back", kind="retweet"),
    ]
    page = rd.page(posts, PUBLIC_TOO)
    for user in page["includes"]["users"]:
        user["verified"] = user["id"] == "301"
        user["verified_type"] = "government" if user["id"] == "301" else "none"
    return [page]


def listed_settings(tmp_path: Path) -> Settings:
    from monitor.settings import Stakeholders

    supporters = tmp_path / "supporters.csv"
    supporters.write_text("name,handle\nZqsupporter Few,@zqsupporterxq\n", encoding="utf-8")
    makers = tmp_path / "decision_makers.csv"
    makers.write_text("name,handle,role\nZqmp Name,@zqmpxq,MP\n", encoding="utf-8")
    lists = Stakeholders(supporters=str(supporters), decision_makers=str(makers))
    return Settings(reports=Reports(top_n=10), stakeholders=lists)


@pytest.mark.slow
def test_verified_and_listed_accounts_are_named_and_a_private_individual_is_not(
    engine: Engine, tmp_path: Path
) -> None:
    import csv

    from reports.format import shareable_notice

    settings = listed_settings(tmp_path)
    rd.build(engine, tmp_path, verified_pages(), "week.jsonl")
    with snapshot(engine) as conn:
        stored = dict(conn.exec_driver_sql("SELECT id, verified FROM authors").all())
    assert stored["301"] in (True, 1) and stored["303"] in (False, 0)
    full = summary_report_data(engine, settings, now=NOW)
    with snapshot(engine) as conn:
        share = shareable_report(conn, full)
    assert share.figures == full.figures
    assert [p["id"] for p in share.top_posts] == ["9301", "9302", "9304", None]
    assert share.top_posts[0]["text"] == "We back #IMHAW17 @…"
    assert share.top_posts[1]["text"] == "Proud supporter #IMHAW17 @zqmpxq"  # listed: public
    # the private individual's two posts, one of them a retweet, counted apart
    assert share.top_posts[-1]["name"] == "1 private individual"
    assert share.top_posts[-1]["engagements"] == 25
    assert share.top_contributors[-1]["posts"] == 2
    assert share.top_contributors[-1]["potential_impressions"] == 40 + 40

    written = write_report(share, tmp_path / "out")
    shown = "\n".join(
        p.read_text(encoding="utf-8-sig") for p in written if p.suffix in (".csv", ".json", ".html")
    )
    for name in ("zqverifiedorgxq", "zqsupporterxq", "zqmpxq"):
        assert name in shown, name
    for secret in ("zqprivatemumxq", "Zqprivate Mumxq", "Zqmumsecretxq", "9303", "9305"):
        assert secret.casefold() not in shown.casefold(), secret
    obj = json.loads(next(p for p in written if p.suffix == ".json").read_text())
    assert obj["figures"] == full.figures
    notice = shareable_notice(settings)
    csvs = [p for p in written if p.suffix == ".csv"]
    assert csvs
    for path in csvs:  # each shareable CSV says what it is, in a column of its own
        header, *rows = csv.reader(path.read_text(encoding="utf-8-sig").splitlines())
        assert header[-1] == "notice", path.name
        assert all(row[-1] == notice for row in rows), path.name
    full_csv = write_report(full, tmp_path / "full")
    for path in (p for p in full_csv if p.suffix == ".csv"):
        assert "notice" not in path.read_text(encoding="utf-8-sig").splitlines()[0]


def test_an_old_database_gains_the_verified_column(db_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from monitor.store.engine import make_engine

    engine = make_engine(db_url)
    with engine.begin() as conn:  # as written before the column was added
        conn.execute(text("ALTER TABLE authors DROP COLUMN verified"))
        conn.execute(
            text(
                "INSERT INTO authors (platform, id, username, updated_at) "
                "VALUES ('x', '1', 'a', '')"
            )
        )
    engine.dispose()
    engine = make_engine(db_url)
    try:
        rd.build(engine, tmp_path, verified_pages(), "week.jsonl")
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, verified FROM authors")).all())
        assert rows["1"] is None and bool(rows["301"]) and rows["303"] in (False, 0)
    finally:
        engine.dispose()


def test_the_digest_of_a_shareable_summary_says_so_and_names_no_private_individual(
    engine: Engine, tmp_path: Path
) -> None:
    from monitor.settings import Email
    from reports.format import shareable_notice
    from reports.mail import digest_message, read_written_report

    settings = listed_settings(tmp_path)
    rd.build(engine, tmp_path, verified_pages(), "week.jsonl")
    full = summary_report_data(engine, settings, now=NOW)
    with snapshot(engine) as conn:
        share = shareable_report(conn, full)
    written = write_report(share, tmp_path / "out")
    email = Email.model_validate({"host": "127.0.0.1", "from": "a@b.org", "to": ["c@d.org"]})
    msg = digest_message(
        read_written_report(next(p for p in written if p.suffix == ".json")), email
    )
    parts = {
        p.get_content_type(): p.get_content()
        for p in msg.walk()
        if p.get_content_type() in ("text/plain", "text/html")
    }
    assert shareable_notice(settings) in parts["text/plain"]
    assert "Shareable version" in parts["text/html"]
    for body in parts.values():
        assert "zqverifiedorgxq" in body  # public accounts keep their names
        for secret in ("zqprivatemumxq", "Zqprivate Mumxq", "Zqmumsecretxq", "@unknown"):
            assert secret.casefold() not in body.casefold(), secret

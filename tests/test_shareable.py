"""Shareable reports: private individuals are neither named nor quoted; figures unchanged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine

from monitor.settings import Reports, Settings
from monitor.store.engine import snapshot
from reports.build import summary_report_data, write_report
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


def test_lists_keep_public_accounts_end_with_one_aggregate_and_mask_mentions(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(reports=Reports(top_n=10))
    rd.build(engine, tmp_path, pages(), "week.jsonl")
    full = summary_report_data(engine, settings, now=NOW)
    with snapshot(engine) as conn:
        share = shareable_report(conn, full)

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
    settings = Settings(reports=Reports(top_n=10))
    rd.build(engine, tmp_path, pages(), "week.jsonl")
    full = summary_report_data(engine, settings, now=NOW)
    with snapshot(engine) as conn:
        share = shareable_report(conn, full)
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

"""The impact pack: what it holds, that it is deterministic, and that verify-pack
recomputes every figure from it (METRICS.md "The impact pack")."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import tomllib
import zipfile
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import Engine

from jobs.cli import cli
from monitor.refresh import refresh_metrics
from monitor.settings import Settings
from monitor.sources.x import XSource
from monitor.store.engine import snapshot
from reports.pack import write_pack
from reports.pack_verify import EQUAL, verify_pack
from reports.stats import stats_object
from tests import reportdata as rd
from tests.xapi import TOKEN, FakeX

NOW = dt.datetime(2017, 6, 17, 9, 0, tzinfo=dt.UTC)
GONE_TEXT = "Zqgonefromxq a family story"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


def extra_pages() -> list[dict]:
    """Posts the known campaign lacks: matched only by text, an author whose count grew
    between pages, a post deleted later."""
    no_entities = rd.post("3001", "103", "2017-06-15T09:00:00.000Z", "hi #imhaw17 @First1001Days")
    del no_entities["entities"]
    gone = rd.post("3002", "102", "2017-06-15T10:00:00.000Z", GONE_TEXT, likes=9)
    first = rd.page([no_entities, gone], {"102": ("alice", "Alice", 1000), "103": rd.USERS["103"]})
    later = rd.post("3003", "102", "2017-06-15T11:00:00.000Z", "again #IMHAW17", likes=2)
    return [first, rd.page([later], {"102": ("alice", "Alice", 1500)})]


@pytest.fixture
def campaign(engine: Engine, tmp_path: Path) -> Engine:
    """The known campaign plus the extra posts, one of them deleted since (via refresh)."""
    pages = rd.known_pages() + extra_pages()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeX(pages)
        fake.register(rsps)
        settings = Settings()
        source = XSource(settings, TOKEN, sleep=lambda s: None)
        rd.build(engine, tmp_path, pages, "campaign.jsonl")
        fake.lookup_errors = {"3002": NOT_FOUND}
        refresh_metrics(
            engine, source, since=dt.datetime(2017, 6, 15, 9, 30, tzinfo=dt.UTC), now=NOW
        )
    return engine


def figures(engine: Engine, settings: Settings) -> dict:
    with snapshot(engine) as conn:
        obj = stats_object(conn, settings)
    return {"days": obj["days"], "totals": obj["totals"]}


@pytest.mark.slow
def test_the_pack_holds_every_file_and_verify_pack_recomputes_its_figures(
    campaign: Engine, tmp_path: Path
) -> None:
    settings = Settings()
    pack = write_pack(campaign, settings, tmp_path / "out", now=NOW)
    with zipfile.ZipFile(pack) as zf:
        names = zf.namelist()
        entries = {n: zf.read(n) for n in names}
    assert names == sorted(names)
    for name in ("config.toml", "METHODOLOGY.md", "query.txt", "posts.jsonl.gz", "README.md"):
        assert name in names
    for suffix in (".html", ".pdf", ".xlsx", ".json", "-top-posts.csv", "-pace.png"):
        assert any(n.startswith("summary/") and n.endswith(suffix) for n in names), suffix
    # SHA256SUMS covers every other file, as sha256sum -c reads it
    sums = dict(
        reversed(line.split("  ", 1)) for line in entries["SHA256SUMS"].decode().splitlines()
    )
    assert sorted(sums) == sorted(set(names) - {"SHA256SUMS"})
    for name, digest in sums.items():
        assert hashlib.sha256(entries[name]).hexdigest() == digest
    assert "(#IMHAW17 OR @first1001days)" in entries["query.txt"].decode()
    config = tomllib.loads(entries["config.toml"].decode())
    assert sorted(config) == ["baseline", "campaign"]  # no database URL, no credentials
    assert config["campaign"]["start"] == dt.date(2017, 6, 12)

    # the archive: every post of the window once, the deleted one without its text
    posts = [
        p
        for line in gzip.decompress(entries["posts.jsonl.gz"]).splitlines()
        for p in json.loads(line)["data"]
    ]
    ids = [p["id"] for p in posts]
    assert len(ids) == len(set(ids)) == figures(campaign, settings)["totals"]["posts"]
    assert GONE_TEXT.encode() not in gzip.decompress(entries["posts.jsonl.gz"])
    assert GONE_TEXT.encode() not in b"".join(entries.values())
    with zipfile.ZipFile(pack) as zf:  # gzip already: stored as it is, not deflated again
        assert zf.getinfo("posts.jsonl.gz").compress_type == zipfile.ZIP_STORED
    assert next(p for p in posts if p["id"] == "3002")["text"] == ""

    summary = json.loads(next(v for n, v in entries.items() if n.endswith(".json")))
    assert {k: summary["figures"][k] for k in ("days", "totals")} == figures(campaign, settings)
    verdict = verify_pack(pack)
    assert verdict.ok, verdict.problems
    assert verdict.figures_checked > 100


@pytest.mark.slow
def test_the_same_database_gives_the_same_bytes(campaign: Engine, tmp_path: Path) -> None:
    settings = Settings()
    one = write_pack(campaign, settings, tmp_path / "a", now=NOW).read_bytes()
    two = write_pack(campaign, settings, tmp_path / "b", now=NOW).read_bytes()
    assert one == two


def test_a_changed_byte_fails_verify_pack_naming_the_file(campaign: Engine, tmp_path: Path) -> None:
    pack = write_pack(campaign, Settings(), tmp_path, now=NOW)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "query.txt":
                data = data.replace(b"IMHAW17", b"IMHAW18")
            dst.writestr(info, data)
    verdict = verify_pack(tampered)
    assert verdict.problems == ["query.txt: changed since the pack was written (checksum differs)"]

    result = CliRunner().invoke(cli, ["verify-pack", str(tampered)])
    assert result.exit_code == 1
    assert "query.txt" in result.output


@pytest.mark.slow
def test_figures_that_differ_are_named(campaign: Engine, tmp_path: Path) -> None:
    """A pack whose summary JSON claims other figures (checksums redone) fails on figures."""
    pack = write_pack(campaign, Settings(), tmp_path, now=NOW)
    with zipfile.ZipFile(pack) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n in entries if n.endswith(".json"))
    obj = json.loads(entries[name])
    obj["figures"]["totals"]["posts"] += 1
    entries[name] = json.dumps(obj).encode()
    from reports.pack_verify import sums_text

    del entries["SHA256SUMS"]
    entries["SHA256SUMS"] = sums_text(entries).encode()
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    verdict = verify_pack(forged)
    posts = obj["figures"]["totals"]["posts"]
    assert verdict.problems == [f"totals.posts: {posts} in the pack, {posts - 1} recomputed"]

    result = CliRunner().invoke(cli, ["verify-pack", str(pack)])
    assert result.exit_code == 0, result.output
    assert EQUAL in result.output


@pytest.mark.slow
def test_report_summary_pack_from_the_cli_then_verify_pack(
    campaign: Engine, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from jobs.cli import main

    out = tmp_path / "reports"
    url = campaign.url.render_as_string(hide_password=False)
    with pytest.raises(SystemExit) as done:
        main(["--database", url, "report", "summary", "--out", str(out), "--pack"])
    assert done.value.code == 0
    pack = out / "summary-IMHAW17-pack.zip"
    assert f"pack:   {pack}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["verify-pack", str(pack)])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(EQUAL)


@pytest.mark.slow
def test_writing_a_pack_is_a_run_that_status_shows(
    campaign: Engine, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from jobs.cli import main

    out = tmp_path / "reports"
    url = campaign.url.render_as_string(hide_password=False)
    for extra in ([], ["--shareable"]):
        with pytest.raises(SystemExit) as done:
            main(["--database", url, "report", "summary", "--out", str(out), "--pack", *extra])
        assert done.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["--database", url, "status", "--json"])
    assert done.value.code == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    packs = [(r["status"], r["message"]) for r in runs if r["kind"] == "pack"]
    assert sorted(packs) == [
        ("ok", f"impact pack in {out}"),
        ("ok", f"shareable impact pack in {out}"),
    ]
    assert sum(r["kind"] == "report" for r in runs) == 2  # the summaries, as before
    with pytest.raises(SystemExit) as done:
        main(["--database", url, "status"])
    assert "pack     ok          " in capsys.readouterr().out


def test_verify_pack_refuses_a_file_that_is_not_a_pack_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from jobs.cli import main

    bogus = tmp_path / "notes.zip"
    bogus.write_text("not a zip at all")
    with pytest.raises(SystemExit) as exit_:
        main(["verify-pack", str(bogus)])
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert err.count("\n") == 1 and "notes.zip is not a readable zip" in err


def test_a_shareable_pack_leaves_the_archive_out_and_says_so(
    campaign: Engine, tmp_path: Path
) -> None:
    pack = write_pack(campaign, Settings(), tmp_path, now=NOW, shareable=True)
    assert pack.name == "summary-IMHAW17-shareable-pack.zip"
    with zipfile.ZipFile(pack) as zf:
        names = zf.namelist()
        readme = zf.read("README.md").decode()
    assert "posts.jsonl.gz" not in names
    assert all("shareable" in n for n in names if n.startswith("summary/"))
    assert "shareable version" in readme and "left out" in readme
    verdict = verify_pack(pack)
    assert verdict.ok and "shareable pack holds no posts.jsonl.gz" in (verdict.note or "")


def test_the_packed_workbook_carries_no_wall_clock_time() -> None:
    """openpyxl stamps its zip entries and docProps with the time of saving."""
    import io

    from openpyxl import Workbook

    from reports.pack import ZIP_TIME, _steady_xlsx

    buf = io.BytesIO()
    Workbook().save(buf)
    steady = _steady_xlsx(buf.getvalue(), NOW)
    with zipfile.ZipFile(io.BytesIO(steady)) as zf:
        assert {info.date_time for info in zf.infolist()} == {ZIP_TIME}
        core = zf.read("docProps/core.xml").decode()
    assert core.count("2017-06-17T09:00:00Z") == 2  # created and modified: the stamp


def _pack_entries(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.mark.slow
def test_report_summary_pack_puts_one_summary_in_the_folder_and_the_pack(
    campaign: Engine, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The folder's summary is the pack's: the same files, the same bytes (the pack's
    workbook with its fixed times), not a second reading drawn again."""
    from jobs.cli import main
    from reports.pack import _steady_xlsx

    out = tmp_path / "reports"
    url = campaign.url.render_as_string(hide_password=False)
    with pytest.raises(SystemExit) as done:
        main(["--database", url, "report", "summary", "--out", str(out), "--pack"])
    assert done.value.code == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"wrote 12 files to {out}"
    assert said[-1] == f"pack:   {out / 'summary-IMHAW17-pack.zip'}"
    packed = {
        n.removeprefix("summary/"): data
        for n, data in _pack_entries(out / "summary-IMHAW17-pack.zip").items()
        if n.startswith("summary/")
    }
    here = {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith("summary-IMHAW17")}
    del here["summary-IMHAW17-pack.zip"]
    assert sorted(here) == sorted(packed) and len(here) == 12
    stamp = json.loads(here["summary-IMHAW17.json"])["report"]["generated_at"]
    when = dt.datetime.fromisoformat(stamp)
    for name, data in here.items():
        assert packed[name] == (_steady_xlsx(data, when) if name.endswith(".xlsx") else data)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no work folder left


@pytest.mark.slow
def test_with_fewer_formats_the_folder_gets_those_and_the_pack_every_format(
    campaign: Engine, tmp_path: Path
) -> None:
    from jobs.reporting import write_summary_and_pack
    from monitor.settings import Reports

    settings = Settings(reports=Reports(formats=("json", "html")))
    out = tmp_path / "out"
    written, pack = write_summary_and_pack(settings, campaign, out)
    assert [p.name for p in written.files] == ["summary-IMHAW17.json", "summary-IMHAW17.html"]
    page = (out / "summary-IMHAW17.html").read_text(encoding="utf-8")
    assert "summary-IMHAW17.json" in page and "summary-IMHAW17.pdf" not in page
    entries = _pack_entries(pack)
    for suffix in (".html", ".pdf", ".xlsx", ".json", "-top-posts.csv", "-pace.png"):
        assert f"summary/summary-IMHAW17{suffix}" in entries, suffix
    mine = json.loads((out / "summary-IMHAW17.json").read_bytes())
    packed = json.loads(entries["summary/summary-IMHAW17.json"])
    assert mine["figures"] == packed["figures"] and mine["report"] == packed["report"]
    assert verify_pack(pack).ok

"""`hashmon demo`: the simulated week through the live pipeline, every report written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from jobs.cli import main
from jobs.demo import DEMO_DB, example_stakeholders
from monitor.errors import HashmonError
from monitor.settings import Settings
from monitor.sources.simulated import simulate_campaign
from monitor.store.engine import make_engine
from reports.stats import stats_object

# the whole simulated week: make test, not make quick; one worker runs the module, so
# the demo (its module fixture) runs once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]

FORMATS = (".html", ".json", ".xlsx", ".pdf")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(out), "--seed", "42"])
    assert exit_info.value.code == 0
    return out, ""


def test_the_module_is_one_group_so_the_demo_week_runs_once(request) -> None:
    """Under ``make test`` (pytest-xdist, ``--dist loadgroup``) the module must be one group:
    pytest 9.2 silently dropped the groups (pytest-xdist#1386), the tests were spread over
    the workers and each ran the demo week again (27 s of CPU). pyproject.toml keeps the
    pytest whose groups hold."""
    if getattr(request.config.option, "loadgroup", False):  # on a loadgroup worker
        assert request.node.nodeid.endswith("@demo"), (
            "pytest-xdist did not group this module: install the pytest pyproject.toml names"
        )


def test_demo_writes_the_index_five_daily_reports_and_the_summary(demo_run) -> None:
    out, _ = demo_run
    stems = [f"daily-2017-06-{d}" for d in (12, 13, 14, 15, 16)] + ["summary-IMHAW17"]
    for stem in stems:
        for suffix in FORMATS:
            assert (out / f"{stem}{suffix}").is_file(), f"{stem}{suffix}"
        own = lambda p, stem=stem: "shareable" not in p.name.removeprefix(stem)  # noqa: E731
        assert len([p for p in out.glob(f"{stem}-*.png") if own(p)]) == 4
        # days, top posts, contributors, hashtags; supporters and decision makers (the
        # demo's example lists)
        assert len([p for p in out.glob(f"{stem}-*.csv") if own(p)]) == 6
    index = (out / "index.html").read_text(encoding="utf-8")
    for stem in stems:
        assert f'href="{stem}.html"' in index


def test_the_demo_pack_verifies_and_fails_with_one_byte_changed(demo_run) -> None:
    from reports.pack_verify import verify_pack

    out, _ = demo_run
    pack = out / "summary-IMHAW17-pack.zip"
    verdict = verify_pack(pack)
    assert verdict.ok, verdict.problems
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0x01  # one byte, somewhere in the entries' compressed data
    changed = out.parent / "changed-pack.zip"
    changed.write_bytes(bytes(data))
    try:
        problems = verify_pack(changed).problems
    except HashmonError as exc:  # the byte broke the zip's own structure
        problems = [str(exc)]
    assert problems


def test_the_demo_writes_the_shareable_summary_beside_the_full_one(demo_run) -> None:
    out, _ = demo_run
    full = json.loads((out / "summary-IMHAW17.json").read_text())
    share = json.loads((out / "summary-IMHAW17-shareable.json").read_text())
    assert share["figures"] == full["figures"] and share["shareable"]
    assert 'href="summary-IMHAW17-shareable.html"' in (out / "index.html").read_text()


def test_every_demo_page_says_the_data_is_simulated(demo_run) -> None:
    out, _ = demo_run
    pages = sorted(out.glob("*.html"))
    assert len(pages) == 8  # the index, five days, the summary and its shareable version
    for page in pages:
        assert re.search(r"simulated", page.read_text(encoding="utf-8"), re.IGNORECASE), page


def test_demo_figures_are_hashmon_stats_and_match_the_simulation(demo_run) -> None:
    out, _ = demo_run
    settings = Settings(stakeholders=example_stakeholders(Settings()))
    engine = make_engine(f"sqlite:///{out / DEMO_DB}")
    with engine.connect() as conn:
        window = stats_object(conn, settings)
        day = stats_object(conn, settings, settings.campaign.start, settings.campaign.start)
    engine.dispose()
    summary = json.loads((out / "summary-IMHAW17.json").read_text(encoding="utf-8"))
    daily = json.loads((out / "daily-2017-06-12.json").read_text(encoding="utf-8"))
    assert summary["figures"] == window
    assert daily["figures"] == day
    # independent of the store: the generator's own sum over the posts it made
    campaign = simulate_campaign(settings, seed=42)
    assert window["totals"]["potential_impressions"] == campaign.window_potential_impressions()
    # the comparison means something: the same order of magnitude as ten million
    assert 0.5 < window["totals"]["baseline_progress"] < 1.5
    # the example supporters include accounts of the simulated week
    assert window["groups"]["supporters"]["posts"] > 0


def test_the_demo_records_its_reports_as_a_run_on_the_simulated_clock(demo_run) -> None:
    out, _ = demo_run
    engine = make_engine(f"sqlite:///{out / DEMO_DB}")
    with engine.connect() as conn:
        runs = conn.execute(
            text(
                "SELECT status, started_at, finished_at, message FROM collection_runs "
                "WHERE kind = 'report'"
            )
        ).all()
        last_collect = conn.execute(
            text("SELECT MAX(started_at) FROM collection_runs WHERE kind = 'collect'")
        ).scalar_one()
    engine.dispose()
    assert len(runs) == 1
    status, started, finished, message = runs[0]
    # the demo's clock stops at its last collect pass, and the reports are stamped with it
    assert status == "ok" and started == finished == last_collect
    assert "2017-06-12" in message and "2017-06-16" in message and str(out) in message


def test_the_demo_summary_shows_active_and_silent_supporters_and_every_decision_maker_status(
    demo_run,
) -> None:
    out, _ = demo_run
    summary = json.loads((out / "summary-IMHAW17.json").read_text(encoding="utf-8"))
    s = summary["stakeholders"]
    active = [p for p in s["supporters"] if p["posts"]]
    assert active and s["silent"]
    assert s["silent"] == [p["name"] for p in s["supporters"] if not p["posts"]]
    statuses = {(m["engaged"], m["mentioned_in"] > 0) for m in s["decision_makers"]}
    assert (False, True) in statuses and (False, False) in statuses
    assert any(engaged for engaged, _ in statuses)
    page = (out / "summary-IMHAW17.html").read_text(encoding="utf-8")
    assert "Not heard from yet" in page and "Decision makers" in page

"""The digest's HTML part in a real headless Chromium, as a mail client shows it: each
``cid:`` image replaced by its inline part, the console silent, every chart decoded.

A Content-Security-Policy allowing only inline styles and data: images is put in front
of the page, so any attempt to load or run something would be a console message.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.settings import Email, Settings
from reports.build import write_daily_report
from reports.mail import digest_message, read_written_report
from tests import reportdata as rd
from tests.test_render import PageScan
from tests.test_report_browser import ARTIFACTS, _chromium, _console, _decoded_png_size, _run

pytestmark = pytest.mark.browser

NOW = dt.datetime(2017, 6, 14, 21, 0, tzinfo=dt.UTC)
CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "img-src data:; style-src 'unsafe-inline'\">"
)


def test_the_digest_html_renders_in_chromium_with_every_inline_chart(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    chromium = _chromium()
    rd.build(sqlite_engine, tmp_path, rd.known_pages(), "known.jsonl")
    rd.build(sqlite_engine, tmp_path, rd.bulk_pages(2_000, Settings(), seed=7), "bulk.jsonl")
    out = tmp_path / "reports"
    day = dt.date(2017, 6, 14)
    written = write_daily_report(sqlite_engine, Settings(), day, out, simulated=True, now=NOW)
    report_json = next(p for p in written if p.suffix == ".json")
    email = Email.model_validate({"host": "127.0.0.1", "from": "a@example.org", "to": ["b@c.org"]})
    msg = digest_message(read_written_report(report_json), email)

    html_part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    page = html_part.get_content()
    images = {
        p["Content-ID"].strip().strip("<>"): p.get_content()
        for p in msg.walk()
        if p.get_content_type() == "image/png"
    }

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(images[match.group(1)]).decode()
        return f'src="data:image/png;base64,{data}"'

    shown = re.sub(r'src="cid:([^"]+)"', inline, page).replace("<head>", "<head>" + CSP, 1)
    path = tmp_path / "digest.html"
    path.write_text(shown, encoding="utf-8")

    dumped = _run(chromium, tmp_path / "profile-dom", "--dump-dom", path.as_uri())
    assert _console(dumped.stderr) == []
    scan = PageScan(dumped.stdout)
    imgs = [a for tag, a in scan.tags if tag == "img"]
    assert len(imgs) == len(images) == 4
    for img in imgs:
        width, height = _decoded_png_size(base64.b64decode(img["src"].split(",", 1)[1]))
        assert width > 0 and height > 0
        assert len(img.get("alt") or "") > 20
    assert "SIMULATED DATA" in "".join(scan.text)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mail-digest.png"
    shot.unlink(missing_ok=True)
    taken = _run(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=700,2600",
        "--hide-scrollbars",
        path.as_uri(),
    )
    assert _console(taken.stderr) == []
    assert _decoded_png_size(shot.read_bytes()) == (700, 2600)

"""Every sentence on time is true at the moment it is written (issue 11, point 2).

Daily reports and the summary are written before the campaign window, on its first day,
mid-week, on its last day and after it; each sentence of the HTML page, the PDF and the
e-mail digest that speaks of "so far", of days to come or after a day, of a day under
way or of the campaign being over is checked against the calendar at that moment. Days
still to come are counted from the last day a report's figures cover (a daily report's
day, or today while it is under way) and that day is named.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from monitor.archive import import_files
from monitor.settings import Email, Reports
from reports.build import write_daily_report, write_summary_report
from reports.format import long_day
from reports.mail import digest_message, read_written_report
from tests.pages import page, post, user, write_jsonl
from tests.test_stats import IMHAW17

START, END = dt.date(2017, 6, 12), dt.date(2017, 6, 16)
WINDOW = [START + dt.timedelta(days=i) for i in range(5)]
# 14:00 UTC is 15:00 in London: mid-afternoon of the local day
MOMENTS = {
    "before": dt.datetime(2017, 6, 10, 14, tzinfo=dt.UTC),
    "first day": dt.datetime(2017, 6, 12, 14, tzinfo=dt.UTC),
    "mid-week": dt.datetime(2017, 6, 14, 14, tzinfo=dt.UTC),
    "last day": dt.datetime(2017, 6, 16, 14, tzinfo=dt.UTC),
    "after": dt.datetime(2017, 6, 20, 9, tzinfo=dt.UTC),
}
SETTINGS = IMHAW17.model_copy(update={"reports": Reports(formats=("html", "pdf", "json"))})
MAIL = Email.model_validate({"host": "127.0.0.1", "from": "a@b.org", "to": ["c@d.org"]})


def _texts(files: list[Path]) -> dict[str, str]:
    """Return the words a reader sees in the page, the PDF and the digest, one line each."""
    out = {}
    for path in files:
        if path.suffix == ".html":
            body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", path.read_text(), flags=re.S)
            out["html"] = html.unescape(re.sub(r"<[^>]+>", " ", body))
        elif path.suffix == ".pdf":
            out["pdf"] = "\n".join(p.extract_text() for p in PdfReader(path).pages)
        elif path.suffix == ".json":
            msg = digest_message(read_written_report(path), MAIL)
            out["digest"] = next(
                p.get_content() for p in msg.walk() if p.get_content_type() == "text/plain"
            )
    return {k: " ".join(v.split()) for k, v in out.items()}


def _last_covered(kind: str, day: dt.date | None, today: dt.date, during: bool) -> dt.date | None:
    """Return the last day whose figures the pace covers: what "after <day>" must name."""
    if today < START:
        return None
    end = day if kind == "daily" else END
    return min(end, today) if during else end


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_every_sentence_on_time_is_true_when_written(
    sqlite_engine: Engine, tmp_path: Path, moment: str
) -> None:
    # a post a day, far from the baseline: every report has days and a target
    posts = [
        post(
            str(10 + i), f"day {i} #IMHAW17", created_at=f"{d}T10:00:00.000Z", hashtags=["IMHAW17"]
        )
        for i, d in enumerate(WINDOW)
    ]
    import_files(
        sqlite_engine, [write_jsonl(tmp_path / "a.jsonl", page(*posts, users=[user("100", 1000)]))]
    )
    now = MOMENTS[moment]
    today = now.astimezone(SETTINGS.campaign.tz).date()
    during = START <= today <= END
    after = today > END
    reports = [
        ("summary", None, write_summary_report(sqlite_engine, SETTINGS, tmp_path / "s", now=now))
    ]
    for d in (START, WINDOW[2], END):
        files = write_daily_report(sqlite_engine, SETTINGS, d, tmp_path / d.isoformat(), now=now)
        reports.append(("daily", d, files))
    for kind, day, files in reports:
        last = _last_covered(kind, day, today, during)
        for fmt, text in _texts(files).items():
            where = (moment, kind, day, fmt)
            low = text.lower()
            # the old wording counted "remaining" days from a day that may be long past
            assert "remaining" not in low, where
            if after:
                for phrase in ("so far", "to come", "under way", "today"):
                    assert phrase not in low, (where, phrase)
            else:
                assert "are over" not in low and "over the 5 days" not in low, where
            if "under way" in low:
                assert during and today == END, where
            if "so far" in low:  # figures still growing: the last day covered is not over
                assert last is None or (during and last == today), where
            for d in WINDOW:
                if f"by the end of {long_day(d)}" in text:
                    assert d < today, where  # that day is over when the report says so
                if f"after {long_day(d)}" in text:
                    assert d == last, where  # the days to come counted from the day covered
            for found in re.findall(r"(\d+) more days? to come", text):
                assert int(found) == (END - today).days, where
            if last is not None and last < END:
                left = (END - last).days
                assert f"after {long_day(last)}" in text or fmt == "digest", where
                if left > 1:
                    assert f"the {left} campaign days after {long_day(last)}" in text or (
                        fmt == "digest"
                    ), where
            if last is None:
                assert "the campaign's 5 days" in text or fmt == "digest", where

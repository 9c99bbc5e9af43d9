"""E-mail delivery against a real SMTP server on loopback (aiosmtpd), never a mocked smtplib.

The demo week is simulated once; each test writes a report from its database with
``--email`` and reads back what the server received with the standard ``email`` package:
the parts, every inline chart the HTML names, attachments that open, the figures of
``hashmon stats --json`` for the same dates, and no password anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import html
import io
import json
import logging
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bench.twarc import write_twarc_jsonl
from jobs.cli import main
from monitor.settings import Settings
from monitor.sources.simulated import simulate_campaign

PASSWORD = "s3cret-Pa55word-for-tests"
USER = "hashmon"
DAY = "2017-06-14"  # day 3 of 5
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TEAM = ["team@example.org", "boss@example.org"]
REFUSED = "nobody@example.org"
FIVE_MB = 5 * 1024 * 1024


# --- the server ---------------------------------------------------------------------------


@dataclass
class Keeper:
    """An aiosmtpd handler that keeps every message; it can refuse a recipient or hang."""

    messages: list[Any] = field(default_factory=list)
    hang_seconds: float = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        self.messages.append(envelope)
        return "250 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Smtp:
    port: int
    keeper: Keeper
    ca_file: Path | None = None

    def received(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in self.keeper.messages
        ]


@pytest.fixture(autouse=True)
def _quiet_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # the server runs in this process: its own log of a refused handshake is not hashmon's
    monkeypatch.setattr(logging.getLogger("mail.log"), "disabled", True)


@pytest.fixture
def plain_smtp() -> Iterator[Smtp]:
    """A server without TLS or AUTH (``security = "none"`` is allowed on loopback)."""
    keeper = Keeper()
    port = _free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp(port, keeper)
    controller.stop()


def tls_server(tmp_path: Path, keeper: Keeper) -> tuple[Controller, int, Path]:
    """A server, not started, requiring STARTTLS (a throwaway CA's certificate for
    127.0.0.1 and localhost) and AUTH after it; return it, its port and the CA file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    port = _free_port()
    controller = Controller(
        keeper,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    return controller, port, ca_file


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[Smtp]:
    """A server requiring STARTTLS and AUTH after it (``tls_server``), started."""
    keeper = Keeper()
    controller, port, ca_file = tls_server(tmp_path, keeper)
    controller.start()
    yield Smtp(port, keeper, ca_file)
    controller.stop()


# --- the demo database and the commands -----------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo's simulated week (seed 42), imported from its twarc2 archive into SQLite:
    the demo's posts and accounts, a tenth of the time of running the demo's passes."""
    out = tmp_path_factory.mktemp("maildemo")
    archive = out / "week.jsonl"
    write_twarc_jsonl(simulate_campaign(Settings(), seed=42), archive)
    url = f"sqlite:///{out / 'week.db'}"
    with pytest.raises(SystemExit) as exit_info:
        main(["--database", url, "import", str(archive)])
    assert exit_info.value.code == 0
    return url


def write_config(path: Path, port: int, **email: Any) -> Path:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "hashmon@example.org",
        "to": TEAM,
        **email,
    }
    lines = [
        "[baseline]",
        'label = "#IMHAW16"',
        "value = 10000000",
        "[source]",
        'kind = "simulated"',
        # the demo's example lists: some supporters of the simulated week stay silent
        "[stakeholders]",
        f"supporters = {json.dumps(str(EXAMPLES / 'supporters.csv'))}",
        "[email]",
    ] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hashmon(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def stats(capsys, db: str, first: str, last: str) -> dict[str, Any]:
    code, out, _ = hashmon(
        capsys, "--database", db, "stats", "--json", "--from", first, "--to", last
    )
    assert code == 0
    return json.loads(out)


# --- reading a message back ----------------------------------------------------------------


def part_of(msg: EmailMessage, content_type: str) -> EmailMessage:
    parts = [p for p in msg.walk() if p.get_content_type() == content_type]
    assert len(parts) == 1, content_type
    return parts[0]


def section_figures(text: str, heading: str) -> dict[str, int]:
    """Return the five headline figures printed under ``heading`` in the plain-text part."""
    block = text.replace("\r\n", "\n").split(heading, 1)[1].split("\n\n", 1)[0]
    names = {
        "Posts": "posts",
        "Contributors": "contributors",
        "Potential impressions": "potential_impressions",
        "Potential reach": "potential_reach",
        "Engagements": "engagements",
    }
    found = {}
    for line in block.splitlines()[1:]:
        label, value = re.match(r"\s+(.+?)\s{2,}([\d,]+)$", line).groups()
        found[names[label]] = int(value.replace(",", ""))
    return found


def assert_no_secret(raw: bytes, *texts: str) -> None:
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode()]
    for form in forms:
        assert form.encode() not in raw
        for text in texts:
            assert form not in text


# --- the digest ----------------------------------------------------------------------------


@pytest.mark.slow
def test_daily_digest_over_starttls_with_login_arrives_whole_with_the_stats_figures(
    demo_db, tls_smtp, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("HASHMON_SMTP_PASSWORD", PASSWORD)
    config = write_config(
        tmp_path / "hashmon.toml",
        tls_smtp.port,
        security="starttls",
        username=USER,
        tls_ca_file=str(tls_smtp.ca_file),
        cc=["comms@example.org"],
    )
    out_dir = tmp_path / "reports"
    code, out, err = hashmon(
        capsys, "--config", str(config), "--database", demo_db,
        "report", "daily", "--date", DAY, "--out", str(out_dir), "--email",
    )  # fmt: skip
    assert code == 0, err
    assert "e-mail sent via 127.0.0.1" in out
    [envelope] = tls_smtp.keeper.messages
    assert sorted(envelope.rcpt_tos) == sorted([*TEAM, "comms@example.org"])
    raw = envelope.original_content
    assert len(raw) < FIVE_MB
    [msg] = tls_smtp.received()

    # the structure: text and HTML alternatives, the HTML with its charts, two attachments
    assert msg.get_content_type() == "multipart/mixed"
    alternative = part_of(msg, "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "multipart/related",
    ]
    text = part_of(msg, "text/plain").get_content()
    page = part_of(msg, "text/html").get_content()
    images = {
        p["Content-ID"].strip().strip("<>"): p.get_content()
        for p in msg.walk()
        if p.get_content_type() == "image/png"
    }
    referenced = re.findall(r'src="cid:([^"]+)"', page)
    assert len(referenced) == 4 and set(referenced) == set(images)
    for png in images.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(?!cid:|https://x\.com/)', page)  # nothing loaded
    # the supporters not heard from on the day, as the report's JSON lists them (the demo's
    # example lists have silent ones), so the team can nudge them
    report = json.loads((out_dir / f"daily-{DAY}.json").read_text(encoding="utf-8"))
    silent = report["stakeholders"]["silent"]
    assert silent
    said = f"Supporters not heard from yet ({len(silent)} of "
    assert said in text and said in page
    for name in silent:
        assert name in text and html.escape(name) in page
    attachments = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(attachments) == {f"daily-{DAY}.pdf", f"daily-{DAY}.xlsx"}
    assert attachments[f"daily-{DAY}.pdf"].startswith(b"%PDF")
    workbook = openpyxl.load_workbook(io.BytesIO(attachments[f"daily-{DAY}.xlsx"]))
    assert workbook.sheetnames

    # the figures are hashmon stats' for the day and for the campaign to date
    day = stats(capsys, demo_db, DAY, DAY)["totals"]
    to_date = stats(capsys, demo_db, "2017-06-12", DAY)["totals"]
    keys = ("posts", "contributors", "potential_impressions", "potential_reach", "engagements")
    assert section_figures(text, "The day (") == {k: day[k] for k in keys}
    assert section_figures(text, "Campaign to date (") == {k: to_date[k] for k in keys}
    for k in keys:
        assert f">{day[k]:,}<" in page and f">{to_date[k]:,}<" in page
    share = to_date["potential_impressions"] / 10_000_000
    millions = f"{to_date['potential_impressions'] / 1e6:.1f}M"
    assert msg["Subject"] == (
        f"#IMHAW17 day 3 of 5: {millions} potential impressions, "
        f"{int(share * 100)}% of #IMHAW16 (simulated data)"
    )
    assert f"{share:.1%} of #IMHAW16's 10,000,000" in text
    needed = -(-(10_000_000 - to_date["potential_impressions"]) // 2)
    # counted from the day reported, named, so the line is true whenever it is read
    assert f"{needed:,} potential impressions on each of the 2 days after Wed 14 Jun" in text
    assert "Coverage:" in text and "SIMULATED DATA" in text and "SIMULATED DATA" in page

    # no secret anywhere: the message, the output, the headers
    assert_no_secret(raw, out, err, str(dict(msg.items())))

    # the send is recorded for hashmon status
    code, out, _ = hashmon(capsys, "--config", str(config), "--database", demo_db, "status")
    assert code == 0
    assert "last digest sent: " in out and msg["Subject"] in out
    assert_no_secret(b"", out)


@pytest.mark.slow
def test_summary_digest_and_user_text_in_top_posts_is_escaped(
    demo_db, plain_smtp, tmp_path, capsys
) -> None:
    config = write_config(tmp_path / "hashmon.toml", plain_smtp.port, subject_prefix="[comms]")
    code, out, err = hashmon(
        capsys, "--config", str(config), "--database", demo_db,
        "report", "summary", "--out", str(tmp_path / "r"), "--email",
    )  # fmt: skip
    assert code == 0, err
    [msg] = plain_smtp.received()
    window = stats(capsys, demo_db, "2017-06-12", "2017-06-16")["totals"]
    impressions = window["potential_impressions"]
    assert msg["Subject"] == (
        f"[comms] #IMHAW17 week summary: {impressions / 1e6:.1f}M potential impressions, "
        f"{impressions * 100 // 10_000_000}% of #IMHAW16 (simulated data)"
    )
    text = part_of(msg, "text/plain").get_content()
    assert (
        section_figures(text, "The campaign week (")["potential_impressions"]
        == (window["potential_impressions"])
    )
    assert "No campaign day is left." in text
    summary = json.loads((tmp_path / "r" / "summary-IMHAW17.json").read_text(encoding="utf-8"))
    page = part_of(msg, "text/html").get_content()
    for post in summary["top_posts"][:3]:
        # each top post's text, as the HTML escaping of it
        words = " ".join(post["text"].split())[:40]
        assert html_escape(words) in page


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_hostile_post_text_is_escaped_in_the_html_part(tmp_path: Path) -> None:
    from monitor.settings import Email
    from reports.mail import digest_message, read_written_report

    report = {
        "report": {"kind": "daily", "title": "T <b>", "day": DAY, "dates": [DAY],
                   "generated_at": "2017-06-14T20:00:00Z",
                   "simulated": False},
        "figures": {"campaign": {"name": "IMHAW17", "start": "2017-06-12", "end": "2017-06-16",
                                 "timezone": "Europe/London"},
                    "totals": {"posts": 1}},
        "to_date": {"days": [{"date": "2017-06-12"}], "totals": {"posts": 3}},
        "pace": {"metric": "posts", "label": "#X", "baseline": 10, "cumulative": 3,
                 "progress": 0.3, "passed": False, "passed_on": None, "days_left": 2,
                 "days": [{"date": DAY}], "in_progress": True,
                 "needed_per_day": 3.5},
        "top_posts": [{"rank": 1, "username": "a<script>", "text":
                       '<img src="https://evil.example/x.png"> \u202e<script>alert(1)</script>',
                       "url": "javascript:alert(1)", "engagements": 5, "author_followers": 9}],
        "coverage": {"posts": 1},
    }  # fmt: skip
    path = tmp_path / f"daily-{DAY}.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    settings = Email.model_validate({"host": "127.0.0.1", "from": "a@b.org", "to": ["c@d.org"]})
    msg = digest_message(read_written_report(path), settings)
    page = part_of(msg, "text/html").get_content()
    assert "<script" not in page and '<img src="https://evil' not in page
    assert "javascript:" not in page and "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "T &lt;b&gt;" in page
    text = part_of(msg, "text/plain").get_content()
    assert "\u202e" not in text
    assert "To pass #X: 4 posts on each of the 2 days after Wed 14 Jun" in text


# --- email-test ------------------------------------------------------------------------------


def test_email_test_says_it_worked(plain_smtp, tmp_path, capsys) -> None:
    config = write_config(tmp_path / "hashmon.toml", plain_smtp.port)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    code, out, err = hashmon(capsys, "--config", str(config), "--database", db, "email-test")
    assert code == 0, err
    assert "it worked" in out
    [msg] = plain_smtp.received()
    assert msg["Subject"] == "hashmon e-mail test"
    assert sorted(plain_smtp.keeper.messages[0].rcpt_tos) == sorted(TEAM)


def test_email_test_with_an_untrusted_certificate_names_tls(tls_smtp, tmp_path, capsys) -> None:
    # verified by default: without tls_ca_file the throwaway CA is not trusted
    config = write_config(tmp_path / "hashmon.toml", tls_smtp.port, security="starttls")
    db = f"sqlite:///{tmp_path / 'h.db'}"
    code, out, err = hashmon(capsys, "--config", str(config), "--database", db, "email-test")
    assert code == 1
    assert err.count("\n") == 1
    assert f"127.0.0.1:{tls_smtp.port}: TLS failure" in err and "tls_ca_file" in err
    assert tls_smtp.keeper.messages == []


# --- failures: the files are written, one line, exit 1 ------------------------------------------


def _failing_daily(capsys, demo_db: str, config: Path, out_dir: Path) -> tuple[int, str, str]:
    code, out, err = hashmon(
        capsys, "--config", str(config), "--database", demo_db,
        "report", "daily", "--date", DAY, "--out", str(out_dir), "--email",
    )  # fmt: skip
    assert code == 1
    for suffix in (".json", ".html", ".pdf", ".xlsx"):
        assert (out_dir / f"daily-{DAY}{suffix}").is_file()
    assert err.count("\n") == 1 and err.startswith("Error: e-mail not sent via 127.0.0.1:")
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.slow
def test_server_down(demo_db, tmp_path, capsys) -> None:
    port = _free_port()  # nothing listens there
    config = write_config(tmp_path / "hashmon.toml", port)
    _, _, err = _failing_daily(capsys, demo_db, config, tmp_path / "r")
    assert f"127.0.0.1:{port}: connection failure" in err
    code, out, _ = hashmon(capsys, "--config", str(config), "--database", demo_db, "status")
    assert "e-mail FAILED" in out and "connection failure" in out


@pytest.mark.slow
def test_login_refused_never_shows_the_password(
    demo_db, tls_smtp, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("HASHMON_SMTP_PASSWORD", "wrong-" + PASSWORD)
    config = write_config(
        tmp_path / "hashmon.toml",
        tls_smtp.port,
        security="starttls",
        username=USER,
        tls_ca_file=str(tls_smtp.ca_file),
    )
    _, out, err = _failing_daily(capsys, demo_db, config, tmp_path / "r")
    assert "login failure" in err and "HASHMON_SMTP_PASSWORD" in err
    assert PASSWORD not in out + err
    assert tls_smtp.keeper.messages == []


@pytest.mark.slow
def test_recipient_refused(demo_db, plain_smtp, tmp_path, capsys) -> None:
    config = write_config(tmp_path / "hashmon.toml", plain_smtp.port, cc=[REFUSED])
    _, _, err = _failing_daily(capsys, demo_db, config, tmp_path / "r")
    assert "recipient refused" in err and REFUSED in err


def test_server_hanging_mid_data_times_out(demo_db, plain_smtp, tmp_path, capsys) -> None:
    plain_smtp.keeper.hang_seconds = 30
    config = write_config(tmp_path / "hashmon.toml", plain_smtp.port, timeout_seconds=1.0)
    _, _, err = _failing_daily(capsys, demo_db, config, tmp_path / "r")
    assert "timeout failure" in err


@pytest.mark.slow
def test_summary_with_its_pack_is_e_mailed_before_the_pack_is_written(
    demo_db, plain_smtp, tmp_path, capsys
) -> None:
    config = write_config(tmp_path / "hashmon.toml", plain_smtp.port)
    out_dir = tmp_path / "r"
    args = ["--config", str(config), "--database", demo_db, "report", "summary"]
    code, out, err = hashmon(capsys, *args, "--out", str(out_dir), "--email", "--pack")
    assert code == 0, err
    [msg] = plain_smtp.received()
    assert "week summary" in msg["Subject"]
    lines = out.splitlines()
    assert lines[-1] == f"pack:   {out_dir / 'summary-IMHAW17-pack.zip'}"
    assert lines[-2].startswith(f"e-mail sent via 127.0.0.1:{plain_smtp.port} to ")

    # a failed send stops before the pack, as when the two were written one after another
    port = _free_port()  # nothing listens there
    config = write_config(tmp_path / "down.toml", port)
    args = ["--config", str(config), "--database", demo_db, "report", "summary"]
    code, _, err = hashmon(capsys, *args, "--out", str(tmp_path / "d"), "--email", "--pack")
    assert code == 1 and err.startswith("Error: e-mail not sent via 127.0.0.1:")
    assert (tmp_path / "d" / "summary-IMHAW17.json").is_file()
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".")]  # work folder
    assert not (tmp_path / "d" / "summary-IMHAW17-pack.zip").exists()


def test_email_without_an_email_section_is_a_config_error_before_writing(
    demo_db, tmp_path, capsys
) -> None:
    config = tmp_path / "hashmon.toml"
    config.write_text('[source]\nkind = "simulated"\n', encoding="utf-8")
    code, _, err = hashmon(
        capsys, "--config", str(config), "--database", demo_db,
        "report", "daily", "--date", DAY, "--out", str(tmp_path / "r"), "--email",
    )  # fmt: skip
    assert code == 2 and "no [email] section" in err
    assert not (tmp_path / "r").exists()


# --- hashmon run: the scheduled digest, retried until the server takes it --------------------


def _settings(config: Path, db: str):
    from monitor.config import load_settings

    return load_settings(str(config), db)


def test_retry_pauses_double_and_stay_within_the_hour() -> None:
    from jobs.digests import retry_pauses

    pauses = retry_pauses()
    assert pauses[:4] == [60.0, 120.0, 240.0, 480.0]
    assert max(pauses) == 900.0 and sum(pauses) <= 3600.0
    assert sum(pauses) + 900.0 > 3600.0  # one more would pass the hour


def test_scheduled_digest_is_retried_until_the_server_is_back(demo_db, tmp_path) -> None:
    from jobs.digests import send_scheduled_digest
    from monitor.store.engine import make_engine
    from monitor.store.sends import sends_summary
    from reports.build import write_daily_report

    port = _free_port()
    config = write_config(tmp_path / "hashmon.toml", port)
    settings = _settings(config, demo_db)
    engine = make_engine(demo_db)
    written = write_daily_report(engine, settings, _day(), tmp_path / "r")
    keeper = Keeper()
    started: list[Controller] = []
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 2:  # the server comes back during the second pause
            controller = Controller(keeper, hostname="127.0.0.1", port=port)
            controller.start()
            started.append(controller)
        return False

    try:
        delivered = send_scheduled_digest(
            settings, engine, written, pauses=[1.0, 2.0, 4.0], wait=wait
        )
    finally:
        for controller in started:
            controller.stop()
    assert delivered is not None and waits == [1.0, 2.0]
    assert len(keeper.messages) == 1
    sends = sends_summary(engine)
    assert sends["last_digest"]["subject"] == delivered.subject
    assert [f["fault"] for f in sends["failed"]][:2] == ["connection", "connection"]
    engine.dispose()


def test_scheduled_digest_gives_up_and_returns_when_stopped(demo_db, tmp_path) -> None:
    import threading

    from jobs.digests import send_scheduled_digest
    from monitor.store.engine import make_engine

    config = write_config(tmp_path / "hashmon.toml", _free_port())
    settings = _settings(config, demo_db)
    engine = make_engine(demo_db)
    report_json = tmp_path / "r" / f"daily-{DAY}.json"
    from reports.build import write_daily_report

    write_daily_report(engine, settings, _day(), tmp_path / "r")
    stop = threading.Event()
    stop.set()
    assert send_scheduled_digest(settings, engine, [report_json], stop=stop) is None
    engine.dispose()


def _day():
    import datetime as dt

    return dt.date.fromisoformat(DAY)

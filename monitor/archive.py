"""Archive import: twarc2 JSONL (search pages, stream lines, flattened posts) and single
API v2 response files, either gzipped.

All files of one import are written in one transaction, each in a savepoint of its own:
a file that is refused stores nothing and is named, the other files are imported
(METRICS.md). What is recorded as imported is exactly what was read (``monitor.intake``
copies a pipe or stdin once and hashes what the reader reads). On PostgreSQL imports
take turns (an advisory lock), as the write transaction makes them do on SQLite.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, case, false, func, or_, select, text

from monitor import reader
from monitor.errors import ImportFileError
from monitor.intake import Digest, check_readable, readable_copy
from monitor.normalize import AuthorRecord, PageRecords, PostRecord
from monitor.settings import Campaign
from monitor.store.engine import writing
from monitor.store.runs import recorded_run
from monitor.store.schema import ImportedFile, Observation, Post
from monitor.store.writes import ImportWriter
from monitor.times import day_bounds_us, now_text


@dataclass
class FileResult:
    path: str
    pages: int = 0
    posts_seen: int = 0
    new: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)
    already_imported: bool = False
    empty: bool = False
    refused: str | None = None  # why the file was refused (one line naming it); None: taken


@dataclass
class CampaignShare:
    """How many of the posts an import delivered the campaign counts (issue 11.9)."""

    posts: int  # distinct posts sighted by the import
    matching: int  # match a campaign hashtag or account (METRICS.md "Matches")
    in_window: int  # created within the campaign's window
    both: int  # both: what the campaign's figures count as its posts
    terms: str  # the campaign's terms, as shown
    window: str  # the window, as shown


@dataclass
class ImportResult:
    files: list[FileResult]
    run_id: int | None = None
    campaign: CampaignShare | None = None

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.refused is not None]

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)


class _AlreadyImported(Exception):
    """Raised inside a file's import once its digest shows it was imported before."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block.

    An import allocates millions of short-lived containers (every parsed page) that form no
    cycles, and each allocation burst makes the collector walk every live object; paused,
    a million-post import ran ~10-25 % faster (docs/PERFORMANCE.md). Reference counting
    still frees every page as soon as it is stored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_IMPORT_LOCK = 1001_2018  # any constant: the advisory lock imports take turns on


def _take_turn(conn: Connection) -> None:
    """Wait for any other import's transaction to end (PostgreSQL; SQLite's write
    transaction already does this). Without it two imports of the same file both insert
    its digest (a duplicate key), and two overlapping files deadlock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK})


def _like(term: str) -> str:
    return "% " + term.replace("!", "!!").replace("%", "!%").replace("_", "!_") + " %"


def _campaign_share(
    conn: Connection, campaign: Campaign, run_id: int, after_seq: int
) -> CampaignShare:
    """Count, in SQL, the distinct posts this import sighted that the campaign counts.

    The import's sightings are its observations: those with a ``seq`` past the largest
    before it began and its run id (a collect pass may add its own meanwhile).
    """
    posts = Post.__table__
    p, o = posts.c, Observation.__table__.c
    sighted = (
        select(o.platform, o.post_id)
        .where(o.seq > after_seq, o.run_id == run_id)
        .distinct()
        .subquery()
    )
    conds = [p.hashtags.like(_like(t), escape="!") for t in campaign.hashtag_terms]
    conds += [p.mentions.like(_like(a), escape="!") for a in campaign.account_terms]
    matches = or_(*conds) if conds else false()
    lo, hi = day_bounds_us(campaign.start, campaign.end, campaign.tz)
    inside = (p.created_at_us >= lo) & (p.created_at_us < hi)
    one = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
    row = conn.execute(
        select(func.count(), one(matches), one(inside), one(matches & inside)).select_from(
            posts.join(sighted, (p.platform == sighted.c.platform) & (p.id == sighted.c.post_id))
        )
    ).one()
    terms = " ".join([f"#{t}" for t in campaign.hashtags] + [f"@{a}" for a in campaign.accounts])
    return CampaignShare(
        posts=row[0],
        matching=row[1],
        in_window=row[2],
        both=row[3],
        terms=terms.replace("##", "#").replace("@@", "@"),
        window=f"{campaign.start.isoformat()}..{campaign.end.isoformat()}",
    )


def import_files(
    engine: Engine,
    paths: Sequence[str | Path],
    *,
    skip_bad_lines: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    campaign: Campaign | None = None,
) -> ImportResult:
    """Import archive files in argument order and return what each delivered.

    One transaction, each file in a savepoint of its own. A file that is missing,
    unreadable, not JSON, not an API archive, or holds no posts (a users or counts
    archive) is refused: it stores nothing and its FileResult says why, naming file and
    line; the other files are imported. When every file is refused this raises the first
    one's ImportFileError and the database is left as it was. With ``skip_bad_lines`` a
    bad line is recorded in the result and the rest of the file is imported.
    ``progress`` is called as ``(path, bytes_total, bytes_advanced)``. With ``campaign``
    the result says how many of the posts sighted match its terms and fall in its window.
    """
    files = [Path(p) for p in paths]
    result = ImportResult(files=[])
    seen_at = now_text()
    what = f"import of {len(files)} file(s)"
    first_error: ImportFileError | None = None
    with (
        _gc_paused(),
        writing(engine) as conn,
        # in the import's one transaction: an import that takes no file leaves no run either
        recorded_run(conn, "import", what, started_at=seen_at) as run,
    ):
        _take_turn(conn)
        result.run_id = run.run_id
        o = Observation.__table__.c
        after_seq = conn.execute(select(func.coalesce(func.max(o.seq), 0))).scalar_one()
        writer = ImportWriter(conn, run_id=run.run_id, seen_at=seen_at)
        done_hashes: set[str] = set()

        def known(digest: str) -> bool:
            return digest in done_hashes or (
                conn.execute(
                    select(ImportedFile.sha256).where(ImportedFile.sha256 == digest)
                ).first()
                is not None
            )

        for path in files:
            try:
                check_readable(path)
                with readable_copy(path) as readable:
                    fr, digest = _import_file(
                        conn, writer, path, readable, known, skip_bad_lines, progress
                    )
            except ImportFileError as exc:
                first_error = first_error or exc
                result.files.append(FileResult(path=str(path), refused=str(exc)))
                continue
            result.files.append(fr)
            if digest is None:
                continue
            done_hashes.add(digest)
            conn.execute(
                ImportedFile.__table__.insert().values(
                    sha256=digest,
                    path=str(path),
                    run_id=run.run_id,
                    imported_at=seen_at,
                    pages=fr.pages,
                    posts=fr.posts_seen,
                )
            )
        if first_error is not None and len(result.refused) == len(files):
            raise first_error  # nothing taken: no run is recorded either
        writer.finish()
        run.pages = result.total("pages")
        run.posts_read = result.total("posts_seen")
        run.new = result.total("new")
        run.updated = result.total("updated")
        run.skipped = sum(len(f.skipped) for f in result.files)
        run.refused = len(result.refused)
        if campaign is not None:
            result.campaign = _campaign_share(conn, campaign, run.run_id, after_seq)
    return result


def _import_file(
    conn: Connection,
    writer: ImportWriter,
    path: Path,
    readable: Path,
    known: Callable[[str], bool],
    skip_bad_lines: bool,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[FileResult, str | None]:
    """Import one file; return what it delivered and its SHA-256 (None: imported before).

    ``path`` is the name the user gave (for messages), ``readable`` where its bytes are
    (itself, or a copy of a pipe's). The file is read while its digest is computed
    (``intake.Digest``), inside a savepoint: a file whose digest is ``known`` is rolled back to
    it, whenever that shows, and counts as already imported, even if a line of it would
    have been refused. A refused file is rolled back to it and its ImportFileError raised.
    """
    fr = FileResult(path=str(path))
    total_bytes = readable.stat().st_size
    tick = (lambda n: progress(str(path), total_bytes, n)) if progress else None
    if reader.read_in_child(readable):
        pages = reader.pages_in_child(readable, tick, name=str(path))
    else:
        pages = reader.pages(readable, tick)
    digest = Digest(readable, name=str(path))
    checked = False

    def check_digest() -> None:
        nonlocal checked
        if not checked and digest.ready:
            checked = True
            if known(digest.result()):
                raise _AlreadyImported

    savepoint = conn.begin_nested()
    try:
        with closing(pages):
            _import_one(writer, path, pages, fr, skip_bad_lines, check_digest)
        if not checked and known(digest.result()):
            raise _AlreadyImported
    except (_AlreadyImported, ImportFileError) as exc:
        # a refused file waits for its digest: the same bytes imported before are no error
        refused = not isinstance(exc, _AlreadyImported) and (checked or not known(digest.result()))
        savepoint.rollback()
        writer.forget()  # what it staged is gone with the savepoint
        if refused:
            raise
        return FileResult(path=str(path), already_imported=True), None
    except BaseException:
        digest.cancel()
        raise
    savepoint.commit()
    return fr, digest.result()


def _import_one(
    writer: ImportWriter,
    path: Path,
    pages: Iterator[tuple[int, PageRecords | str]],
    fr: FileResult,
    skip_bad_lines: bool,
    between_batches: Callable[[], None] = lambda: None,
) -> None:
    posts: list[PostRecord] = []
    authors: list[AuthorRecord] = []
    non_posts = 0
    first_non_post: tuple[int, str | None] | None = None
    lines = 0
    first_page: int | None = None  # the line of the first page, and whether any line
    api = False  # was an API response (or a flattened post)

    def flush() -> None:
        between_batches()
        new, updated = writer.write(posts, authors)
        fr.new += new
        fr.updated += updated
        posts.clear()
        authors.clear()

    for lineno, records in pages:
        lines += 1
        if isinstance(records, str):
            if not skip_bad_lines:
                raise ImportFileError(
                    str(path),
                    lineno,
                    records,
                    "fix it, or pass --skip-bad-lines to import the rest",
                )
            fr.skipped.append((lineno, records))
            continue
        fr.pages += 1
        api = api or records.api
        if first_page is None:
            first_page = lineno
        if records.non_posts:
            non_posts += records.non_posts
            if first_non_post is None:
                first_non_post = (lineno, records.non_post_kind)
        fr.posts_seen += len(records.posts)
        posts.extend(records.posts)
        authors.extend(records.authors)
        if len(posts) >= writer.batch_posts:
            flush()
    flush()
    if lines == 0:
        fr.empty = True
    if first_page is not None and not api:
        raise ImportFileError(
            str(path),
            first_page,
            "is not an X API archive (no line has data, meta, errors or includes)",
            "hashmon imports twarc2 files and saved API v2 responses",
        )
    if fr.posts_seen == 0 and first_non_post is not None:
        lineno, kind = first_non_post
        what = (
            f"holds {kind}, not posts" if kind else "holds no posts (its data items are not posts)"
        )
        raise ImportFileError(
            str(path),
            lineno,
            what,
            "hashmon imports post archives (twarc2 search or stream output)",
        )


def describe(result: ImportResult) -> list[str]:
    """Return the human summary lines of an import: one per file taken, a total, and
    what the campaign counts of it. Refused files are left to the caller (``refused``).
    """
    out = []
    taken = [f for f in result.files if f.refused is None]
    for f in taken:
        if f.already_imported:
            out.append(f"{f.path}: already imported (same contents); nothing changed")
            continue
        if f.empty:
            out.append(f"{f.path}: empty file; nothing imported")
            continue
        line = (
            f"{f.path}: {f.pages} pages, {f.posts_seen} posts seen, "
            f"{f.new} new, {f.updated} updated"
        )
        if f.skipped:
            where = ", ".join(str(n) for n, _ in f.skipped[:10])
            more = "" if len(f.skipped) <= 10 else f" and {len(f.skipped) - 10} more"
            line += f"; skipped {len(f.skipped)} bad line(s): {where}{more}"
        out.append(line)
    if len(taken) > 1:
        out.append(
            f"total: {result.total('pages')} pages, {result.total('posts_seen')} posts seen, "
            f"{result.total('new')} new, {result.total('updated')} updated"
        )
    if result.campaign is not None and result.campaign.posts:
        out.append(describe_share(result.campaign))
    return out


def describe_share(share: CampaignShare) -> str:
    """One line: how many posts of the import the campaign counts, or plainly none."""
    c, n = share, f"{share.posts:,}"
    head = f"campaign {c.terms}, {c.window}: "
    if c.both:
        return (
            head + f"{c.both:,} of the {n} posts imported match its terms and fall in its "
            f"window ({c.matching:,} match, {c.in_window:,} in the window)"
        )
    if not c.matching and not c.in_window:
        what = f"none of the {n} posts imported matches its terms and none falls in its window"
    elif not c.matching:
        what = f"none of the {n} posts imported matches its terms ({c.in_window:,} in the window)"
    elif not c.in_window:
        what = f"none of the {n} posts imported falls in its window ({c.matching:,} match)"
    else:
        what = (
            f"none of the {n} posts imported both matches its terms and falls in its window "
            f"({c.matching:,} match, {c.in_window:,} in the window)"
        )
    return head + what + "; its figures count none of them (check the archive and the config)"

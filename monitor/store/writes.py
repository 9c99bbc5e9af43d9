"""Writing sightings: batched upserts of posts, authors and observations, and imports.

Hot paths write through the DBAPI cursor with tuples (``exec_driver_sql``): no ORM
object per row (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from monitor.normalize import AuthorRecord, PostRecord
from monitor.store.schema import METRIC_COLUMNS

# The write path of every sighting (import, collect, refresh), measured in
# docs/PERFORMANCE.md. SQLite takes each statement once with ``executemany`` over tuples:
# an upsert applies sightings of the same post one after another, in order, as METRICS.md
# wants. PostgreSQL gets each batch's rows by COPY into temporary tables, then one upsert
# a table; one INSERT cannot touch a row twice, so posts and authors are first merged per
# key following the same rules.


def _placeholders(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


_POST_COLUMNS = PostRecord._fields
# hot loops index PostRecords by position (faster than attributes over a million rows):
# the five counts, and the sightings a merged row (merge_sightings) appends after all
_FIRST_COUNT = _POST_COLUMNS.index(METRIC_COLUMNS[0])
_COUNTS = tuple(range(_FIRST_COUNT, _FIRST_COUNT + len(METRIC_COLUMNS)))
_SIGHTINGS = len(_POST_COLUMNS)
assert tuple(_POST_COLUMNS[i] for i in _COUNTS) == METRIC_COLUMNS
assert _POST_COLUMNS[:2] == AuthorRecord._fields[:2] == ("platform", "id")  # the key
_POST_EXTRA = ("first_seen_at", "last_seen_at", "first_run_id", "sightings")
_OBSERVATION_COLUMNS = ("platform", "post_id", "run_id", "observed_at") + METRIC_COLUMNS
_AUTHOR_COLUMNS = AuthorRecord._fields + ("updated_at",)
# first-sighting fields are never touched again; a count missing from a later sighting is
# unknown, not zero, so it keeps the value it had
_COUNT_UPDATES = ", ".join(f"{c} = COALESCE(excluded.{c}, posts.{c})" for c in METRIC_COLUMNS)
# the retweeted post is content of the first sighting; a row stored before the column
# existed gains it when the retweet is seen again
_CONTENT_UPDATES = "retweeted_id = COALESCE(posts.retweeted_id, excluded.retweeted_id)"
_AUTHOR_UPDATES = (
    "username = COALESCE(excluded.username, authors.username), "
    "name = COALESCE(excluded.name, authors.name), "
    "followers_count = COALESCE(excluded.followers_count, authors.followers_count), "
    "verified = COALESCE(excluded.verified, authors.verified), "
    "updated_at = excluded.updated_at"
)
# PostgreSQL types of a batch's columns, for its staging tables
_PG_POST_TYPES = (
    "text", "text", "text", "bigint", "text", "text", "text", "text", "bigint",
    "bigint", "bigint", "bigint", "bigint", "bigint", "text", "integer",
)  # fmt: skip
_PG_AUTHOR_TYPES = ("text", "text", "text", "text", "bigint", "boolean")


def _upsert_posts_sql(conn: Connection) -> str:
    cols = _POST_COLUMNS + _POST_EXTRA
    return (
        f"INSERT INTO posts ({', '.join(cols)}) VALUES ({_placeholders(conn, len(cols))}) "
        f"ON CONFLICT (platform, id) DO UPDATE SET {_COUNT_UPDATES}, {_CONTENT_UPDATES}, "
        "last_seen_at = excluded.last_seen_at, sightings = posts.sightings + 1"
    )


def _upsert_authors_sql(conn: Connection) -> str:
    return (
        f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) "
        f"VALUES ({_placeholders(conn, len(_AUTHOR_COLUMNS))}) "
        f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}"
    )


def _insert_observations_sql(conn: Connection) -> str:
    return (
        f"INSERT INTO observations ({', '.join(_OBSERVATION_COLUMNS)}) "
        f"VALUES ({_placeholders(conn, len(_OBSERVATION_COLUMNS))})"
    )


def _pg_stage(name: str, columns: Sequence[str], types: Sequence[str]) -> str:
    cols = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    # temporary: per session, never logged; emptied at commit, and before each batch
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({cols}) ON COMMIT DELETE ROWS"


_PG_STAGE_POSTS = _pg_stage("hashmon_stage_posts", (*_POST_COLUMNS, "n"), _PG_POST_TYPES)
_PG_STAGE_AUTHORS = _pg_stage("hashmon_stage_authors", AuthorRecord._fields, _PG_AUTHOR_TYPES)
_PG_UPSERT_POSTS = (
    f"INSERT INTO posts ({', '.join(_POST_COLUMNS + _POST_EXTRA)}) "
    f"SELECT {', '.join(_POST_COLUMNS)}, %s, %s, %s, n FROM hashmon_stage_posts "
    f"ON CONFLICT (platform, id) DO UPDATE SET {_COUNT_UPDATES}, {_CONTENT_UPDATES}, "
    "last_seen_at = excluded.last_seen_at, sightings = posts.sightings + excluded.sightings "
    "RETURNING platform, id, sightings"
)
_PG_UPSERT_AUTHORS = (
    f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) "
    f"SELECT {', '.join(AuthorRecord._fields)}, %s FROM hashmon_stage_authors "
    f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}"
)
# COPY stores rows in the order sent, so ``seq`` numbers sightings in the order made
_PG_COPY_OBSERVATIONS = f"COPY observations ({', '.join(_OBSERVATION_COLUMNS)}) FROM STDIN"


def merge_sightings(posts: Sequence[PostRecord]) -> dict[tuple[str, str], list[Any]]:
    """Return one row per post of a batch, as the batch's sightings in order would leave it.

    Row: the PostRecord's columns, then the number of sightings. Content and
    ``author_followers`` come from the post's first sighting in the batch, each count
    from the latest sighting that reports it (None: none did), as METRICS.md rules.
    """
    merged: dict[tuple[str, str], list[Any]] = {}
    for p in posts:
        key = (p[0], p[1])
        row = merged.get(key)
        if row is None:
            merged[key] = [*p, 1]
            continue
        for i in _COUNTS:
            if p[i] is not None:
                row[i] = p[i]
        row[_SIGHTINGS] += 1
    return merged


def _merged_authors(authors: Sequence[AuthorRecord]) -> dict[tuple[str, str], list[Any]]:
    merged: dict[tuple[str, str], list[Any]] = {}
    for a in authors:
        key = (a[0], a[1])
        row = merged.get(key)
        if row is None:
            merged[key] = list(a)
            continue
        for i in range(2, len(a)):
            if a[i] is not None:
                row[i] = a[i]
    return merged


def merge_authors(authors: Sequence[AuthorRecord]) -> list[list[Any]]:
    """Return one row per author, each field as last seen (None: never seen), sorted by key.

    The same as upserting the records in order, with fewer rows; in key order, so the
    b-tree is walked forward instead of at random.
    """
    merged = _merged_authors(authors)
    return [merged[k] for k in sorted(merged)]


def store_batch(
    conn: Connection,
    posts: Sequence[PostRecord],
    authors: Sequence[AuthorRecord],
    *,
    run_id: int | None,
    seen_at: str,
) -> tuple[int, int]:
    """Upsert one batch of sightings in order; return (new posts, already-stored posts seen).

    Sightings are applied in the order given, so the latest one's counts win; each is also
    one observation. A post seen twice in the batch and not stored before counts once as
    new and once as already stored. The caller owns the transaction.
    """
    if not posts and not authors:
        return 0, 0
    if conn.dialect.name == "postgresql":
        return _store_batch_pg(conn, posts, authors, run_id=run_id, seen_at=seen_at)
    new = 0
    if posts:
        # rowids of new rows are larger than any before them, and this transaction is the
        # only writer (BEGIN IMMEDIATE): counting them replaces a lookup of every id
        before = conn.exec_driver_sql("SELECT MAX(rowid) FROM posts").scalar() or 0
        conn.exec_driver_sql(
            _upsert_posts_sql(conn), [(*p, seen_at, seen_at, run_id, 1) for p in posts]
        )
        new = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM posts WHERE rowid > ?", (before,)
        ).scalar_one()
        conn.exec_driver_sql(
            _insert_observations_sql(conn),
            # the key and the five counts (_COUNTS), by position: the hot path
            [(p[0], p[1], run_id, seen_at, p[9], p[10], p[11], p[12], p[13]) for p in posts],
        )
    if authors:
        conn.exec_driver_sql(
            _upsert_authors_sql(conn), [(*a, seen_at) for a in merge_authors(authors)]
        )
    return new, len(posts) - new


def _store_batch_pg(
    conn: Connection,
    posts: Sequence[PostRecord],
    authors: Sequence[AuthorRecord],
    *,
    run_id: int | None,
    seen_at: str,
) -> tuple[int, int]:
    """store_batch on PostgreSQL: rows by COPY, one upsert statement a table.

    COPY (psycopg's C row writer) into temporary tables, then ``INSERT .. SELECT .. ON
    CONFLICT`` from them: a 1M-post import ran at ~12k posts/s with a statement per row's
    arrays, and COPY sends the same rows for a fraction of the client's time.
    """
    new = 0
    raw = conn.connection.driver_connection  # COPY is psycopg's, not the DBAPI's
    try:
        with raw.cursor() as cur:
            if posts:
                merged = merge_sightings(posts)
                cur.execute(_PG_STAGE_POSTS)
                cur.execute("TRUNCATE hashmon_stage_posts")
                with cur.copy("COPY hashmon_stage_posts FROM STDIN") as copy:
                    for row in merged.values():
                        copy.write_row(row)
                cur.execute(_PG_UPSERT_POSTS, (seen_at, seen_at, run_id))
                # a row inserted now holds exactly this batch's sightings; one stored before
                # holds more (sightings start at 1), so RETURNING tells new from updated
                new = sum(1 for p, i, n in cur.fetchall() if merged[(p, i)][_SIGHTINGS] == n)
                with cur.copy(_PG_COPY_OBSERVATIONS) as copy:
                    for p in posts:
                        copy.write_row(
                            (p[0], p[1], run_id, seen_at, p[9], p[10], p[11], p[12], p[13])
                        )
            if authors:
                cur.execute(_PG_STAGE_AUTHORS)
                cur.execute("TRUNCATE hashmon_stage_authors")
                with cur.copy("COPY hashmon_stage_authors FROM STDIN") as copy:
                    for row in merge_authors(authors):
                        copy.write_row(row)
                cur.execute(_PG_UPSERT_AUTHORS, (seen_at,))
    except conn.dialect.loaded_dbapi.Error as exc:
        # the same error SQLAlchemy would raise, so callers see one kind of failure
        raise sa_exc.DBAPIError.instance(
            None, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    return new, len(posts) - new


class ImportWriter:
    """Writes the batches of one long write transaction (an import): store_batch, faster.

    Posts and observations go in batch by batch, as store_batch writes them. On SQLite,
    author sightings are appended to a temporary table instead, and ``finish`` applies
    them all in one statement, sorted by key and then by the order they were seen: the
    same rows as upserting them in order, without a seek to a random key per sighting,
    which cost a fifth of a million-post import (docs/PERFORMANCE.md). On PostgreSQL each
    batch is store_batch. Call ``finish`` before the transaction commits.
    """

    _STAGE = "temp.hashmon_author_sightings"
    REMEMBER_AUTHORS = 50_000  # last staged sighting of the most recent authors (~15 MB)

    def __init__(self, conn: Connection, *, run_id: int | None, seen_at: str) -> None:
        self.conn = conn
        self.run_id = run_id
        self.seen_at = seen_at
        self.staging = conn.dialect.name == "sqlite"
        # sightings a batch: SQLite gained nothing past 2,000; PostgreSQL pays a round trip
        # a statement: a 1M-post import took 31 s at 10,000, 28.6 s at 25,000, 25.8 s at
        # 50,000 (but 146 MB peak RSS); 40,000 keeps it under ~135 MB
        self.batch_posts = 2_000 if self.staging else 40_000
        self._last_staged: OrderedDict[tuple[str, str], AuthorRecord] = OrderedDict()
        if self.staging:
            # temp tables belong to the connection, so clear what a failed import left
            conn.exec_driver_sql(
                "CREATE TEMP TABLE IF NOT EXISTS hashmon_author_sightings "
                "(platform TEXT, id TEXT, username TEXT, name TEXT, followers_count INTEGER, "
                "verified BOOLEAN)"
            )
            conn.exec_driver_sql(f"DELETE FROM {self._STAGE}")

    def write(
        self, posts: Sequence[PostRecord], authors: Sequence[AuthorRecord]
    ) -> tuple[int, int]:
        """Store one batch of sightings in order; return (new posts, already-stored posts seen)."""
        if not self.staging:
            return store_batch(self.conn, posts, authors, run_id=self.run_id, seen_at=self.seen_at)
        new, updated = store_batch(self.conn, posts, (), run_id=self.run_id, seen_at=self.seen_at)
        if authors:
            # a sighting equal to the last one staged for its author changes nothing (each
            # field is COALESCEd): active authors repeat, so most repeats need no row
            last = self._last_staged
            rows = []
            for a in authors:
                key = (a[0], a[1])
                if last.get(key) == a:
                    continue
                last[key] = a
                last.move_to_end(key)  # the least recently staged are forgotten first
                rows.append(tuple(a))  # plain tuples bind faster than NamedTuples
            while len(last) > self.REMEMBER_AUTHORS:
                last.popitem(last=False)
            if rows:
                # rowid keeps the order seen (merging a batch first saved 2 % of the rows
                # and cost more than it saved)
                marks = ", ".join("?" * len(AuthorRecord._fields))
                self.conn.exec_driver_sql(f"INSERT INTO {self._STAGE} VALUES ({marks})", rows)
        return new, updated

    def forget(self) -> None:
        """Forget what was staged: call after rolling back to a savepoint within the import."""
        self._last_staged.clear()

    def finish(self) -> None:
        """Apply the staged author sightings (SQLite); nothing to do on PostgreSQL."""
        if not self.staging:
            return
        cols = ", ".join(AuthorRecord._fields)
        # WHERE true: SQLite's grammar wants it between an INSERT's SELECT and ON CONFLICT
        self.conn.exec_driver_sql(
            f"INSERT INTO authors ({cols}, updated_at) "
            f"SELECT {cols}, ? FROM {self._STAGE} WHERE true ORDER BY platform, id, rowid "
            f"ON CONFLICT (platform, id) DO UPDATE SET {_AUTHOR_UPDATES}",
            (self.seen_at,),
        )
        self.conn.exec_driver_sql(f"DROP TABLE {self._STAGE}")
        self.staging = False


def record_reads(conn: Connection, posts: Sequence[PostRecord], seen_at: str) -> None:
    """Add one read per post of an API page to ``post_reads`` on the UTC day of ``seen_at``.

    Imports are not API reads and do not call this. The caller owns the transaction (the
    page's own), so a page's reads are recorded exactly when its posts are.
    """
    if not posts:
        return
    day = seen_at[:10]  # utc_text: "YYYY-MM-DDTHH:MM:SS...", the day in UTC
    counts = Counter((p[0], p[1]) for p in posts)
    # one row a key (PostgreSQL's upsert may not touch a row twice), in key order
    rows = [
        {"platform": k[0], "post_id": k[1], "day": day, "n": n} for k, n in sorted(counts.items())
    ]
    conn.execute(
        text(
            "INSERT INTO post_reads (platform, post_id, read_day, reads) "
            "VALUES (:platform, :post_id, :day, :n) "
            "ON CONFLICT (platform, post_id, read_day) "
            "DO UPDATE SET reads = post_reads.reads + excluded.reads"
        ),
        rows,
    )


def stored_counts(conn: Connection) -> dict[str, int]:
    """Return stored posts and the distinct authors of stored posts (METRICS.md ``stored``).

    Every post's author has a row in ``authors`` (``normalize`` gives one even when the
    page carried no user object) and posts are never deleted, so counting that table
    equals COUNT(DISTINCT author_id) over posts, without a sort of every post.
    """
    posts = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    authors = conn.execute(text("SELECT COUNT(*) FROM authors")).scalar_one()
    return {"posts": int(posts), "authors": int(authors)}

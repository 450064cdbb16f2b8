"""Hash chains of the audit trail and the access log, one pair per municipality.

A row's hash is SHA-256 over the previous row's hash, a newline and the row's canonical
serialisation: a JSON array of its fields in a fixed order, UTF-8, elements separated by ", " and
strings escaped as JSON requires (exactly the text PostgreSQL's json_build_array gives), the time as
integer microseconds since 1970-01-01 UTC. The array names the municipality and the position, so a
row moved to another town or to another place breaks the chain as surely as an edited one.

Appending locks the chain's head row (`select_for_update`), so two writers in the same municipality
take turns and never fork the chain; the unique (municipality, seq) constraint backs this up.
On PostgreSQL the database recomputes every hash in one pass (sha256, json_build_array, window
functions) and returns only the rows that fail; elsewhere the rows are read in keyset batches and
hashed here, a long chain in an SQLite file by one process a core (`_verify_in_segments`). Both
implement the same serialisation, and the tests hold them to it.
"""

import datetime
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, connection, transaction

from .models import GENESIS, AccessLog, AuditEvent, ChainHead, Log

FORMAT_VERSION = 1
MAX_PROBLEMS = 100
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)


def _time(at: datetime.datetime) -> int:
    return (at - EPOCH) // MICROSECOND


@dataclass(frozen=True)
class ChainSpec:
    log: str
    model: type
    columns: tuple[str, ...]  # serialised in this order, after the format version and the log name

    @property
    def at_index(self) -> int:
        return self.columns.index("at")


AUDIT = ChainSpec(Log.AUDIT, AuditEvent,
                  ("municipality_id", "seq", "at", "actor_id", "actor_name", "action", "target_type", "target_id",
                   "target_label", "resident_id", "before", "after", "ip_address"))
ACCESS = ChainSpec(Log.ACCESS, AccessLog,
                   ("municipality_id", "seq", "at", "staff_id", "action", "request_id", "resident_id", "ip_address"))
CHAINS = {Log.AUDIT: AUDIT, Log.ACCESS: ACCESS}


def _not_serialisable(value):
    raise TypeError(f"{type(value).__name__} in a chained row")


# The C encoder behind json.dumps, called directly: verification encodes a million rows.
_encode_chunks = (json.encoder.c_make_encoder(None, _not_serialisable, json.encoder.c_encode_basestring, None,
                                              ": ", ", ", False, False, True)
                  if json.encoder.c_make_encoder and json.encoder.c_encode_basestring else None)


def _encode(values: tuple) -> str:
    if _encode_chunks is None:
        return json.dumps(values, ensure_ascii=False, separators=(", ", ": "))
    return "".join(_encode_chunks(values, 0))


def serialise(spec: ChainSpec, values: tuple | list) -> tuple:
    """The canonical field tuple of a row given as values in `spec.columns` order."""
    out = [FORMAT_VERSION, spec.log, *values]
    i = spec.at_index + 2
    out[i] = _time(out[i])
    return tuple(out)


def row_hash(prev_hash: str, fields: tuple) -> str:
    return hashlib.sha256(f"{prev_hash}\n{_encode(fields)}".encode()).hexdigest()


def canonical_json(value) -> str:
    """before/after values as stored and hashed ("" for none)."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _locked_head(municipality_id: int | None, log: str) -> ChainHead:
    heads = ChainHead.objects.select_for_update()
    head = heads.filter(municipality_id=municipality_id, log=log).first()
    if head is None:
        try:
            with transaction.atomic():
                ChainHead.objects.create(municipality_id=municipality_id, log=log)
        except IntegrityError:  # another writer created it first
            pass
        head = heads.get(municipality_id=municipality_id, log=log)
    return head


def append(spec: ChainSpec, **values):
    """Insert one row at the end of its municipality's chain. Runs in (or opens) a transaction."""
    with transaction.atomic():
        head = _locked_head(values.get("municipality_id"), spec.log)
        values["seq"] = head.seq + 1
        digest = row_hash(head.hash, serialise(spec, [values.get(c) for c in spec.columns]))
        obj = spec.model.objects.create(prev_hash=head.hash, hash=digest, **values)
        ChainHead.objects.filter(pk=head.pk, municipality_id=head.municipality_id).update(
            seq=values["seq"], hash=digest)
        return obj


# --- verification --------------------------------------------------------------------------------

@dataclass
class Problem:
    seq: int
    code: str  # missing, altered, broken_link, head_mismatch, checkpoint_*

    def __str__(self) -> str:
        return f"#{self.seq} {self.code}"


@dataclass
class ChainReport:
    log: str
    municipality_id: int | None
    rows: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, seq: int, code: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, code))


def verify_rows(spec: ChainSpec, rows: Iterable[tuple], base_seq: int, base_hash: str,
                report: ChainReport) -> None:
    """Walk (prev_hash, hash, *columns) rows in seq order, the time as epoch microseconds. A gap is
    a deleted row, a seq out of order a reordering, a hash that does not match the content an
    altered row, and a prev_hash that does not name the previous row's hash a row replaced,
    inserted or moved."""
    segment = _walk(spec, rows, base_seq + 1, base_hash, report.add)
    report.rows = segment.rows
    report.first_seq = base_seq + 1
    report.last_seq = segment.last_seq if segment.rows else base_seq
    report.last_hash = segment.last_hash if segment.rows else base_hash


@dataclass
class Segment:
    """What walking a run of rows found: its first row's seq and prev_hash (checked against the run
    before it by whoever joins the runs), its last row's seq and hash, and the problems."""

    rows: int = 0
    first_seq: int = 0
    first_prev: str = ""
    last_seq: int = 0
    last_hash: str = ""
    problems: list[Problem] = field(default_factory=list)


def _walk(spec: ChainSpec, rows: Iterable[tuple], expected: int | None, prev: str | None, add) -> Segment:
    """The checks of `verify_rows` over `rows`. With `expected` and `prev` None the first row's
    position and link are left to the caller (a segment verified apart, `_verify_in_segments`);
    every other row is checked against the row before it, and every row's hash against its content."""
    seq_index = spec.columns.index("seq") + 2
    lead = (FORMAT_VERSION, spec.log)
    encode, sha256 = _encode, hashlib.sha256
    segment = Segment()
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return segment
    segment.first_seq, segment.first_prev = first[seq_index], first[0]
    if expected is None:
        expected, prev = first[seq_index], first[0]
    count = 0
    for row in itertools.chain((first,), rows):
        count += 1
        seq = row[seq_index]
        if seq != expected:
            add(expected if seq > expected else seq, "missing" if seq > expected else "reordered")
        if row[0] != prev:
            add(seq, "broken_link")
        if sha256(f"{row[0]}\n{encode(lead + row[2:])}".encode()).hexdigest() != row[1]:
            add(seq, "altered")
        prev, expected = row[1], seq + 1
    segment.rows, segment.last_seq, segment.last_hash = count, expected - 1, prev
    return segment


def _epoch_microseconds_sql(column: str) -> str:
    """`column` as integer microseconds since the epoch, computed by the database: PostgreSQL's
    timestamptz, or the UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]") Django stores in SQLite."""
    if connection.vendor == "postgresql":
        return f"(extract(epoch from {column}) * 1000000)::bigint"
    # Whole seconds from the text without its fraction: SQLite rounds a fraction to milliseconds
    # first, so .9995 s and later would roll over into the next second.
    return (f"(CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER) * 1000000 "
            f"+ CAST(substr({column} || '.000000', 21, 6) AS INTEGER))")


def _select_sql(spec: ChainSpec, municipality_id: int | None, batch: int, *, bounded: bool = False) -> str:
    """One keyset batch of the chain's rows in seq order: parameters (the municipality unless
    None), the seq to start after and, `bounded`, the last seq to include."""
    quote = connection.ops.quote_name
    columns = ", ".join(_epoch_microseconds_sql(quote(c)) if c == "at" else quote(c)
                        for c in ("prev_hash", "hash", *spec.columns))
    scope = "municipality_id IS NULL" if municipality_id is None else "municipality_id = %s"
    upper = " AND seq <= %s" if bounded else ""
    return (f"SELECT {columns} FROM {quote(spec.model._meta.db_table)} WHERE {scope} AND seq > %s{upper} "
            f"ORDER BY seq LIMIT {int(batch)}")


def _keyset(cursor, sql: str, spec: ChainSpec, municipality_id: int | None, batch: int, after: int = -1,
            through: int | None = None) -> Iterable[tuple]:
    """The rows `_select_sql` selects, batch after batch straight from the cursor (the ORM's per-row
    conversions would cost more than the hashing)."""
    scope = [] if municipality_id is None else [municipality_id]
    bound = [] if through is None else [through]
    seq_index = spec.columns.index("seq") + 2
    last = after
    while True:
        cursor.execute(sql, [*scope, last, *bound])
        rows = cursor.fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][seq_index]
        if len(rows) < batch:
            return


def _batches(spec: ChainSpec, municipality_id: int | None, batch: int) -> Iterable[tuple]:
    """The chain's rows in seq order, in keyset-paginated batches."""
    with connection.cursor() as cursor:
        yield from _keyset(cursor, _select_sql(spec, municipality_id, batch), spec, municipality_id, batch)


# --- verifying in parallel (SQLite) ----------------------------------------------------------------
# On the embedded database the rows are hashed here, one core's worth. A long chain is cut into seq
# ranges up to the head, each walked by a process of its own on its own read-only connection; the
# joins (each range's first row against the last row of the range before it) are checked here and
# the rows after the head are walked here, in this snapshot. The processes read the database a
# moment after this snapshot, so anything they or the joins find makes the whole chain be walked
# again here: every problem reported was seen in the one snapshot, as `verify_chain` promises.

PARALLEL_MIN_ROWS = 200_000
MAX_WORKERS = 8
_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")


def _parallel_workers() -> int:
    """One process a core, from a process that may fork: a command or the scheduler's own run, not
    a threaded server or worker (a child forked from one may inherit a lock another thread held)."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, MAX_WORKERS)


def _database_file() -> str | None:
    """The SQLite file other processes can open, or None (another database, or one in memory)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return None
    return str(connection.settings_dict["NAME"])


def _walk_range(job: tuple) -> Segment:
    """In a worker process: walk the rows with seq in (after, through] of one chain."""
    database, log, sql, municipality_id, after, through, batch = job
    spec = CHAINS[log]
    # The rows are acyclic: no collection is needed in this short-lived process, and one would touch
    # (and so copy) every page inherited from the parent.
    gc.disable()
    problems: list[Problem] = []

    def add(seq: int, code: str) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(seq, code))

    db = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = _keyset(db.cursor(), sql, spec, municipality_id, batch, after, through)
        segment = _walk(spec, rows, None, None, add)
    finally:
        db.close()
    segment.problems = problems
    return segment


def _verify_in_segments(spec: ChainSpec, municipality_id: int | None, head: ChainHead, report: ChainReport,
                        *, workers: int, batch: int, database: str) -> bool:
    """Fill `report` from `workers` processes and the rows after the head; False (and `report` left
    to be refilled) when anything did not verify."""
    base, last = head.base_seq, head.seq
    edges = [base + (last - base) * i // workers for i in range(workers + 1)]
    edges[0] = -1  # rows below the base, if any, are the first range's (and fail its join)
    # The worker's connection takes qmark parameters and a literal % (Django's cursor takes %s and %%).
    sql = _FORMAT_PLACEHOLDER.sub("?", _select_sql(spec, municipality_id, batch, bounded=True)).replace("%%", "%")
    jobs = [(database, spec.log, sql, municipality_id, after, through, batch)
            for after, through in zip(edges, edges[1:], strict=False)]
    gc.freeze()  # the parent's objects out of the children's collections (copy-on-write stays shared)
    try:
        pool = multiprocessing.get_context("fork").Pool(len(jobs))
    finally:
        gc.unfreeze()
    with pool:
        segments = pool.map(_walk_range, jobs, chunksize=1)
    expected, prev, rows = base + 1, head.base_hash, 0
    for segment in segments:
        if not segment.rows:
            continue  # a range emptied: the next join, or the head, fails
        if segment.problems or segment.first_seq != expected or segment.first_prev != prev:
            return False
        expected, prev, rows = segment.last_seq + 1, segment.last_hash, rows + segment.rows
    with connection.cursor() as cursor:
        tail_rows = _keyset(cursor, _select_sql(spec, municipality_id, batch), spec, municipality_id, batch, last)
        tail = _walk(spec, tail_rows, expected, prev, report.add)
    if report.problems:
        return False
    report.rows = rows + tail.rows
    report.first_seq = base + 1
    report.last_seq = tail.last_seq if tail.rows else expected - 1
    report.last_hash = tail.last_hash if tail.rows else prev
    return True


def _verify_in_database(spec: ChainSpec, municipality_id: int | None, base_seq: int, base_hash: str,
                        report: ChainReport) -> None:
    """PostgreSQL recomputes each row's hash and link; only failing rows come back."""
    quote = connection.ops.quote_name
    values = ", ".join(_epoch_microseconds_sql(quote(c)) if c == "at" else quote(c) for c in spec.columns)
    scope = "municipality_id IS NULL" if municipality_id is None else "municipality_id = %s"
    scope_params = [] if municipality_id is None else [municipality_id]
    table = quote(spec.model._meta.db_table)
    sql = f"""
        WITH c AS (
          SELECT seq, prev_hash, hash,
                 encode(pg_catalog.sha256(convert_to(prev_hash || E'\\n'
                        || json_build_array({FORMAT_VERSION}, %s, {values})::text, 'UTF8')), 'hex') AS computed,
                 lag(seq) OVER w AS before_seq, lag(hash) OVER w AS before_hash
          FROM {table} WHERE {scope} WINDOW w AS (ORDER BY seq))
        SELECT seq, prev_hash, hash, computed, coalesce(before_seq, %s) + 1, coalesce(before_hash, %s) FROM c
        WHERE computed <> hash OR seq <> coalesce(before_seq, %s) + 1 OR prev_hash <> coalesce(before_hash, %s)
        ORDER BY seq LIMIT {MAX_PROBLEMS}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [spec.log, *scope_params, base_seq, base_hash, base_seq, base_hash])
        for seq, prev_hash, digest, computed, expected, previous in cursor.fetchall():
            if seq != expected:
                report.add(expected if seq > expected else seq, "missing" if seq > expected else "reordered")
            if prev_hash != previous:
                report.add(seq, "broken_link")
            if computed != digest:
                report.add(seq, "altered")
        cursor.execute(f"SELECT count(*), max(seq) FROM {table} WHERE {scope}", scope_params)
        count, last_seq = cursor.fetchone()
        cursor.execute(f"SELECT hash FROM {table} WHERE {scope} ORDER BY seq DESC LIMIT 1", scope_params)
        last = cursor.fetchone()
    report.rows = count
    report.first_seq = base_seq + 1
    report.last_seq = last_seq if last_seq is not None else base_seq
    report.last_hash = last[0] if last else base_hash


def verify_chain(log: str, municipality_id: int | None, *, in_python: bool = False,
                 batch: int = 20_000, workers: int | None = None) -> ChainReport:
    """Verify one chain, and that its head names its last row (rows cut from the end, or rows
    added behind the writers' back, show there). Head and rows are read in one snapshot.
    `in_python` hashes here even on PostgreSQL (the tests compare both ways). A chain of
    PARALLEL_MIN_ROWS or more in an SQLite file is hashed by `workers` processes (default: one a
    core in a single-threaded process, else 1), see `_verify_in_segments`."""
    spec = CHAINS[log]
    report = ChainReport(log, municipality_id)
    outermost = not connection.in_atomic_block
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic():
        if outermost and postgresql:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        head = ChainHead.objects.filter(municipality_id=municipality_id, log=log).first()
        if head is None:
            head = ChainHead(municipality_id=municipality_id, log=log)
        if postgresql and not in_python:
            _verify_in_database(spec, municipality_id, head.base_seq, head.base_hash, report)
        else:
            workers = _parallel_workers() if workers is None else workers
            database = _database_file()
            if not (workers > 1 and database and head.seq - head.base_seq >= PARALLEL_MIN_ROWS
                    and _verify_in_segments(spec, municipality_id, head, report, workers=workers, batch=batch,
                                            database=database)):
                report = ChainReport(log, municipality_id)
                verify_rows(spec, _batches(spec, municipality_id, batch), head.base_seq, head.base_hash, report)
    if (head.seq, head.hash) != (report.last_seq, report.last_hash):
        report.add(max(head.seq, report.last_seq), "head_mismatch")
    return report

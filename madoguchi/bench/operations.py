"""Benchmarks of the operations area (`make bench`).

    BENCH audit_verify <rows/s> rows/s      verifying a 1,000,000-row audit chain (target ≥ 200,000)
    BENCH stats_dashboard <ms> ms           p95 of 200 statistics page loads on PostgreSQL (≤ 300)
    BENCH stats_rebuild <s> s               rebuilding the large municipality's aggregates

The audit chain is generated in Python (the hashes must be real) and loaded with COPY on
PostgreSQL or one executemany on SQLite; it is verified where `make bench` runs (SQLite by default,
hashed in Python; on PostgreSQL the database hashes). The statistics figures, and `audit_verify_pg`,
always run on the local PostgreSQL server, in a process of their own (`_operations_pg`), on a
database kept between runs.
"""

import datetime
import os
import subprocess
import sys
import time

AUDIT_ROWS = int(os.environ.get("MADOGUCHI_BENCH_AUDIT_ROWS", "1000000"))


def _load_audit_chain(municipality, rows: int) -> None:
    from django.db import connection, transaction

    from madoguchi.operations.chain import AUDIT, row_hash, serialise
    from madoguchi.operations.models import GENESIS, AuditEvent, ChainHead, Log

    columns = ["prev_hash", "hash", *AUDIT.columns]
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    prev = GENESIS
    adapt = connection.ops.adapt_datetimefield_value

    def generate():
        nonlocal prev
        for seq in range(1, rows + 1):
            at = start + datetime.timedelta(milliseconds=seq * 37)
            values = [municipality.pk, seq, at, None, "bench-auditor", "log_searched", "", "", "", None, "",
                      '{"log":"audit","rows":200}', f"192.0.2.{seq % 250 + 1}"]
            digest = row_hash(prev, serialise(AUDIT, values))
            values[2] = adapt(at)
            yield (prev, digest, *values)
            prev = digest

    table = AuditEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in generate():
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", generate())
        ChainHead.objects.create(municipality=municipality, log=Log.AUDIT, seq=rows, hash=prev)


def audit_verify(report) -> None:
    from madoguchi.operations.chain import verify_chain
    from madoguchi.operations.models import Log
    from madoguchi.tenancy.models import Municipality

    municipality = Municipality.objects.create(code="139998", name="窓口市", prefecture="東京都",
                                               certifier_title="窓口市長", certifier_name="窓口 一郎")
    _load_audit_chain(municipality, AUDIT_ROWS)
    started = time.perf_counter()
    result = verify_chain(Log.AUDIT, municipality.pk)
    elapsed = time.perf_counter() - started
    assert result.ok and result.rows == AUDIT_ROWS, result.problems[:5]
    report("audit_verify", AUDIT_ROWS / elapsed, "rows/s")


def run(report) -> None:
    audit_verify(report)
    # The statistics figures are defined on PostgreSQL: their own process, their own database.
    url = os.environ.get("MADOGUCHI_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/madoguchi_bench_stats")
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="madoguchi.settings")
    completed = subprocess.run([sys.executable, "-m", "madoguchi.bench._operations_pg"], env=env)
    if completed.returncode:
        raise SystemExit(completed.returncode)

"""Encrypted PostgreSQL backups and verified restores (`manage.py backup`, `manage.py restore`).

A backup is one file: the master key's AES-GCM stream (core.crypto.encrypt_stream) over a manifest
and a `pg_dump --format=custom` of the database. The manifest holds the row count of every table,
counted in the very snapshot pg_dump reads, and the applied migrations; a restore with --verify
compares the restored database against it and decrypts every secret in it (staff TOTP secrets with
the master key, document-signing keys with MADOGUCHI_DOCUMENT_SIGNING_SECRET), so a drill proves the
backup and the keys kept apart from it are enough to run again. The file holds personal data
(the replica): keep it as the municipality's security policy requires; without the master key it is
unreadable. Secrets inside the dump are encrypted twice (in their columns and in the file).
"""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from madoguchi.core import crypto

ASSOCIATED_DATA = "madoguchi-backup-v1"


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """How to reach one PostgreSQL database: a conninfo for psycopg and environment for pg_* tools."""

    dbname: str
    user: str
    password: str
    host: str
    port: str

    @classmethod
    def from_settings(cls, alias: str = "default") -> "Target":
        db = settings.DATABASES[alias]
        if "postgresql" not in db["ENGINE"]:
            raise BackupError("backup and restore work with PostgreSQL; with SQLite copy the database file "
                              "with `sqlite3 db.sqlite3 '.backup copy.sqlite3'` while the service is stopped")
        return cls(db["NAME"], db.get("USER") or "", db.get("PASSWORD") or "", db.get("HOST") or "",
                   str(db.get("PORT") or ""))

    @classmethod
    def from_url(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql"} or not parts.path.strip("/"):
            raise BackupError("the target is a postgres:// URL naming a database")
        return cls(unquote(parts.path.strip("/")), unquote(parts.username or ""), unquote(parts.password or ""),
                   parts.hostname or "", str(parts.port or ""))

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(dbname=self.dbname, user=self.user or None, password=self.password or None,
                               host=self.host or None, port=self.port or None, **kwargs)

    def tool_env(self) -> dict[str, str]:
        env = {**os.environ, "PGDATABASE": self.dbname}
        for name, value in (("PGUSER", self.user), ("PGPASSWORD", self.password), ("PGHOST", self.host),
                            ("PGPORT", self.port)):
            if value:
                env[name] = value
        return env


def _tables() -> list[str]:
    return sorted({model._meta.db_table for model in apps.get_models(include_auto_created=True)
                   if model._meta.managed and not model._meta.proxy})


def _counts(cursor, tables: list[str]) -> dict[str, int]:
    present = {row[0] for row in cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()}
    return {t: cursor.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables if t in present}


def _migrations(cursor) -> list[list[str]]:
    return [list(row) for row in cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")]


class _Prefixed:
    """A readable stream: `prefix` bytes, then the stream."""

    def __init__(self, prefix: bytes, stream):
        self.prefix, self.stream = prefix, stream

    def read(self, size: int) -> bytes:
        if self.prefix:
            head, self.prefix = self.prefix[:size], self.prefix[size:]
            return head + (self.stream.read(size - len(head)) if len(head) < size else b"")
        return self.stream.read(size)


def backup(output: str) -> dict:
    """Write an encrypted backup to `output`; returns the manifest."""
    source = Target.from_settings()
    with source.connect() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        with conn.cursor() as cursor:
            manifest = {"format": 1, "created_at": timezone.now().isoformat(), "database": source.dbname,
                        "counts": _counts(cursor, _tables()), "migrations": _migrations(cursor)}
        header = json.dumps(manifest).encode()
        dump = subprocess.Popen(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                                 f"--snapshot={snapshot}"], env=source.tool_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        partial = output + ".partial"
        try:
            with open(partial, "wb") as target:
                os.chmod(partial, 0o600)
                crypto.encrypt_stream(_Prefixed(len(header).to_bytes(8, "big") + header, dump.stdout), target,
                                      ASSOCIATED_DATA)
            errors = dump.stderr.read().decode(errors="replace")
            if dump.wait() != 0:
                raise BackupError(f"pg_dump failed: {errors.strip()[:500]}")
            os.replace(partial, output)
        finally:
            if dump.poll() is None:
                dump.kill()
            if os.path.exists(partial):
                os.unlink(partial)
        conn.rollback()
    return manifest


@dataclass
class RestoreReport:
    manifest: dict
    tables: int = 0
    rows: int = 0
    totp_secrets: int = 0
    signing_keys: int = 0
    problems: list[str] | None = None


def restore(path: str, target_url: str, verify: bool) -> RestoreReport:
    target = Target.from_url(target_url)
    with target.connect() as conn:
        existing = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0]
    if existing:
        raise BackupError(f"database {target.dbname} is not empty ({existing} tables): restore into a new database")
    with tempfile.NamedTemporaryFile(prefix="madoguchi-restore-", suffix=".dump") as plain:
        with open(path, "rb") as encrypted:
            try:
                crypto.decrypt_stream(encrypted, plain, ASSOCIATED_DATA)
            except crypto.DecryptionFailed as exc:
                raise BackupError(f"cannot decrypt {path}: {exc}") from None
        plain.flush()
        plain.seek(0)
        manifest = json.loads(plain.read(int.from_bytes(plain.read(8), "big")))
        offset = plain.tell()
        with tempfile.NamedTemporaryFile(prefix="madoguchi-restore-", suffix=".pgdump") as dump:
            plain.seek(offset)
            while chunk := plain.read(1024 * 1024):
                dump.write(chunk)
            dump.flush()
            result = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                                     f"--dbname={target.dbname}", dump.name], env=target.tool_env(),
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")
    report = RestoreReport(manifest)
    if verify:
        _verify(target, report)
    return report


def _verify(target: Target, report: RestoreReport) -> None:
    problems = []
    with target.connect() as conn, conn.cursor() as cursor:
        counts = _counts(cursor, list(report.manifest["counts"]))
        for table, expected in report.manifest["counts"].items():
            if counts.get(table) != expected:
                problems.append(f"{table}: {counts.get(table)} rows, the backup had {expected}")
        if _migrations(cursor) != report.manifest["migrations"]:
            problems.append("applied migrations differ from the backup's")
        report.tables, report.rows = len(counts), sum(counts.values())
        for pk, token in cursor.execute("SELECT id, totp_secret FROM tenancy_staff WHERE totp_secret <> ''"):
            try:
                if crypto.is_token(token):  # a secret from before encryption is read as it is
                    crypto.decrypt(token, "tenancy.staff.totp_secret")
                report.totp_secrets += 1
            except crypto.DecryptionFailed:
                problems.append(f"staff {pk}: the TOTP secret does not decrypt with the configured master keys")
        secret = settings.DOCUMENT_SIGNING_SECRET.encode()
        for pk, pem in cursor.execute("SELECT id, encrypted_key_pem FROM tenancy_documentsigningkey"):
            try:
                load_pem_private_key(bytes(pem), password=secret)
                report.signing_keys += 1
            except (ValueError, TypeError):
                problems.append(f"signing key {pk} does not decrypt with MADOGUCHI_DOCUMENT_SIGNING_SECRET")
    report.problems = problems

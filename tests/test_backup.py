"""Backups: the encrypted file format, and a restore drill on a scratch PostgreSQL database."""

import io
import os
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from madoguchi.core import crypto
from madoguchi.documents.signing import ensure_signing_key
from madoguchi.operations.backups import Target

from .flow import received
from .test_backoffice import make_staff


def test_encrypted_stream_round_trips_and_detects_tampering(tmp_path):
    data = os.urandom(crypto.CHUNK * 2 + 123)
    sealed = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(data), sealed, "test")
    raw = sealed.getvalue()
    assert data[:64] not in raw
    path = tmp_path / "f"
    path.write_bytes(raw)
    out = io.BytesIO()
    with open(path, "rb") as f:
        crypto.decrypt_stream(f, out, "test")
    assert out.getvalue() == data
    cut = tmp_path / "cut"  # the last chunk dropped: detected, not a shorter file
    cut.write_bytes(raw[:len(raw) - (4 + 12 + 123 + 16)])
    with open(cut, "rb") as f, pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_stream(f, io.BytesIO(), "test")
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    (tmp_path / "flip").write_bytes(bytes(flipped))
    with open(tmp_path / "flip", "rb") as f, pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_stream(f, io.BytesIO(), "test")
    with open(path, "rb") as f, pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_stream(f, io.BytesIO(), "another purpose")


@pytest.fixture
def scratch_database():
    if connection.vendor != "postgresql":
        pytest.skip("the restore drill needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    source = Target.from_settings()
    name = f"drill_{uuid.uuid4().hex[:12]}"
    with source.connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = source.user + (f":{source.password}" if source.password else "")
    yield f"postgres://{auth}@{source.host or '127.0.0.1'}:{source.port or 5432}/{name}"
    with source.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_restore_drill_on_a_scratch_database(tmp_path, scratch_database, municipality, resident):
    request = received(municipality, resident)
    make_staff(municipality, "clerk")
    ensure_signing_key(municipality)
    path = str(tmp_path / "madoguchi.backup")
    out = io.StringIO()
    call_command("backup", "--output", path, stdout=out)
    assert "backup written" in out.getvalue()
    content = open(path, "rb").read()
    assert resident.name.encode() not in content and request.reception_number.encode() not in content
    out = io.StringIO()
    call_command("restore", path, "--database-url", scratch_database, "--verify", stdout=out)
    assert "verified:" in out.getvalue() and "1 signing keys decrypt" in out.getvalue()
    with Target.from_url(scratch_database).connect() as conn:
        number = conn.execute("SELECT reception_number FROM applications_certificaterequest").fetchone()[0]
    assert number == request.reception_number
    # Restoring over a database that has tables is refused.
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", path, "--database-url", scratch_database)


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_backup_made_with_another_master_key(tmp_path, scratch_database, municipality,
                                                             monkeypatch):
    path = str(tmp_path / "madoguchi.backup")
    call_command("backup", "--output", path, stdout=io.StringIO())
    monkeypatch.setenv("MADOGUCHI_MASTER_KEYS", "other=" + "C" * 43 + "=")
    with pytest.raises(CommandError, match="master key that is not configured"):
        call_command("restore", path, "--database-url", scratch_database)

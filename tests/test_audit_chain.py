"""The hash-chained audit trail and access log: appending, tampering, checkpoints and retention."""

import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from madoguchi.operations import audit, chain, checkpoint, tsa, tsa_local
from madoguchi.operations.chain import AUDIT, row_hash, serialise, verify_chain
from madoguchi.operations.models import AccessLog, AuditAction, AuditEvent, ChainHead, Checkpoint, Log
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_municipality, make_resident

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manager(municipality):
    return Staff.objects.create(username="manager", municipality=municipality, role=Role.MANAGER)


def _events(manager, n=5):
    for i in range(n):
        audit.record(AuditAction.SETTING_CHANGED, actor=manager, target=("catalog.fee", i, f"fee {i}"),
                     before={"amount": 300}, after={"amount": 200 + i}, ip="192.0.2.1")


def _codes(report):
    return [(p.seq, p.code) for p in report.problems]


def verify(log, municipality_id):
    """verify_chain, held on PostgreSQL to give the same answer hashing in the database and here."""
    report = verify_chain(log, municipality_id)
    if connection.vendor == "postgresql":
        here = verify_chain(log, municipality_id, in_python=True)
        assert (_codes(here), here.rows, here.last_seq, here.last_hash) == (
            _codes(report), report.rows, report.last_seq, report.last_hash)
    return report


def _rehash_from(model, spec, municipality_id, start_seq):
    """What an attacker with database access does after editing a row: recompute every later hash
    and the head, so the chain is consistent again."""
    rows = list(model.objects.filter(municipality_id=municipality_id, seq__gte=start_seq).order_by("seq"))
    prev = model.objects.filter(municipality_id=municipality_id, seq=start_seq - 1).values_list(
        "hash", flat=True).first() or "0" * 64
    for row in rows:
        digest = row_hash(prev, serialise(spec, [getattr(row, c) for c in spec.columns]))
        model.objects.filter(pk=row.pk).update(prev_hash=prev, hash=digest)
        prev = digest
    ChainHead.objects.filter(municipality_id=municipality_id, log=spec.log).update(hash=prev)


def test_record_appends_a_verifiable_chain(municipality, manager):
    _events(manager, 5)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert json.loads(events[2].after) == {"amount": 202}
    assert events[0].actor_name == "manager" and events[0].municipality == municipality
    report = verify(Log.AUDIT, municipality.pk)
    assert report.ok and report.rows == 5 and report.last_seq == 5


def test_each_municipality_and_the_operator_have_their_own_chain(municipality, manager):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    other_manager = Staff.objects.create(username="m2", municipality=other, role=Role.MANAGER)
    operator = Staff.objects.create(username="operator", is_superuser=True)
    _events(manager, 2)
    _events(other_manager, 3)
    audit.record(AuditAction.SIGN_IN, actor=operator)
    assert sorted(AuditEvent.objects.filter(municipality=other).values_list("seq", flat=True)) == [1, 2, 3]
    assert AuditEvent.objects.get(municipality__isnull=True).seq == 1
    for municipality_id in (municipality.pk, other.pk, None):
        assert verify(Log.AUDIT, municipality_id).ok


def test_a_deleted_row_is_detected(municipality, manager):
    _events(manager, 5)
    AuditEvent.objects.filter(seq=3).delete()
    assert ("missing" in [c for _s, c in _codes(verify(Log.AUDIT, municipality.pk))])
    assert (3, "missing") in _codes(verify(Log.AUDIT, municipality.pk))


def test_a_deleted_last_row_is_detected_by_the_head(municipality, manager):
    _events(manager, 4)
    AuditEvent.objects.filter(seq=4).delete()
    assert _codes(verify(Log.AUDIT, municipality.pk)) == [(4, "head_mismatch")]


def test_an_altered_row_is_detected(municipality, manager):
    _events(manager, 5)
    AuditEvent.objects.filter(seq=2).update(after='{"amount":999999}')
    assert _codes(verify(Log.AUDIT, municipality.pk)) == [(2, "altered")]


def test_an_altered_row_with_a_recomputed_hash_breaks_the_link(municipality, manager):
    _events(manager, 5)
    row = AuditEvent.objects.get(seq=2)
    row.actor_name = "someone-else"
    digest = row_hash(row.prev_hash, serialise(AUDIT, [getattr(row, c) for c in AUDIT.columns]))
    AuditEvent.objects.filter(pk=row.pk).update(actor_name="someone-else", hash=digest)
    assert _codes(verify(Log.AUDIT, municipality.pk)) == [(3, "broken_link")]


def test_reordered_rows_are_detected(municipality, manager):
    _events(manager, 5)
    a, b = AuditEvent.objects.get(seq=2), AuditEvent.objects.get(seq=4)
    # Swap the positions (via a free number, the pair is unique).
    AuditEvent.objects.filter(pk=a.pk).update(seq=1000)
    AuditEvent.objects.filter(pk=b.pk).update(seq=2)
    AuditEvent.objects.filter(pk=a.pk).update(seq=4)
    codes = _codes(verify(Log.AUDIT, municipality.pk))
    assert (2, "altered") in codes and (4, "altered") in codes


def test_a_row_moved_to_another_municipality_is_detected(municipality, manager):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    _events(manager, 3)
    AuditEvent.objects.filter(seq=2).update(municipality=other)
    assert (2, "missing") in _codes(verify(Log.AUDIT, municipality.pk))
    assert not verify(Log.AUDIT, other.pk).ok


def test_the_access_log_is_chained_and_tamper_evident(municipality, manager):
    resident = make_resident(municipality)
    http_request = RequestFactory().get("/", REMOTE_ADDR="2001:DB8::0001")
    http_request.user = manager
    for _ in range(3):
        audit.log_access(http_request, "view_request", resident=resident)
    log = AccessLog.objects.get(seq=1)
    assert log.ip_address == "2001:db8::1" and log.resident == resident
    assert verify(Log.ACCESS, municipality.pk).ok
    AccessLog.objects.filter(seq=2).update(staff=Staff.objects.create(username="x", municipality=municipality))
    assert _codes(verify(Log.ACCESS, municipality.pk)) == [(2, "altered")]


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the in-memory SQLite test database locks whole tables; file SQLite serialises writers")
def test_concurrent_writers_do_not_fork_the_chain(municipality, manager):
    errors = []

    def writer():
        try:
            for _ in range(10):
                audit.record(AuditAction.LOG_SEARCHED, actor=manager)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 41))
    assert verify(Log.AUDIT, municipality.pk).ok


def test_an_unknown_action_is_refused(manager):
    with pytest.raises(ValueError):
        audit.record("delete_everything", actor=manager)


def test_any_text_and_address_hashes_the_same_in_the_database_and_here(municipality, manager):
    nasty = 'a"b\\c\n\r\t\x01\x1f\x7f\u2028 辻\U000E0102 😀 \ufeff'
    manager.username = nasty[:150]
    manager.save()
    for address in ["::ffff:1.2.3.4", "2001:DB8::0001", "192.0.2.255", "fe80::1"]:
        audit.record(AuditAction.SETTING_CHANGED, actor=manager, target=("x", nasty, nasty), before={nasty: nasty},
                     after=[nasty, 1.5, True, None], ip=address)
    assert verify(Log.AUDIT, municipality.pk).ok


def test_times_at_the_edge_of_a_second_hash_the_same(municipality, manager):
    """SQLite rounds a fraction to milliseconds: .9999995 must not become the next second."""
    for microsecond in (0, 1, 999_499, 999_500, 999_999):
        event = audit.record(AuditAction.SIGN_IN, actor=manager)
        at = event.at.replace(microsecond=microsecond)
        AuditEvent.objects.filter(pk=event.pk).update(at=at)
        _rehash_from(AuditEvent, AUDIT, municipality.pk, event.seq)
    assert verify(Log.AUDIT, municipality.pk).ok


def test_bad_addresses_are_not_stored(municipality, manager):
    event = audit.record(AuditAction.SIGN_IN, actor=manager, ip="not-an-ip\x00")
    assert event.ip_address is None and verify(Log.AUDIT, municipality.pk).ok


# --- checkpoints ---------------------------------------------------------------------------------

def test_checkpoint_file_verifies_and_detects_a_rewritten_table(municipality, manager, tsa_server, tmp_path):
    _events(manager, 5)
    _cp, path = checkpoint.write_checkpoint(municipality, str(tmp_path))
    assert path.parent.name == municipality.code
    document = json.loads(path.read_text())
    assert document["payload"]["chains"]["audit"]["seq"] == 5
    call_command("audit", "verify", "--checkpoint", str(path))
    # The whole table rewritten consistently, hashes and head included: the chain alone looks fine...
    AuditEvent.objects.filter(seq=1).update(after='{"amount":1}')
    _rehash_from(AuditEvent, AUDIT, municipality.pk, 1)
    assert verify(Log.AUDIT, municipality.pk).ok
    # ...but not against the head the auditor holds.
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--checkpoint", str(path))
    report = checkpoint.verify_checkpoint(path.read_text(), municipality.pk)
    assert any(p.startswith("checkpoint_mismatch: audit #5") for p in report.problems)


def test_a_forged_or_damaged_checkpoint_file_fails(municipality, manager, tsa_server, tmp_path):
    _events(manager, 3)
    _cp, path = checkpoint.write_checkpoint(municipality, str(tmp_path))
    good = json.loads(path.read_text())
    edited = json.loads(path.read_text())
    edited["payload"]["chains"]["audit"]["seq"] = 2
    edited["payload"]["chains"]["audit"]["hash"] = AuditEvent.objects.get(seq=2).hash
    report = checkpoint.verify_checkpoint(json.dumps(edited), municipality.pk)
    assert any(p.startswith("checkpoint_signature") for p in report.problems)
    # Another checkpoint's time-stamp does not fit this signature.
    _events(manager, 1)
    _cp2, path2 = checkpoint.write_checkpoint(municipality, str(tmp_path / "b"))
    swapped = dict(good, timestamp_token=json.loads(path2.read_text())["timestamp_token"])
    report = checkpoint.verify_checkpoint(json.dumps(swapped), municipality.pk)
    assert any(p.startswith("checkpoint_timestamp") for p in report.problems)
    for text in ["", "null", "{}", "\x00", '{"format": "madoguchi-audit-checkpoint/1", "payload": 5}',
                 json.dumps(dict(good, signature="***"))]:
        assert not checkpoint.verify_checkpoint(text, municipality.pk).ok
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--checkpoint", str(bad))


def test_a_checkpoint_signed_by_another_key_fails(municipality, manager, tsa_server, tmp_path, settings):
    _events(manager, 2)
    _cp, path = checkpoint.write_checkpoint(municipality, str(tmp_path))
    settings.AUDIT_SIGNING_SECRET = "another-secret"
    report = checkpoint.verify_checkpoint(path.read_text(), municipality.pk)
    assert any(p.startswith("checkpoint_key_unknown") for p in report.problems)


def test_checkpoint_of_another_municipality_is_refused_for_this_one(municipality, manager, tsa_server, tmp_path):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    _events(manager, 1)
    _cp, path = checkpoint.write_checkpoint(municipality, str(tmp_path))
    with pytest.raises(CommandError, match="not 082082"):
        call_command("audit", "verify", "--municipality", other.code, "--checkpoint", str(path))


def test_command_checkpoints_every_chain_and_records_it(municipality, manager, tsa_server, tmp_path):
    _events(manager, 2)
    call_command("audit", "checkpoint", "--out", str(tmp_path))
    assert len(list((tmp_path / municipality.code).glob("*.json"))) == 1
    assert AuditEvent.objects.filter(action=AuditAction.CHECKPOINT_WRITTEN, municipality=municipality).exists()
    assert Checkpoint.objects.get(municipality=municipality).audit_seq == 2


@pytest.mark.parametrize("mode", ["html", "garbage", "refuse", "replay"])
def test_a_misbehaving_tsa_gives_no_checkpoint(municipality, manager, tsa_server, tmp_path, mode):
    _events(manager, 1)
    if mode == "replay":
        tsa.timestamp(b"an earlier request")  # the server keeps this answer and replays it
    tsa_server.mode = mode
    with pytest.raises(tsa.TimestampError):
        checkpoint.write_checkpoint(municipality, str(tmp_path))
    assert not Checkpoint.objects.exists() and not list(tmp_path.rglob("*.json"))


def test_an_unreachable_tsa_fails_the_command_clearly(municipality, manager, settings, tmp_path):
    settings.AUDIT_TSA_URL = "http://127.0.0.1:9/tsa"
    _events(manager, 1)
    with pytest.raises(CommandError, match="no time-stamp"):
        call_command("audit", "checkpoint", "--out", str(tmp_path))


def test_verify_command_reports_tampering_and_bad_arguments(municipality, manager):
    _events(manager, 3)
    call_command("audit", "verify")
    call_command("audit", "verify", "--municipality", municipality.code)
    AuditEvent.objects.filter(seq=2).delete()
    with pytest.raises(CommandError, match="FAILED"):
        call_command("audit", "verify")
    for code in ["12345", "123456", "13999\x00", "x" * 10_000]:
        with pytest.raises(CommandError):
            call_command("audit", "verify", "--municipality", code)


# --- reading in batches and in parallel segments -----------------------------------------------

def _tamperings(municipality):
    """Each way of breaking a 13-row chain, with the rows it touches at batch and segment joins."""
    def delete(seq):
        return lambda: AuditEvent.objects.filter(municipality=municipality, seq=seq).delete()

    def alter(seq):
        return lambda: AuditEvent.objects.filter(municipality=municipality, seq=seq).update(actor_name="forged")

    def reorder():
        a, b = (AuditEvent.objects.get(municipality=municipality, seq=s) for s in (4, 5))
        AuditEvent.objects.filter(pk=a.pk).update(seq=1000)
        AuditEvent.objects.filter(pk=b.pk).update(seq=4)
        AuditEvent.objects.filter(pk=a.pk).update(seq=5)

    def insert():  # a forged row in place of #5, hashed consistently with its own content
        row = AuditEvent.objects.get(municipality=municipality, seq=5)
        row.actor_name = "inserted"
        digest = row_hash("f" * 64, serialise(AUDIT, [getattr(row, c) for c in AUDIT.columns]))
        AuditEvent.objects.filter(pk=row.pk).update(actor_name="inserted", prev_hash="f" * 64, hash=digest)

    return {"clean": lambda: None, "delete_4": delete(4), "delete_5": delete(5), "delete_1": delete(1),
            "alter_4": alter(4), "alter_9": alter(9), "reorder": reorder, "insert": insert}


@pytest.mark.parametrize("case", ["clean", "delete_4", "delete_5", "delete_1", "alter_4", "alter_9", "reorder",
                                  "insert"])
def test_batch_boundaries_do_not_change_the_verdict(municipality, manager, case):
    """Rows are read in keyset batches: every batch size, joins falling on the tampered rows or
    not, names the same first bad row as one batch."""
    _events(manager, 13)
    _tamperings(municipality)[case]()
    whole = verify_chain(Log.AUDIT, municipality.pk, in_python=True, batch=1000)
    for batch in (1, 2, 3, 4, 5, 12, 13):
        report = verify_chain(Log.AUDIT, municipality.pk, in_python=True, batch=batch)
        assert (_codes(report), report.rows, report.last_seq, report.last_hash) == (
            _codes(whole), whole.rows, whole.last_seq, whole.last_hash), batch
    assert whole.ok == (case == "clean")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="segments are walked in parallel on SQLite files")
@pytest.mark.parametrize("case", ["clean", "delete_4", "delete_5", "delete_1", "alter_4", "alter_9", "reorder",
                                  "insert"])
def test_parallel_segments_verify_as_one_pass(municipality, manager, case, tmp_path, monkeypatch):
    """The chain cut into ranges walked by worker processes on a copy of the database file: a clean
    chain verifies with the same count and last hash; any tampering, at a join or inside a range,
    fails there and `verify_chain` reports exactly what one pass in its own snapshot reports."""
    import sqlite3

    _events(manager, 13)
    _tamperings(municipality)[case]()
    one_pass = verify_chain(Log.AUDIT, municipality.pk, workers=1)
    copy = tmp_path / "copy.sqlite3"
    target = sqlite3.connect(copy)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()
    head = ChainHead.objects.get(municipality=municipality, log=Log.AUDIT)
    for workers, batch in ((2, 1000), (3, 2), (4, 1)):
        report = chain.ChainReport(Log.AUDIT, municipality.pk)
        verified = chain._verify_in_segments(AUDIT, municipality.pk, head, report, workers=workers, batch=batch,
                                             database=str(copy))
        assert verified == (case == "clean"), (workers, batch)
        if verified:
            assert (report.rows, report.last_seq, report.last_hash, report.problems) == (
                one_pass.rows, one_pass.last_seq, one_pass.last_hash, [])
    monkeypatch.setattr(chain, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(chain, "_database_file", lambda: str(copy))
    report = verify_chain(Log.AUDIT, municipality.pk, workers=3, batch=2)
    assert (_codes(report), report.rows, report.last_seq, report.last_hash) == (
        _codes(one_pass), one_pass.rows, one_pass.last_seq, one_pass.last_hash)
    assert one_pass.ok == (case == "clean")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="segments are walked in parallel on SQLite files")
def test_rows_after_the_head_are_walked_in_the_snapshot(municipality, manager, tmp_path, monkeypatch):
    """Rows added behind the writers' back (beyond the head) still fail the parallel verification."""
    import sqlite3

    _events(manager, 8)
    ChainHead.objects.filter(municipality=municipality, log=Log.AUDIT).update(
        seq=6, hash=AuditEvent.objects.get(municipality=municipality, seq=6).hash)
    copy = tmp_path / "copy.sqlite3"
    target = sqlite3.connect(copy)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()
    monkeypatch.setattr(chain, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(chain, "_database_file", lambda: str(copy))
    report = verify_chain(Log.AUDIT, municipality.pk, workers=2, batch=3)
    assert _codes(report) == [(8, "head_mismatch")] and report.rows == 8


# --- retention -----------------------------------------------------------------------------------

def test_retention_removes_checkpointed_segments_and_verification_still_holds(
        municipality, manager, tsa_server, tmp_path):
    resident = make_resident(municipality)
    http_request = RequestFactory().get("/")
    http_request.user = manager
    _events(manager, 4)
    audit.log_access(http_request, "view_request", resident=resident)
    _cp, path = checkpoint.write_checkpoint(municipality, str(tmp_path))  # audit #5 is its own record
    _events(manager, 2)
    call_command("audit", "prune", "--older-than-days", "1")  # nothing is a day old yet
    assert AuditEvent.objects.filter(municipality=municipality).count() == 7
    Checkpoint.objects.update(created_at=Checkpoint.objects.get().created_at.replace(year=2020))
    call_command("audit", "prune", "--older-than-days", "1")
    assert min(AuditEvent.objects.filter(municipality=municipality).values_list("seq", flat=True)) == 5
    assert not AccessLog.objects.exists()
    head = ChainHead.objects.get(municipality=municipality, log=Log.AUDIT)
    assert head.base_seq == 4
    assert AuditEvent.objects.filter(action=AuditAction.RETENTION_PRUNED).exists()
    call_command("audit", "verify", "--checkpoint", str(path))
    # The base cannot be moved without the checkpoint file noticing.
    ChainHead.objects.filter(pk=head.pk).update(base_hash="f" * 64)
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--checkpoint", str(path))


def test_retention_refuses_to_remove_a_tampered_chain(municipality, manager, tsa_server, tmp_path):
    _events(manager, 3)
    checkpoint.write_checkpoint(municipality, str(tmp_path))
    Checkpoint.objects.update(created_at=Checkpoint.objects.get().created_at.replace(year=2020))
    AuditEvent.objects.filter(seq=2).update(actor_name="forged")
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit", "prune", "--older-than-days", "1")
    assert AuditEvent.objects.count() == 4


# --- the sandbox TSA -----------------------------------------------------------------------------

def test_sandbox_tsa_endpoint_answers_rfc3161_and_refuses_bad_input():
    client = Client()
    url = reverse("sandbox_tsa")
    assert client.get(url).status_code == 405
    assert client.post(url, data=b"x", content_type="text/plain").status_code == 415
    assert client.post(url, data=b"", content_type="application/timestamp-query").status_code == 415
    for body in [b"\x00" * 100, "\ud800".encode("utf-8", "surrogatepass"), b"\x30" * 5000]:
        response = client.post(url, data=body, content_type="application/timestamp-query")
        assert response.status_code == 200
        assert tsa.TimeStampResp.load(response.content)["status"]["status"].native == "rejection"
    import hashlib
    request = tsa.build_request(hashlib.sha256(b"m").digest(), 42)
    response = client.post(url, data=request.dump(), content_type="application/timestamp-query")
    token = tsa.TimeStampResp.load(response.content)["time_stamp_token"].dump()
    assert tsa.verify_token(token, b"m").valid
    assert not tsa.verify_token(token, b"n").valid


def test_a_token_from_an_untrusted_tsa_fails(settings):
    import hashlib
    token = tsa.TimeStampResp.load(tsa_local.respond(tsa.build_request(hashlib.sha256(b"m").digest(), 1).dump()))[
        "time_stamp_token"].dump()
    settings.SECRET_KEY = "another-deployment-secret-key-of-sufficient-length-0123456789"  # another sandbox CA
    check = tsa.verify_token(token, b"m")
    assert not check.valid and check.problem == "TSA not trusted"

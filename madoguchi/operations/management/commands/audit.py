"""`python manage.py audit verify|checkpoint|prune|key`: the audit chains for operators and auditors.

    audit verify [--municipality CODE] [--checkpoint FILE ...]   exit 1 on any problem
    audit checkpoint [--municipality CODE] [--out DIR]           daily, from cron or the scheduler
    audit prune --older-than-days N [--municipality CODE]        retention by checkpointed segments
    audit key                                                    the checkpoint key for the auditor

Output names municipalities, positions and hashes only, never a person.
"""

import datetime
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from madoguchi.operations import checkpoint as checkpoints
from madoguchi.operations.chain import CHAINS, verify_chain
from madoguchi.operations.models import ChainHead
from madoguchi.operations.tsa import TimestampError
from madoguchi.tenancy.models import Municipality, validate_municipality_code


def _municipality(code: str | None):
    if code is None:
        return None
    try:
        validate_municipality_code(code)
    except Exception:
        raise CommandError(f"invalid municipality code: {code!r}") from None
    municipality = Municipality.objects.filter(code=code).first()
    if municipality is None:
        raise CommandError(f"no municipality {code}")
    return municipality


def _scopes(code: str | None, include_operator: bool = True) -> list:
    if code is not None:
        return [_municipality(code)]
    ids = set(ChainHead.objects.values_list("municipality_id", flat=True))
    scopes = list(Municipality.objects.filter(pk__in={i for i in ids if i is not None}).order_by("code"))
    if include_operator and None in ids:
        scopes.append(None)
    return scopes


def _name(municipality) -> str:
    return municipality.code if municipality is not None else "service"


class Command(BaseCommand):
    help = "Verify, checkpoint and prune the hash-chained audit trail and access log."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        verify = sub.add_parser("verify")
        verify.add_argument("--municipality")
        verify.add_argument("--checkpoint", action="append", default=[], metavar="FILE")
        write = sub.add_parser("checkpoint")
        write.add_argument("--municipality")
        write.add_argument("--out")
        prune = sub.add_parser("prune")
        prune.add_argument("--municipality")
        prune.add_argument("--older-than-days", type=int, required=True)
        sub.add_parser("key")

    def handle(self, *args, **options):
        getattr(self, f"_{options['command']}")(options)

    def _verify(self, options):
        municipality = _municipality(options["municipality"])
        failed = False
        files = []
        for name in options["checkpoint"]:
            path = Path(name)
            try:
                if path.stat().st_size > checkpoints.MAX_FILE_BYTES:
                    raise CommandError(f"{name}: too large for a checkpoint")
                files.append((name, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{name}: cannot read ({type(exc).__name__})") from None
        scopes = [municipality] if municipality is not None or not files else []
        if not files:
            scopes = _scopes(options["municipality"])
        for name, text in files:
            try:
                payload = checkpoints.read_checkpoint(text)[0]
            except checkpoints.CheckpointError as exc:
                self.stdout.write(f"{name}: FAILED {exc}")
                failed = True
                continue
            code = payload.get("municipality")
            scope = _municipality(code) if code is not None else None
            if municipality is not None and scope != municipality:
                raise CommandError(f"{name} is the checkpoint of {code}, not {municipality.code}")
            report = checkpoints.verify_checkpoint(text, scope.pk if scope is not None else None)
            stamp = report.timestamped_at.isoformat() if report.timestamped_at else "-"
            self.stdout.write(f"{name}: {_name(scope)} created {report.created_at}, time-stamped {stamp}, "
                              f"key {report.key_fingerprint}")
            for note in report.notes:
                self.stdout.write(f"  note: {note}")
            for problem in report.problems:
                self.stdout.write(f"  FAILED {problem}")
            failed = failed or not report.ok
            if scope not in scopes:
                scopes.append(scope)
        for scope in scopes:
            for log in CHAINS:
                started = time.perf_counter()
                report = verify_chain(log, scope.pk if scope is not None else None)
                elapsed = time.perf_counter() - started
                state = "OK" if report.ok else "FAILED"
                self.stdout.write(f"{_name(scope)} {log}: {report.rows} rows (#{report.first_seq}–#{report.last_seq}) "
                                  f"{state} in {elapsed:.2f} s, head {report.last_hash[:16]}")
                for problem in report.problems:
                    self.stdout.write(f"  FAILED {problem}")
                failed = failed or not report.ok
        if failed:
            raise CommandError("audit verification FAILED")

    def _checkpoint(self, options):
        for scope in _scopes(options["municipality"]):
            try:
                _checkpoint, path = checkpoints.write_checkpoint(scope, options["out"])
            except TimestampError as exc:
                raise CommandError(f"{_name(scope)}: no time-stamp: {exc}") from None
            self.stdout.write(str(path))

    def _prune(self, options):
        if options["older_than_days"] < 1:
            raise CommandError("--older-than-days must be at least 1")
        cutoff = timezone.now() - datetime.timedelta(days=options["older_than_days"])
        for scope in _scopes(options["municipality"]):
            try:
                done = checkpoints.prune(scope, cutoff)
            except checkpoints.CheckpointError as exc:
                raise CommandError(f"{_name(scope)}: {exc}") from None
            self.stdout.write(f"{_name(scope)}: " + (f"removed up to the checkpoint of {done.created_at:%Y-%m-%d}"
                                                      if done else "no checkpoint old enough"))

    def _key(self, options):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        der = checkpoints.public_key_der()
        self.stdout.write(load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        self.stdout.write(f"SHA-256 fingerprint: {checkpoints.fingerprint(der)}")

"""Daily checkpoints of the audit chains, and retention by checkpointed segments.

A checkpoint is a file the auditor receives (kept outside the database): the heads of a
municipality's two chains (audit trail and access log), signed with the service's checkpoint key
(P-256, derived from MADOGUCHI_AUDIT_SIGNING_SECRET) and time-stamped by an RFC 3161 TSA over that
signature. Whoever rewrites the whole table, hashes and all, cannot reproduce a head the auditor
already holds, nor sign and time-stamp a new one for a past day.

Retention removes whole segments: every row up to a checkpoint's position. The chain head keeps that
position and hash as its new base, so verification starts there and the checkpoint file proves it.
"""

import base64
import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from . import tsa
from .audit import record
from .chain import CHAINS, verify_chain
from .keys import derived_p256_key
from .models import GENESIS, AuditAction, ChainHead, Checkpoint, Log

FORMAT = "madoguchi-audit-checkpoint/1"
MAX_FILE_BYTES = 256 * 1024


class CheckpointError(Exception):
    pass


def signing_key() -> ec.EllipticCurvePrivateKey:
    if not settings.AUDIT_SIGNING_SECRET:
        raise ImproperlyConfigured("MADOGUCHI_AUDIT_SIGNING_SECRET must be set to sign audit checkpoints.")
    return derived_p256_key(settings.AUDIT_SIGNING_SECRET, "madoguchi audit checkpoint")


def public_key_der() -> bytes:
    return signing_key().public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest()
    return ":".join(digest[i:i + 4] for i in range(0, 64, 4))


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _heads(municipality_id: int | None) -> dict[str, dict]:
    heads = {h.log: h for h in ChainHead.objects.filter(municipality_id=municipality_id)}
    return {log: {"seq": heads[log].seq if log in heads else 0, "hash": heads[log].hash if log in heads else GENESIS}
            for log in Log.values}


def write_checkpoint(municipality=None, out_dir: str | None = None) -> tuple[Checkpoint, Path]:
    """Sign and time-stamp the current heads, store the file and its copy here, and record it."""
    municipality_id = municipality.pk if municipality is not None else None
    heads = _heads(municipality_id)
    now = timezone.now()
    payload = {"municipality": municipality.code if municipality is not None else None,
               "municipality_name": municipality.full_name if municipality is not None else "",
               "created_at": now.astimezone(datetime.UTC).isoformat(timespec="seconds"), "chains": heads}
    signature = signing_key().sign(_canonical(payload), ec.ECDSA(hashes.SHA256()))
    token = tsa.timestamp(signature)
    document = json.dumps({
        "format": FORMAT, "payload": payload, "signature": base64.b64encode(signature).decode(),
        "public_key": base64.b64encode(public_key_der()).decode(),
        "timestamp_token": base64.b64encode(token).decode()}, ensure_ascii=False, indent=1, sort_keys=True)
    scope = municipality.code if municipality is not None else "service"
    folder = Path(out_dir or settings.AUDIT_CHECKPOINT_DIR) / scope
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scope}-{now.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, path)
    checkpoint = Checkpoint.objects.create(
        municipality_id=municipality_id, created_at=now, audit_seq=heads[Log.AUDIT]["seq"],
        audit_hash=heads[Log.AUDIT]["hash"], access_seq=heads[Log.ACCESS]["seq"],
        access_hash=heads[Log.ACCESS]["hash"], document=document)
    record(AuditAction.CHECKPOINT_WRITTEN, municipality=municipality,
           target=("operations.checkpoint", checkpoint.pk, path.name),
           after={"audit_seq": heads[Log.AUDIT]["seq"], "access_seq": heads[Log.ACCESS]["seq"]})
    return checkpoint, path


@dataclass
class CheckpointReport:
    municipality_code: str | None = None
    created_at: str = ""
    timestamped_at: datetime.datetime | None = None
    key_fingerprint: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_checkpoint(text: str) -> tuple[dict, bytes, bytes, bytes]:
    """(payload, signature, public key, token) of a checkpoint file; CheckpointError if unreadable."""
    try:
        document = json.loads(text)
        if document.get("format") != FORMAT:
            raise CheckpointError("not a Madoguchi audit checkpoint")
        payload = document["payload"]
        chains = payload["chains"]
        for log in Log.values:
            int(chains[log]["seq"]), str(chains[log]["hash"])
        return (payload, base64.b64decode(document["signature"], validate=True),
                base64.b64decode(document["public_key"], validate=True),
                base64.b64decode(document["timestamp_token"], validate=True))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"unreadable checkpoint ({type(exc).__name__})") from None


def verify_checkpoint(text: str, municipality_id: int | None) -> CheckpointReport:
    """Is the file authentic (our key, a trusted TSA), and does the database still hold the heads
    it names (or their retention base)?"""
    report = CheckpointReport()
    try:
        payload, signature, key_der, token = read_checkpoint(text)
    except CheckpointError as exc:
        report.problems.append(str(exc))
        return report
    report.municipality_code = payload.get("municipality")
    report.created_at = str(payload.get("created_at"))
    report.key_fingerprint = fingerprint(key_der)
    if key_der != public_key_der():
        report.problems.append("checkpoint_key_unknown: signed by a key other than this service's")
    else:
        try:
            signing_key().public_key().verify(signature, _canonical(payload), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            report.problems.append("checkpoint_signature: the signature does not match the content")
    stamp = tsa.verify_token(token, signature)
    report.timestamped_at = stamp.gen_time
    if not stamp.valid:
        report.problems.append(f"checkpoint_timestamp: {stamp.problem}")
    for log, spec in CHAINS.items():
        seq, expected = int(payload["chains"][log]["seq"]), str(payload["chains"][log]["hash"])
        head = ChainHead.objects.filter(municipality_id=municipality_id, log=log).first()
        base_seq, base_hash = (head.base_seq, head.base_hash) if head else (0, GENESIS)
        if seq < base_seq:
            report.notes.append(f"{log}: #{seq} lies in a segment removed by retention (base #{base_seq})")
            continue
        if seq == base_seq:
            actual = base_hash
        else:
            actual = (spec.model.objects.filter(municipality_id=municipality_id, seq=seq)
                      .values_list("hash", flat=True).first())
        if actual is None:
            report.problems.append(f"checkpoint_row_missing: {log} #{seq}")
        elif actual != expected:
            report.problems.append(f"checkpoint_mismatch: {log} #{seq} differs from the checkpoint")
    return report


def prune(municipality, older_than: datetime.datetime) -> Checkpoint | None:
    """Remove every row up to the newest checkpoint written before `older_than`. Refused unless
    the whole chain verifies and still holds the checkpointed heads: evidence of tampering is
    never deleted."""
    municipality_id = municipality.pk if municipality is not None else None
    checkpoint = (Checkpoint.objects.filter(municipality_id=municipality_id, created_at__lt=older_than)
                  .order_by("-created_at", "-id").first())
    if checkpoint is None:
        return None
    through = {Log.AUDIT: (checkpoint.audit_seq, checkpoint.audit_hash),
               Log.ACCESS: (checkpoint.access_seq, checkpoint.access_hash)}
    for log in CHAINS:
        report = verify_chain(log, municipality_id)
        if not report.ok:
            raise CheckpointError(f"{log} chain does not verify; nothing removed")
    checked = verify_checkpoint(checkpoint.document, municipality_id)
    if not checked.ok:
        raise CheckpointError("checkpoint does not verify; nothing removed: " + "; ".join(checked.problems))
    removed = {}
    with transaction.atomic():
        for log, spec in CHAINS.items():
            seq, digest = through[log]
            head = ChainHead.objects.select_for_update().filter(municipality_id=municipality_id, log=log).first()
            if head is None or seq <= head.base_seq:
                removed[log] = 0
                continue
            removed[log], _ = spec.model.objects.filter(municipality_id=municipality_id, seq__lte=seq).delete()
            ChainHead.objects.filter(pk=head.pk, municipality_id=municipality_id).update(base_seq=seq, base_hash=digest)
    record(AuditAction.RETENTION_PRUNED, municipality=municipality,
           target=("operations.checkpoint", checkpoint.pk, checkpoint.created_at.isoformat(timespec="seconds")),
           after={"audit_through": through[Log.AUDIT][0], "access_through": through[Log.ACCESS][0],
                  "removed": {str(k): v for k, v in removed.items()}})
    return checkpoint

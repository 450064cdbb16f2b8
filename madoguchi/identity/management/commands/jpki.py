"""`python manage.py jpki …`: JPKI verification and trust material, for operators and auditors.

    jpki verify --cert FILE --signature FILE --content FILE [--cms] [--trust DIR] [--crl FILE]...
                [--ocsp URL] [--ocsp-response FILE]... [--at ISO8601]
    jpki verify-request (--reception-number N | --request UUID) [--municipality CODE] [--export DIR]
    jpki load-trust FILE... [--crl-url URL] [--ocsp-url URL] [--purpose signing|authentication]
    jpki load-crl FILE...
    jpki refresh

`verify` prints one JSON object (docs/identity.md) and exits 0 when valid, 1 when invalid, 2 on a
usage error (missing or unreadable file, bad date).
"""

import base64
import binascii
import datetime
import json
import pathlib
import sys
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from madoguchi.identity import jpki, trust
from madoguchi.identity.models import RevocationList, SignatureEvidence, SigningPurpose
from madoguchi.identity.revocation import CrlRefused, CrlSet, KeptOcspResponses, OcspSource, StoredCrls

USAGE = 2
# Files handed to the command are certificates, signatures and CRLs; anything bigger is a mistake.
MAX_INPUT_BYTES = 64 * 1024 * 1024


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE)


def read(path: str) -> bytes:
    try:
        file = pathlib.Path(path)
        if file.stat().st_size > MAX_INPUT_BYTES:
            raise usage_error(f"{path}: too large")
        return file.read_bytes()
    except OSError as exc:
        raise usage_error(f"{path}: {exc.strerror or exc}") from exc


def read_roots(folder: str) -> list[x509.Certificate]:
    """Every certificate in the folder's files, DER or PEM (a PEM file may hold several)."""
    directory = pathlib.Path(folder)
    if not directory.is_dir():
        raise usage_error(f"{folder}: not a directory")
    roots = []
    for file in sorted(p for p in directory.iterdir() if p.is_file()):
        data = read(str(file))
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                roots += x509.load_pem_x509_certificates(data.lstrip())
            else:
                roots.append(x509.load_der_x509_certificate(data))
        except ValueError as exc:
            raise usage_error(f"{file}: not a certificate (DER or PEM)") from exc
    if not roots:
        raise usage_error(f"{folder}: no certificates")
    return roots


def parse_moment(text: str | None) -> datetime.datetime:
    if text is None:
        return timezone.now()
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise usage_error(f"--at {text}: not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=jpki.JST)  # a Japanese auditor means Japan time
    return moment


class Command(BaseCommand):
    help = "Verify JPKI signatures and manage trust anchors and CRLs."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        verify = commands.add_parser("verify", help="verify one signature from files")
        verify.add_argument("--cert", required=True, help="signing certificate, DER or PEM")
        verify.add_argument("--signature", required=True, help="bare PKCS#1 v1.5 signature, or CMS with --cms")
        verify.add_argument("--content", required=True, help="the signed bytes")
        verify.add_argument("--cms", action="store_true", help="the signature is a detached CMS/PKCS#7")
        verify.add_argument("--trust", help="folder of trust anchors (DER or PEM); default: the database")
        verify.add_argument("--crl", action="append", default=[], help="CRL file (DER or PEM), repeatable")
        verify.add_argument("--ocsp", help="OCSP responder URL for the trust anchors")
        verify.add_argument("--ocsp-response", action="append", default=[],
                            help="an OCSP answer kept earlier (DER), repeatable")
        verify.add_argument("--at", help="verify as at this moment (ISO 8601; Japan time if no offset)")
        again = commands.add_parser("verify-request", help="re-verify the evidence kept for a request")
        which = again.add_mutually_exclusive_group(required=True)
        which.add_argument("--reception-number")
        which.add_argument("--request", help="the request's public id")
        again.add_argument("--municipality", help="the municipality code (needed when the number is "
                                                  "used in more than one municipality)")
        again.add_argument("--export", help="write the evidence as files usable with `jpki verify`")
        roots = commands.add_parser("load-trust", help="register JPKI CA roots (signing or user authentication)")
        roots.add_argument("files", nargs="+")
        roots.add_argument("--purpose", choices=["signing", "authentication"], default="signing")
        roots.add_argument("--crl-url", default="")
        roots.add_argument("--ocsp-url", default="")
        crls = commands.add_parser("load-crl", help="load CRLs of registered roots")
        crls.add_argument("files", nargs="+")
        commands.add_parser("refresh", help="fetch the CRLs of roots that publish one")

    def handle(self, *args, **options) -> None:
        getattr(self, "handle_" + options["action"].replace("-", "_"))(options)

    def emit(self, result: jpki.VerificationResult, extra: dict | None = None) -> None:
        self.stdout.write(json.dumps({**result.as_json(), **(extra or {})}, ensure_ascii=False))
        if not result.valid:
            sys.exit(1)

    def handle_verify(self, options: dict) -> None:
        certificate, signature = read(options["cert"]), read(options["signature"])
        content = read(options["content"])
        at = parse_moment(options["at"])
        anchors = read_roots(options["trust"]) if options["trust"] else [c for _a, c in trust.active_anchors()]
        crl_files = [read(path) for path in options["crl"]]
        try:
            sources: list[jpki.RevocationSource] = [CrlSet(crl_files, anchors)] if crl_files else []
        except CrlRefused as exc:
            raise usage_error(f"--crl: {exc}") from exc
        if not crl_files and not options["trust"]:
            sources.append(StoredCrls())
        if options["ocsp"]:
            sources += [OcspSource(options["ocsp"], anchor) for anchor in anchors]
        if options["ocsp_response"]:
            sources.append(KeptOcspResponses(read(path) for path in options["ocsp_response"]))
        result = jpki.verify_signature(certificate, signature, content, anchors, at=at, now=at,
                                       cms=options["cms"], revocation=sources)
        self.emit(result)

    def handle_verify_request(self, options: dict) -> None:
        found = SignatureEvidence.objects.select_related("request").filter(purpose=SigningPurpose.REQUEST)
        if options["municipality"]:
            found = found.filter(municipality__code=options["municipality"])
        if options["reception_number"]:
            number = options["reception_number"].replace("-", "")
            found = found.filter(request__reception_number=number)
        else:
            try:
                public_id = uuid.UUID(options["request"])
            except ValueError as exc:
                raise usage_error(f"--request {options['request']}: not a request id") from exc
            found = found.filter(request__public_id=public_id)
        # Reception numbers and public ids are unique per municipality: never pick one of several.
        if found[1:2].exists():
            raise usage_error("that request exists in more than one municipality: add --municipality CODE")
        evidence = found.first()
        if evidence is None:
            raise CommandError("no signature evidence for that request", returncode=USAGE)
        used = evidence.result.get("revocation", [])
        crls = list(RevocationList.objects.filter(sha256__in=[e["sha256"] for e in used if e.get("kind") == "crl"]))
        try:
            answers = [base64.b64decode(e["response"], validate=True) for e in used
                       if e.get("kind") == "ocsp" and e.get("response")]
        except (binascii.Error, TypeError) as exc:
            raise CommandError("the kept OCSP answer is damaged") from exc
        anchors = [c for _a, c in trust.active_anchors()]
        sources: list[jpki.RevocationSource] = [KeptOcspResponses(answers)]
        if crls:
            sources.append(CrlSet([bytes(c.der) for c in crls], anchors))
        # As at the moment it was verified, with the very revocation data used then.
        result = jpki.verify_signature(
            bytes(evidence.certificate_der), bytes(evidence.signature), bytes(evidence.signed_bytes), anchors,
            at=evidence.verified_at, now=evidence.verified_at, revocation=sources)
        if options["export"]:
            self.export(evidence, crls, answers, anchors, pathlib.Path(options["export"]))
        recorded = {k: evidence.result.get(k) for k in ("valid", "reason", "serial")}
        self.emit(result, {"verified_at": evidence.verified_at.isoformat(),
                           "same_as_recorded": recorded == {k: result.as_json()[k] for k in recorded}})

    def export(self, evidence: SignatureEvidence, crls: list[RevocationList], answers: list[bytes],
               anchors: list[x509.Certificate], folder: pathlib.Path) -> None:
        (folder / "trust").mkdir(parents=True, exist_ok=True)
        (folder / "certificate.der").write_bytes(bytes(evidence.certificate_der))
        (folder / "signature.bin").write_bytes(bytes(evidence.signature))
        (folder / "content.bin").write_bytes(bytes(evidence.signed_bytes))
        (folder / "result.json").write_text(json.dumps(evidence.result, ensure_ascii=False, indent=1))
        for n, anchor in enumerate(anchors, 1):
            (folder / "trust" / f"root-{n}.der").write_bytes(anchor.public_bytes(serialization.Encoding.DER))
        arguments = [f"--cert {folder}/certificate.der", f"--signature {folder}/signature.bin",
                     f"--content {folder}/content.bin", f"--trust {folder}/trust",
                     f"--at {evidence.verified_at.isoformat()}"]
        for crl in crls:
            (folder / f"crl-{crl.sha256[:16]}.der").write_bytes(bytes(crl.der))
            arguments.append(f"--crl {folder}/crl-{crl.sha256[:16]}.der")
        for n, answer in enumerate(answers, 1):
            (folder / f"ocsp-{n}.der").write_bytes(answer)
            arguments.append(f"--ocsp-response {folder}/ocsp-{n}.der")
        self.stderr.write("python manage.py jpki verify " + " ".join(arguments))

    def handle_load_trust(self, options: dict) -> None:
        for path in options["files"]:
            try:
                anchor, created = trust.load_anchor(read(path), crl_url=options["crl_url"],
                                                    ocsp_url=options["ocsp_url"], purpose=options["purpose"])
            except trust.TrustError as exc:
                raise CommandError(f"{path}: {exc}") from exc
            self.stdout.write(f"{path}: {'added' if created else 'already present'}: {anchor.name}")

    def handle_load_crl(self, options: dict) -> None:
        for path in options["files"]:
            try:
                stored, created = trust.store_crl(read(path))
            except trust.TrustError as exc:
                raise CommandError(f"{path}: {exc}") from exc
            state = "loaded" if created else "already loaded"
            self.stdout.write(f"{path}: {state}: {stored.issuer}, {stored.revoked_count} revoked, "
                              f"next update {stored.next_update.isoformat() if stored.next_update else '-'}")

    def handle_refresh(self, options: dict) -> None:
        for line in trust.refresh_revocation_data():
            self.stdout.write(line)

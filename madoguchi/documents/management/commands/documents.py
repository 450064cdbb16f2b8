"""`python manage.py documents verify FILE` checks a certificate's or print batch's signature and
reports its PAdES level and the timestamp authority's time; `documents signing-key CODE [--rotate]`
creates or rotates a municipality's key; `documents ca-init` creates the document CA."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from madoguchi.documents.pki import create_document_ca
from madoguchi.documents.signing import ensure_signing_key, rotate_signing_key, verify_pdf
from madoguchi.tenancy.models import Municipality

MAX_PDF_BYTES = 200 * 1024 * 1024


class Command(BaseCommand):
    help = "Verify signed certificate PDFs and manage the document-signing keys."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        verify = commands.add_parser("verify", help="Check the PAdES signature of a PDF.")
        verify.add_argument("file")
        commands.add_parser("ca-init", help="Create the document CA (once per deployment) and print its root.")
        key = commands.add_parser("signing-key", help="Create (or with --rotate, replace) a municipality's key.")
        key.add_argument("code", help="地方公共団体コード (6 digits)")
        key.add_argument("--rotate", action="store_true")

    def handle(self, *args, **options):
        if options["command"] == "verify":
            self.verify(Path(options["file"]))
        elif options["command"] == "ca-init":
            root = create_document_ca()
            self.stdout.write(f"Document CA root certificate (give it to verifiers as a trust anchor): {root}")
        else:
            self.signing_key(options["code"], options["rotate"])

    def verify(self, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_PDF_BYTES:
                raise CommandError(f"{path}: larger than {MAX_PDF_BYTES // (1024 * 1024)} MB")
            pdf = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        check = verify_pdf(pdf)
        if not check.valid:
            raise CommandError(f"{path}: 署名を確認できません: {check.problem}")
        if check.timestamp:
            when = f"タイムスタンプ: {timezone.localtime(check.timestamp):%Y-%m-%d %H:%M:%S %Z}"
        else:
            when = "タイムスタンプなし(署名時刻は確認できません)"
        self.stdout.write(f"{path}: 有効な電子署名です(署名者: {check.municipality.full_name}、"
                          f"レベル: PAdES {check.level}、{when})")

    def signing_key(self, code: str, rotate: bool) -> None:
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise CommandError(f"No municipality with code {code}")
        key = rotate_signing_key(municipality) if rotate else ensure_signing_key(municipality)
        self.stdout.write(f"{municipality.full_name}: signing key #{key.pk} created {key.created_at:%Y-%m-%d}")

"""Creating issued documents and print batches. Called only from applications.actions."""

import secrets

from django.utils import timezone

from madoguchi.applications.models import CertificateRequest

from .certificates import render_certificate
from .models import IssuedDocument, PrintBatch
from .render import render_print_batch
from .signing import sign_pdf

# No 0/O or 1/I/L: the code is read off paper and typed by whoever receives the certificate.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_issue_number(request: CertificateRequest) -> str:
    return f"{request.municipality.code}{secrets.randbelow(10**10):010d}"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def issue_document(request: CertificateRequest) -> IssuedDocument:
    issue_number, code = new_issue_number(request), new_verification_code()
    rendered = render_certificate(request, issue_number, code, timezone.localdate())
    return IssuedDocument.objects.create(municipality=request.municipality, request=request,
                                         issue_number=issue_number, verification_code=code,
                                         pdf=rendered.pdf, pages=rendered.pages)


def build_print_batch(requests: list[CertificateRequest], staff, *, reprint_of: PrintBatch | None = None,
                      reason: str = "") -> PrintBatch:
    documents = [IssuedDocument.objects.get(request=r) for r in requests]
    pdf = render_print_batch([(r, bytes(d.pdf)) for r, d in zip(requests, documents, strict=True)])
    batch = PrintBatch.objects.create(municipality=staff.municipality, created_by=staff,
                                      pdf=sign_pdf(pdf, staff.municipality), reprint_of=reprint_of, reason=reason)
    batch.documents.add(*documents)  # a new batch: nothing to compare with, as set() would
    return batch


def signed_document_pdf(document: IssuedDocument) -> bytes:
    """The single certificate as a signed PDF (signed when asked for: signing costs more than rendering)."""
    return sign_pdf(bytes(document.pdf), document.municipality)

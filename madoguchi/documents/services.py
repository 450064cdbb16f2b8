"""The documents app's public API for the workflow (`applications.actions`): issuing a request's
document, building and signing print batches, and the errors that stop issuance, with the messages
the clerk reads."""

import datetime
import secrets

from django.utils import timezone

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.text import name_initial
from madoguchi.registry.characters import issuance_blockers

from .drawing import render_content
from .fonts import MissingGlyph, describe
from .kinds import NotEligible, PersonSelectionError, get_kind, is_kind
from .kinds._memo import one_render
from .kinds._rules import Finding, resident_message
from .layout import RenderedDocument
from .models import IssuedDocument, PrintBatch
from .print_batch import AddressDoesNotFit, render_print_batch
from .seals import Seal, pdf_to_png, sample_content
from .signing import TimestampUnavailable, sign_pdf

__all__ = ["AddressDoesNotFit", "Finding", "MissingGlyph", "NotEligible", "PersonSelectionError",
           "TimestampUnavailable", "assess", "build_print_batch", "can_render", "describe", "issue_document",
           "persons_shown", "render_certificate", "render_sample_certificate", "resident_message",
           "signed_document_pdf"]

# No 0/O or 1/I/L: the code is read off paper and typed by whoever receives the certificate.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def can_render(certificate_type: str) -> bool:
    """Whether a certificate kind renders this type (what goes all the way to a printed document)."""
    return is_kind(certificate_type)


def assess(request: CertificateRequest) -> list[Finding]:
    """The restriction rules' findings for the request (entitlement, eligibility, 支援措置, 発行停止):
    the kind's `entitlement` table and the protections every kind shares (docs/restrictions.md)."""
    with one_render():
        return get_kind(request.certificate_type).assess(request)


def persons_shown(request: CertificateRequest) -> list:
    """The residents the certificate shows (for the 本人通知); empty when the replica no longer has them."""
    try:
        return get_kind(request.certificate_type).shown_residents(request)
    except PersonSelectionError:
        return []


def new_issue_number(request: CertificateRequest) -> str:
    return f"{request.municipality.code}{secrets.randbelow(10**10):010d}"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def render_certificate(request: CertificateRequest, issue_number: str, verification_code: str,
                       issued_on: datetime.date) -> RenderedDocument:
    """One copy of the certificate `request` asks for (copies are repeated by the print batch).
    Raises PersonSelectionError (NotEligible included) or MissingGlyph: nothing is issued.
    The 外字 stop and every restriction rule are checked here, on every rendering; the replica rows
    that the checks and the content share are read once (`kinds._memo.one_render`)."""
    with one_render():
        if request.resident is not None and (blockers := issuance_blockers(request.resident)):
            raise PersonSelectionError(blockers[0])
        kind = get_kind(request.certificate_type)
        kind.check_eligibility(request)
        return render_content(request.municipality, kind.content(request), issue_number, verification_code,
                              issued_on)


def issue_document(request: CertificateRequest) -> IssuedDocument:
    issue_number, code = new_issue_number(request), new_verification_code()
    with one_render():
        rendered = render_certificate(request, issue_number, code, timezone.localdate())
        persons = get_kind(request.certificate_type).persons(request)
    return IssuedDocument.objects.create(municipality=request.municipality, request=request,
                                         issue_number=issue_number, verification_code=code,
                                         pdf=rendered.pdf, pages=rendered.pages,
                                         content_digest=rendered.content_digest,
                                         name_initial=name_initial(persons[0].name) if persons else "")


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


def render_sample_certificate(municipality, seal: Seal | None, on: datetime.date, *, as_png: bool = False) -> bytes:
    """A residence certificate of a fictitious person (見本) with `seal` (None: the placeholder), as
    the manager checks a seal, the certifier and the layout before they print on real certificates."""
    rendered = render_content(municipality, sample_content(), "SAMPLE0000", "MIHON", on, seal=seal)
    return pdf_to_png(rendered.pdf) if as_png else rendered.pdf

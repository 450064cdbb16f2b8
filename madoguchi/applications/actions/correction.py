"""差戻し: a clerk sends a request back for correction; the resident corrects it before the deadline
and it returns to the queue with its reception number and its history.

    received / in_review ──send_back──▶ returned ──(terms unchanged)──────────────────▶ received
                                           │ submit_correction: terms changed
                                           ▼
                                  signing again with the same card (`resigning`)
                                           │ more to pay?  ──yes──▶ the difference paid ──▶ received
                                           │ less?  the difference refunded (partial refund) ─▶ received
                                  past the deadline: cancelled, everything paid refunded (housekeeping)

The corrected terms are quoted by `catalog.quote` as on the day the request was made, so that a
correction asked for by the municipality never loses a campaign fee the resident had.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import calendar
from madoguchi.catalog import services as catalog
from madoguchi.identity.models import SigningPurpose
from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.payments import ledger
from madoguchi.payments.models import Payment
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import (
    OPEN_CORRECTION,
    CertificateRequest,
    Correction,
    CorrectionStatus,
    ReturnReason,
    State,
)
from ..signing_terms import canonical_bytes
from ._base import ActionError, _fresh, _locked, _require_staff, _transition, clean_text
from .cancellation import _cancel
from .payment import open_checkout
from .resigning import verify_same_card

# The terms a correction may change, and what follows from them (the quote).
TERMS = ("options", "copies", "purpose", "purpose_detail", "fee_per_copy", "postage_amount", "total_amount",
         "fee_exemption_reason")


def correction_deadline(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(days=settings.CORRECTION_DAYS)


def open_correction(request: CertificateRequest) -> Correction | None:
    return (Correction.objects.filter(municipality_id=request.municipality_id, request=request,
                                      status__in=OPEN_CORRECTION).first())


def _terms(request: CertificateRequest) -> dict:
    return {k: getattr(request, k) for k in TERMS}


@transaction.atomic
def send_back(request: CertificateRequest, staff: Staff, reason_code: str, reason_text: str = "") -> Correction:
    """差戻し with a 定型文 reason and, optionally, words of the clerk's own; the resident is told."""
    request = _locked(request)
    _require_staff(request, staff)
    if reason_code not in ReturnReason.values:
        raise ActionError(_("差戻しの理由を選んでください。"))
    reason_text = clean_text(reason_text, field=_("差戻しの理由"), limit=400)
    if reason_code == ReturnReason.OTHER and not reason_text:
        raise ActionError(_("「その他」の場合は、差戻しの理由を入力してください。住民に通知されます。"))
    if request.state not in {State.RECEIVED, State.IN_REVIEW}:
        raise ActionError(_("この申請は現在「{state}」のため、差し戻せません。").format(
            state=request.get_state_display()))
    now = timezone.now()
    number = Correction.objects.filter(municipality_id=request.municipality_id, request=request).count() + 1
    correction = Correction.objects.create(
        municipality=request.municipality, request=request, number=number, reason_code=reason_code,
        reason_text=reason_text, returned_by=staff, deadline=correction_deadline(now))
    request.decision_reason = correction.reason_display[:500]
    _transition(request, events.returned(request, staff=staff, reason_code=reason_code,
                                         reason=request.decision_reason, deadline=correction.deadline.isoformat(),
                                         correction=number),
                fields=("decision_reason",))
    enqueue_notice(request, "returned", key=f"returned:{number}", extra={"correction": correction})
    return correction


def _open_for_resident(request: CertificateRequest, *, statuses=tuple(OPEN_CORRECTION)) -> Correction:
    correction = open_correction(request)
    if request.state != State.RETURNED or correction is None:
        raise ActionError(_("この申請は現在「{state}」のため、修正できません。").format(
            state=request.get_state_display()))
    if correction.deadline <= timezone.now():
        raise ActionError(_("修正の期限({deadline})を過ぎたため、修正できません。"
                            "申請は取り消され、返金されます。").format(
            deadline=timezone.localtime(correction.deadline).strftime("%Y年%-m月%-d日 %H:%M")))
    if correction.status not in statuses:
        raise ActionError(_("この操作は、いまの修正の段階ではできません。画面を再読み込みしてください。"))
    return correction


def submit_correction(request: CertificateRequest, *, copies: int, purpose: str, purpose_detail: str, options: dict,
                      channel: str, shown_total: int | None = None) -> Correction:
    """The resident's corrected terms. Unchanged signed terms go straight back to the queue; changed
    ones are stored and must be signed again with the card (`start_correction_signing`)."""
    purpose_detail = clean_text(purpose_detail, field=_("使いみち"), limit=200)
    with transaction.atomic():
        request = _locked(request)
        correction = _open_for_resident(request)
        try:
            quote = catalog.quote(request.municipality, request.certificate_type, copies, request.postage_class,
                                  timezone.localdate(request.created_at), purpose=purpose)
        except catalog.CatalogError as exc:
            raise ActionError(str(exc)) from None
        if shown_total is not None and shown_total != quote.total:
            raise ActionError(_("料金が変更されました。新しい金額をご確認のうえ、もう一度お送りください。"))
        signed = correction.old_terms or _terms(request)
        for key, value in signed.items():
            setattr(request, key, value)
        signed_bytes = canonical_bytes(request, "")
        new = dict(options=options, copies=copies, purpose=purpose, purpose_detail=purpose_detail,
                   fee_per_copy=quote.fee_per_copy, postage_amount=quote.postage_amount, total_amount=quote.total,
                   fee_exemption_reason=quote.exemption_reason)
        for key, value in new.items():
            setattr(request, key, value)
        if canonical_bytes(request, "") == signed_bytes:
            # Nothing the card signed changed: back to the queue as it was signed.
            request.save(update_fields=[*TERMS, "updated_at"])
            correction.old_terms = {}
            _resubmit(request, correction)
            return correction
        request.save(update_fields=[*TERMS, "updated_at"])
        correction.old_terms = signed
        correction.status = CorrectionStatus.SIGNING
        correction.difference = quote.total - ledger.net_paid(request)
        correction.save(update_fields=["old_terms", "status", "difference"])
        events.record(events.corrected(request, old=signed, new=new, difference=correction.difference,
                                       channel=channel, correction=correction.number))
    return correction


def start_correction_signing(request: CertificateRequest, *, return_url: str, retry_url: str):
    from .resigning import start

    _open_for_resident(_fresh(request), statuses=(CorrectionStatus.SIGNING,))
    return start(request, SigningPurpose.CORRECTION, return_url=return_url, retry_url=retry_url)


def record_correction_signature(request: CertificateRequest, *, nonce: str, certificate: bytes, signature: bytes,
                                provider: str) -> Correction:
    """The corrected terms signed with the request's card: then the difference is settled —
    refunded at once (less to pay), or to be paid (`start_difference_payment`) — and, unless money
    is still owed, the request returns to the queue."""
    request = _fresh(request)
    _open_for_resident(request, statuses=(CorrectionStatus.SIGNING,))
    evidence = verify_same_card(request, nonce=nonce, purpose=SigningPurpose.CORRECTION, certificate=certificate,
                                signature=signature, provider=provider)
    with transaction.atomic():
        request = _locked(request)
        correction = _open_for_resident(request, statuses=(CorrectionStatus.SIGNING,))
        difference = request.total_amount - ledger.net_paid(request)
        correction.difference = difference
        if difference > 0:
            correction.status = CorrectionStatus.PAYING
            correction.save(update_fields=["status", "difference"])
            return correction
        refunded = _refund_difference(request, correction, -difference) if difference < 0 else 0
        _resubmit(request, correction, serial=evidence.serial, refund_amount=refunded)
    return correction


def _refund_difference(request: CertificateRequest, correction: Correction, amount: int) -> int:
    """Partial refunds of `amount` from the latest payments first (a difference paid before, then the fee)."""
    left = amount
    for payment in reversed(ledger.refundable_payments(request)):
        part = min(left, ledger.unrefunded(payment))
        if part > 0:
            ledger.request_refund(payment, part, f"correction {correction.number}",
                                  f"correction-{correction.number}-{payment.order_id}")
            left -= part
    return amount - left


def start_difference_payment(request: CertificateRequest, return_url: str) -> str:
    """The provider's page for the difference the corrected terms cost more."""

    def attempt(request: CertificateRequest, provider: str) -> Payment:
        correction = _open_for_resident(request, statuses=(CorrectionStatus.PAYING,))
        return ledger.create_attempt(request, provider, return_url, amount=correction.difference,
                                     sequence=correction.number)

    return open_checkout(request, attempt)


def on_difference_captured(request: CertificateRequest, payment: Payment) -> None:
    """In the ledger's transaction, the request row locked: the difference arrived. Anything but the
    amount the open correction waits for (a correction since changed, lapsed or cancelled) goes back."""
    correction = open_correction(request)
    if (request.state != State.RETURNED or correction is None or correction.status != CorrectionStatus.PAYING
            or correction.number != payment.sequence or correction.difference != payment.amount):
        ledger.refund_rest(payment, f"difference paid while {request.state}")
        return
    _resubmit(request, correction, order_id=payment.order_id)


def _resubmit(request: CertificateRequest, correction: Correction, **data) -> None:
    """Back to the queue (with the row locked): a new expected ship date counted from today."""
    correction.status = CorrectionStatus.DONE
    correction.finished_at = timezone.now()
    correction.save(update_fields=["status", "finished_at", "old_terms", "difference"])
    request.expected_ship_date = calendar.add_business_days(
        timezone.localdate(), request.municipality.processing_days, request.municipality.closed_dates)
    request.decision_reason = ""
    _transition(request, events.resubmitted(request, correction=correction.number, **data),
                fields=("expected_ship_date", "decision_reason"))
    enqueue_notice(request, "resubmitted", key=f"resubmitted:{correction.number}")


def lapse_overdue(now: datetime.datetime | None = None) -> int:
    """Housekeeping: requests whose correction deadline passed are cancelled and refunded."""
    now = now or timezone.now()
    count = 0
    overdue = (Correction.objects.filter(status__in=OPEN_CORRECTION, deadline__lt=now)
               .select_related("request").order_by("id"))
    for correction in overdue.iterator():
        with transaction.atomic():
            request = _locked(correction.request)
            if request.state != State.RETURNED:
                continue
            Correction.objects.filter(pk=correction.pk, status__in=OPEN_CORRECTION).update(
                status=CorrectionStatus.LAPSED, finished_at=now)
            _cancel(request, events.cancelled(request, actor_kind="system", reason=_("修正の期限切れ")))
            count += 1
    return count

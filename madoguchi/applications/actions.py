"""Every state change of a certificate request happens here, and only here.

Each action validates, locks the request row, changes state, appends the history entry and writes
the outbox notice in one transaction. Views and tasks call these functions; nothing else writes
request state.
"""

import datetime
import json
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import calendar
from madoguchi.catalog import services as catalog
from madoguchi.identity import jpki
from madoguchi.identity.models import SignatureEvidence, SigningChallenge, TrustAnchor
from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.payments.models import Payment, PaymentStatus
from madoguchi.payments.providers import get_provider as get_payment_provider
from madoguchi.registry.matching import match_resident
from madoguchi.tenancy.models import Municipality, Staff

from . import reception
from .models import TRANSITIONS, CertificateRequest, Flag, MatchResult, RequestEvent, State

SIGNING_WINDOW = datetime.timedelta(minutes=15)
# Drafts and unpaid requests are given up after this long (the resident can start again).
ABANDON_AFTER = datetime.timedelta(hours=24)
NOTICE_ON = {State.RECEIVED: "received", State.REJECTED: "rejected", State.REFUNDED: "refunded",
             State.ISSUED: "issued", State.MAILED: "mailed", State.COMPLETED: "completed"}


class ActionError(Exception):
    """A rule refused the action; `str(error)` is a Japanese message for the resident or clerk."""


class SignatureRejected(ActionError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _locked(request: CertificateRequest) -> CertificateRequest:
    return CertificateRequest.objects.select_for_update().select_related("municipality").get(pk=request.pk)


def _transition(request: CertificateRequest, to: str, *, actor_kind: str, actor: Staff | None = None,
                reason: str = "") -> None:
    if to not in TRANSITIONS[request.state]:
        raise ActionError(_("この申請は現在「{state}」のため、この操作はできません。").format(
            state=request.get_state_display()))
    RequestEvent.objects.create(municipality=request.municipality, request=request, from_state=request.state,
                                to_state=to, actor=actor, actor_kind=actor_kind, reason=reason)
    request.state = to
    request.save()
    if to in NOTICE_ON:
        enqueue_notice(request, NOTICE_ON[to])


def _require_staff(request: CertificateRequest, staff: Staff) -> None:
    """Defence in depth: views already scope by municipality."""
    if staff.municipality_id != request.municipality_id or not staff.can_review():
        raise ActionError(_("この申請を操作する権限がありません。"))


# --- resident side -------------------------------------------------------------------------------

@transaction.atomic
def create_draft(municipality: Municipality, *, certificate_type: str, options: dict, copies: int,
                 purpose: str, purpose_detail: str, postage_class: str, notice_email: str = "",
                 channel: str = "web") -> CertificateRequest:
    try:
        q = catalog.quote(municipality, certificate_type, copies, postage_class, timezone.localdate())
    except catalog.CatalogError as exc:
        raise ActionError(str(exc)) from None
    request = CertificateRequest.objects.create(
        municipality=municipality, certificate_type=certificate_type, options=options, copies=copies,
        purpose=purpose, purpose_detail=purpose_detail, postage_class=postage_class, channel=channel,
        fee_per_copy=q.fee_per_copy, postage_amount=q.postage_amount, total_amount=q.total,
        notice_email=notice_email)
    RequestEvent.objects.create(municipality=municipality, request=request, from_state="",
                                to_state=State.DRAFT, actor_kind="resident", reason="created")
    return request


def canonical_bytes(request: CertificateRequest, nonce: str) -> bytes:
    """What the card signs: every term of the request the resident agreed to, plus the nonce.
    Recomputed from the database at verification, so any change after signing breaks the signature."""
    return json.dumps({
        "v": 1, "municipality": request.municipality.code, "request": str(request.public_id),
        "certificate_type": request.certificate_type, "options": request.options, "copies": request.copies,
        "purpose": request.purpose, "purpose_detail": request.purpose_detail,
        "postage_class": request.postage_class, "total_amount": request.total_amount, "nonce": nonce,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@transaction.atomic
def start_signing(request: CertificateRequest) -> SigningChallenge:
    request = _locked(request)
    if request.state != State.DRAFT:
        raise ActionError(_("この申請はすでに署名済みです。"))
    now = timezone.now()
    return SigningChallenge.objects.create(municipality=request.municipality, request=request,
                                           nonce=secrets.token_urlsafe(32), expires_at=now + SIGNING_WINDOW)


RESIDENT_MESSAGES = {
    "no_match": _("マイナンバーカードの情報と一致する住民登録が見つかりませんでした。"
                  "住民登録のある市区町村で申請するか、市民課にお問い合わせください。"),
    "challenge": _("署名の有効期限が切れたか、すでに使われています。もう一度署名してください。"),
    "invalid": _("マイナンバーカードの署名を確認できませんでした。もう一度お試しください。"),
}


def _age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def record_signature(request: CertificateRequest, *, nonce: str, certificate: bytes, signature: bytes,
                     provider: str) -> CertificateRequest:
    """Verify the card's signature over the request and match the signer to the replica."""
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.DRAFT:
            raise ActionError(_("この申請はすでに署名済みです。"))
        challenge = SigningChallenge.objects.select_for_update().filter(request=request, nonce=nonce).first()
        now = timezone.now()
        if challenge is None or challenge.used_at or challenge.expires_at < now:
            raise SignatureRejected(RESIDENT_MESSAGES["challenge"], "challenge")
        challenge.used_at = now  # one try per nonce, valid or not
        challenge.save(update_fields=["used_at"])
    # Outside the first transaction so that a failed verification still burns the nonce.
    content = canonical_bytes(request, nonce)
    anchors = [bytes(a.certificate_der) for a in TrustAnchor.objects.filter(active=True)]
    result = jpki.verify_signature(certificate, signature, content, anchors, at=now)
    if not result.valid:
        raise SignatureRejected(RESIDENT_MESSAGES["invalid"], result.reason or "invalid")
    match = match_resident(request.municipality, result.basic_four)
    if match.result == MatchResult.NONE:
        raise SignatureRejected(RESIDENT_MESSAGES["no_match"], "no_match")
    resident = match.resident
    flags = []
    if _age_on(resident.date_of_birth, timezone.localdate()) < 15:
        flags.append(Flag.UNDER_15)
    if resident.support_measure:
        flags.append(Flag.SUPPORT_MEASURE)
    if "name" in match.differences:
        flags.append(Flag.NAME_MISMATCH)
    if "address" in match.differences:
        flags.append(Flag.ADDRESS_MISMATCH)
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.DRAFT:
            raise ActionError(_("この申請はすでに署名済みです。"))
        SignatureEvidence.objects.create(
            municipality=request.municipality, request=request, provider=provider,
            certificate_der=certificate, signature=signature, signed_bytes=content, subject=result.subject,
            issuer=result.issuer, serial=result.serial, not_before=result.not_before,
            not_after=result.not_after, result=result.as_json(), verified_at=now)
        request.resident = resident
        request.match_result = match.result
        request.match_detail = match.differences
        request.flags = [str(f) for f in flags]
        # Mailed to the registered address only: taken from the replica, never typed.
        request.delivery_name = resident.name
        request.delivery_postal_code = resident.household.postal_code
        request.delivery_address = resident.household.address
        _transition(request, State.SIGNED, actor_kind="resident",
                    reason=f"jpki:{result.serial} match:{match.result}")
    return request


def start_payment(request: CertificateRequest, return_url: str, notify_url: str) -> str:
    """Create (or reuse) the pending payment and return the provider's page for the resident."""
    provider = get_payment_provider()
    with transaction.atomic():
        request = _locked(request)
        if request.state == State.SIGNED:
            _transition(request, State.AWAITING_PAYMENT, actor_kind="resident")
        elif request.state != State.AWAITING_PAYMENT:
            raise ActionError(_("この申請はお支払いの段階ではありません。"))
        payment = request.payments.filter(status=PaymentStatus.PENDING).first()
        if payment is None:
            payment = Payment.objects.create(
                municipality=request.municipality, request=request, provider=provider.name,
                order_id="MD" + secrets.token_hex(12).upper(), amount=request.total_amount)
    url = provider.create_checkout(payment, return_url, notify_url)
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id=payment.provider_payment_id)
    return url


def capture_payment(order_id: str, *, provider_payment_id: str, amount: int, source: str) -> Payment | None:
    """Settle a payment the provider reports as captured. Idempotent: replays and the
    notification/return race all end in one captured payment and one 受付."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
        if payment is None:
            return None
        # An expired attempt can still be paid on the provider's page; it is settled, then refunded.
        if payment.status not in {PaymentStatus.PENDING, PaymentStatus.EXPIRED}:
            return payment
        if amount != payment.amount:
            raise ActionError(f"amount mismatch for {order_id}: {amount} != {payment.amount}")
        request = _locked(payment.request)
        payment.status = PaymentStatus.CAPTURED
        payment.provider_payment_id = provider_payment_id or payment.provider_payment_id
        payment.captured_at = timezone.now()
        payment.save()
        if request.state != State.AWAITING_PAYMENT:
            # Paid after the request expired or was cancelled: give the money back.
            transaction.on_commit(lambda: refund_payment.enqueue(payment.pk))
            return payment
        request.received_at = payment.captured_at
        request.expected_ship_date = calendar.add_business_days(
            timezone.localdate(), request.municipality.processing_days, request.municipality.closed_dates)
        while True:
            number = reception.generate()
            if not CertificateRequest.objects.filter(reception_number=number).exists():
                break
        request.reception_number = number
        _transition(request, State.RECEIVED, actor_kind="provider", reason=f"{source}:{payment.order_id}")
    return payment


# --- staff side ----------------------------------------------------------------------------------

@transaction.atomic
def start_review(request: CertificateRequest, staff: Staff) -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    if request.state == State.RECEIVED:
        _transition(request, State.IN_REVIEW, actor_kind="staff", actor=staff)
    return request


@transaction.atomic
def approve(request: CertificateRequest, staff: Staff, *, flags_acknowledged: bool = False) -> CertificateRequest:
    """Approve and render the document. Flagged requests (under 15, support measure, mismatch)
    are never approved without the clerk confirming they checked each flag."""
    from madoguchi.documents.fonts import MissingGlyph, describe
    from madoguchi.documents.render import PersonSelectionError
    from madoguchi.documents.services import issue_document

    request = _locked(request)
    _require_staff(request, staff)
    if not request.auto_acceptable and not flags_acknowledged:
        raise ActionError(_("確認が必要な項目があります。内容を確認してから個別に承認してください。"))
    if request.certificate_type not in catalog.RENDERABLE_TYPES:
        raise ActionError(_("この種類の証明書は、まだこのシステムから発行できません。"))
    _transition(request, State.APPROVED, actor_kind="staff", actor=staff,
                reason="flags acknowledged" if request.flags else "")
    try:
        issue_document(request)
    except PersonSelectionError as exc:
        raise ActionError(str(exc)) from None
    except MissingGlyph as exc:
        # Never print a substitute glyph: the clerk issues this one from the core system instead.
        raise ActionError(_("証明書のフォントにない文字があるため作成できません({context}: {chars})。"
                            "住民記録の文字を確認し、基幹システムから発行してください。").format(
            context=exc.context, chars="、".join(describe(s) for s in exc.sequences))) from None
    return request


@transaction.atomic
def reject(request: CertificateRequest, staff: Staff, reason: str) -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    reason = reason.strip()
    if not reason:
        raise ActionError(_("却下の理由を入力してください。住民に通知されます。"))
    request.decision_reason = reason[:500]
    _transition(request, State.REJECTED, actor_kind="staff", actor=staff, reason=reason[:500])
    payment = request.payments.filter(status=PaymentStatus.CAPTURED).first()
    if payment:
        transaction.on_commit(lambda: refund_payment.enqueue(payment.pk))
    return request


@transaction.atomic
def record_printed(requests: list[CertificateRequest], staff: Staff):
    """Build one printer PDF of approved requests and mark them issued."""
    from madoguchi.documents.services import build_print_batch

    locked = [_locked(r) for r in requests]
    for request in locked:
        _require_staff(request, staff)
        if request.state != State.APPROVED:
            raise ActionError(_("受付番号 {number} は印刷できる状態ではありません。").format(
                number=request.formatted_reception_number))
    batch = build_print_batch(locked, staff)
    for request in locked:
        _transition(request, State.ISSUED, actor_kind="staff", actor=staff, reason=f"batch:{batch.pk}")
    return batch


@transaction.atomic
def mark_mailed(request: CertificateRequest, staff: Staff, tracking_number: str = "") -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    tracking_number = tracking_number.strip()
    if len(tracking_number) > 30:
        raise ActionError(_("お問い合わせ番号が長すぎます。"))
    request.tracking_number = tracking_number
    _transition(request, State.MAILED, actor_kind="staff", actor=staff, reason=tracking_number)
    return request


@transaction.atomic
def complete(request: CertificateRequest) -> CertificateRequest:
    request = _locked(request)
    _transition(request, State.COMPLETED, actor_kind="system")
    return request


@transaction.atomic
def cancel(request: CertificateRequest, *, actor_kind: str, actor: Staff | None = None,
           reason: str = "") -> CertificateRequest:
    request = _locked(request)
    _transition(request, State.CANCELLED, actor_kind=actor_kind, actor=actor, reason=reason)
    payment = request.payments.filter(status=PaymentStatus.CAPTURED).first()
    if payment:
        transaction.on_commit(lambda: refund_payment.enqueue(payment.pk))
    return request


def expire_abandoned(now: datetime.datetime | None = None) -> int:
    """Expire drafts and unpaid requests older than ABANDON_AFTER (a periodic task)."""
    cutoff = (now or timezone.now()) - ABANDON_AFTER
    count = 0
    stale = CertificateRequest.objects.filter(
        state__in=[State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT], updated_at__lt=cutoff)
    for request in stale.iterator():
        with transaction.atomic():
            request = _locked(request)
            if request.state in {State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT}:
                _transition(request, State.EXPIRED, actor_kind="system")
                request.payments.filter(status=PaymentStatus.PENDING).update(status=PaymentStatus.EXPIRED)
                count += 1
    return count


# Imported last: the task module calls back into this one.
from .tasks import refund_payment  # noqa: E402

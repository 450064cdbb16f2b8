"""Every state change of a certificate request happens here, and only here.

Each action validates, locks the request row, changes state, appends the history entry and writes
the outbox notice in one transaction. Views and tasks call these functions; nothing else writes
request state.
"""

import datetime
import json
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import calendar
from madoguchi.catalog import services as catalog
from madoguchi.identity import jpki, trust
from madoguchi.identity.models import SignatureEvidence, SigningChallenge
from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.payments.models import REFUNDABLE, Payment, PaymentStatus, Refund, RefundStatus, new_order_id
from madoguchi.payments.providers import ProviderRefused, ProviderUnavailable
from madoguchi.payments.providers import get_provider as get_payment_provider
from madoguchi.payments.providers import provider_for as get_payment_provider_for
from madoguchi.registry.matching import match_resident
from madoguchi.tenancy.models import Municipality, Staff

from . import reception
from .models import TRANSITIONS, CertificateRequest, Flag, MatchResult, RequestEvent, State

SIGNING_WINDOW = datetime.timedelta(minutes=15)
# Drafts and unpaid requests are given up after this long (the resident can start again).
ABANDON_AFTER = datetime.timedelta(hours=24)
# Draws of a reception number before giving up (a second collision in a row means a bug, not chance).
RECEPTION_NUMBER_ATTEMPTS = 3
NOTICE_ON = {State.RECEIVED: "received", State.REJECTED: "rejected", State.REFUNDED: "refunded",
             State.ISSUED: "issued", State.MAILED: "mailed", State.COMPLETED: "completed"}


class ActionError(Exception):
    """A rule refused the action; `str(error)` is a Japanese message for the resident or clerk."""


class SignatureRejected(ActionError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _locked(request: CertificateRequest) -> CertificateRequest:
    # Lock the request row only: the joined municipality row must not serialize a whole town's actions.
    return (CertificateRequest.objects.select_for_update(of=("self",)).select_related("municipality")
            .get(pk=request.pk))


def _transition(request: CertificateRequest, to: str, *, actor_kind: str, actor: Staff | None = None,
                reason: str = "", fields: tuple[str, ...] = ()) -> None:
    """Move `request` to `to`. The row is saved with the state and `fields`: name there every other
    column the caller changed on `request` before the transition, or the change is not stored."""
    if to not in TRANSITIONS[request.state]:
        raise ActionError(_("この申請は現在「{state}」のため、この操作はできません。").format(
            state=request.get_state_display()))
    RequestEvent.objects.create(municipality=request.municipality, request=request, from_state=request.state,
                                to_state=to, actor=actor, actor_kind=actor_kind, reason=reason)
    request.state = to
    request.save(update_fields=["state", "updated_at", *fields])
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
                 channel: str = "web", shown_total: int | None = None) -> CertificateRequest:
    """`shown_total` is the amount the confirmation page showed: if the fee changed since (a
    campaign ended at midnight), nothing is created and the resident sees the new amount first."""
    try:
        q = catalog.quote(municipality, certificate_type, copies, postage_class, timezone.localdate(),
                          purpose=purpose)
    except catalog.CatalogError as exc:
        raise ActionError(str(exc)) from None
    if shown_total is not None and shown_total != q.total:
        raise ActionError(_("料金が変更されました。新しい金額をご確認のうえ、もう一度お申し込みください。"))
    request = CertificateRequest.objects.create(
        municipality=municipality, certificate_type=certificate_type, options=options, copies=copies,
        purpose=purpose, purpose_detail=purpose_detail, postage_class=postage_class, channel=channel,
        fee_per_copy=q.fee_per_copy, postage_amount=q.postage_amount, total_amount=q.total,
        fee_exemption_reason=q.exemption_reason, notice_email=notice_email)
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
    jpki.Reason.UNDER_15: _("15歳未満の方はオンラインで申請できません。"
                            "法定代理人の方が市民課の窓口で申請してください。"),
    jpki.Reason.REVOKED: _("マイナンバーカードの署名用電子証明書が失効しています。"
                           "市区町村の窓口で電子証明書を更新してください。"),
}


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
    anchors = trust.active_anchors()
    result = jpki.verify_signature(certificate, signature, content, [cert for _anchor, cert in anchors], at=now,
                                   revocation=trust.revocation_sources(anchors))
    if not result.valid:
        reason = result.reason or "invalid"
        raise SignatureRejected(RESIDENT_MESSAGES.get(reason, RESIDENT_MESSAGES["invalid"]), reason)
    match = match_resident(request.municipality, result.basic_four)
    if match.result == MatchResult.NONE:
        raise SignatureRejected(RESIDENT_MESSAGES["no_match"], "no_match")
    resident = match.resident
    # Under 15 was refused by the verification core (from the certificate's date of birth).
    flags = [Flag(f) for f in result.flags]
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
            not_after=result.not_after, result=result.evidence_json(), verified_at=now)
        request.resident = resident
        request.match_result = match.result
        request.match_detail = match.differences
        request.flags = [str(f) for f in flags]
        # Mailed to the registered address only: taken from the replica, never typed.
        request.delivery_name = resident.name
        request.delivery_postal_code = resident.household.postal_code
        request.delivery_address = resident.household.address
        _transition(request, State.SIGNED, actor_kind="resident",
                    reason=f"jpki:{result.serial} match:{match.result}",
                    fields=("resident", "match_result", "match_detail", "flags", "delivery_name",
                            "delivery_postal_code", "delivery_address"))
    return request


def start_payment(request: CertificateRequest, return_url: str, notify_url: str) -> str:
    """Create (or reuse) the pending payment and return the provider's page for the resident.

    The order id is the idempotency key of the create call: a retry after a timeout finds the same
    checkout. A provider that refuses the attempt (e.g. PayPay's duplicate order after a lost
    answer) gets it marked failed, and one fresh attempt is made."""
    provider = get_payment_provider_for(request.municipality)
    for _attempt in range(2):
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
                    order_id=new_order_id(request.municipality), amount=request.total_amount)
        if payment.checkout_url:
            return payment.checkout_url
        try:
            url = get_payment_provider(payment.provider).create_checkout(payment, return_url, notify_url)
        except ProviderUnavailable:
            raise ActionError(_("決済サービスに接続できませんでした。"
                                "しばらくしてからもう一度お試しください。")) from None
        except ProviderRefused:
            Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(status=PaymentStatus.FAILED)
            continue
        Payment.objects.filter(pk=payment.pk).update(provider_payment_id=payment.provider_payment_id,
                                                     checkout_url=url)
        return url
    raise ActionError(_("お支払いを開始できませんでした。"
                        "時間をおいてもう一度お試しいただくか、市民課にお問い合わせください。"))


def capture_payment(order_id: str, *, provider_payment_id: str, amount: int, source: str) -> Payment | None:
    """Settle a payment the provider reports as captured. Idempotent: replays and the
    notification/return race all end in one captured payment and one 受付."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().by_order_id(order_id).first()
        if payment is None:
            return None
        # An expired attempt can still be paid on the provider's page; it is settled, then refunded.
        if payment.status not in {PaymentStatus.PENDING, PaymentStatus.EXPIRED, PaymentStatus.AUTHORIZED}:
            return payment
        if amount != payment.amount:
            raise ActionError(f"amount mismatch for {order_id}: {amount} != {payment.amount}")
        request = _locked(CertificateRequest(pk=payment.request_id))
        payment.status = PaymentStatus.CAPTURED
        payment.provider_payment_id = provider_payment_id or payment.provider_payment_id
        payment.captured_at = timezone.now()
        payment.save(update_fields=["status", "provider_payment_id", "captured_at"])
        if request.state != State.AWAITING_PAYMENT:
            # Paid after the request expired or was cancelled: give the money back.
            _refund_rest(payment, f"paid while {request.state}")
            return payment
        request.received_at = payment.captured_at
        request.expected_ship_date = calendar.add_business_days(
            timezone.localdate(), request.municipality.processing_days, request.municipality.closed_dates)
        # The unique constraint catches the (one in 10^14) number already taken: the savepoint undoes
        # that attempt's history and notice, and a new number is drawn. No lookup before each insert.
        for attempt in range(RECEPTION_NUMBER_ATTEMPTS):
            request.reception_number = reception.generate()
            try:
                with transaction.atomic():
                    _transition(request, State.RECEIVED, actor_kind="provider",
                                reason=f"{source}:{payment.order_id}",
                                fields=("received_at", "expected_ship_date", "reception_number"))
                break
            except IntegrityError:
                request.state = State.AWAITING_PAYMENT
                if attempt == RECEPTION_NUMBER_ATTEMPTS - 1:
                    raise
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
    _transition(request, State.REJECTED, actor_kind="staff", actor=staff, reason=reason[:500],
                fields=("decision_reason",))
    payment = request.payments.filter(status__in=REFUNDABLE).first()
    if payment:
        _refund_rest(payment, "rejected")
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
def reprint(batch, staff: Staff, reason: str):
    """A new print PDF for the requests of `batch` (spoiled or lost sheets). The requests stay
    issued; each gets a history entry naming the reprint and its reason."""
    from madoguchi.documents.services import build_print_batch

    reason = reason.strip()
    if not reason:
        raise ActionError(_("再印刷の理由を入力してください。"))
    if len(reason) > 500:
        raise ActionError(_("再印刷の理由は500文字以内で入力してください。"))
    if batch.municipality_id != staff.municipality_id or not staff.can_review():
        raise ActionError(_("この操作を行う権限がありません。"))
    locked = [_locked(d.request) for d in batch.documents.select_related("request").order_by("request__received_at",
                                                                                            "request_id")]
    for request in locked:
        _require_staff(request, staff)
        if request.state != State.ISSUED:
            raise ActionError(_("受付番号 {number} は「{state}」のため再印刷できません。").format(
                number=request.formatted_reception_number, state=request.get_state_display()))
    new = build_print_batch(locked, staff, reprint_of=batch, reason=reason)
    RequestEvent.objects.bulk_create(
        RequestEvent(municipality=request.municipality, request=request, from_state=State.ISSUED,
                     to_state=State.ISSUED, actor=staff, actor_kind="staff",
                     reason=f"reprint:{new.pk} of batch:{batch.pk}: {reason}"[:500])
        for request in locked)
    return new


@transaction.atomic
def mark_mailed(request: CertificateRequest, staff: Staff, tracking_number: str = "") -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    tracking_number = tracking_number.strip()
    if len(tracking_number) > 30:
        raise ActionError(_("お問い合わせ番号が長すぎます。"))
    request.tracking_number = tracking_number
    _transition(request, State.MAILED, actor_kind="staff", actor=staff, reason=tracking_number,
                fields=("tracking_number",))
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
    payment = request.payments.filter(status__in=REFUNDABLE).first()
    if payment:
        _refund_rest(payment, "cancelled")
    return request


# --- refunds -------------------------------------------------------------------------------------

def _request_refund(payment: Payment, amount: int, reason: str, idempotency_key: str) -> Refund:
    """In the caller's transaction: record the refund; it goes to the provider after commit.
    The key names the decision, so the same decision taken twice records one refund."""
    refund, created = Refund.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults=dict(municipality_id=payment.municipality_id, payment=payment, amount=amount, reason=reason))
    if created:
        transaction.on_commit(lambda: refund_payment.enqueue(refund.pk))
    return refund


def _unrefunded(payment: Payment) -> int:
    """What of the payment is neither refunded nor on its way back."""
    pending = sum(Refund.objects.filter(payment=payment, status=RefundStatus.REQUESTED)
                  .values_list("amount", flat=True))
    return payment.refundable_amount - pending


def _refund_rest(payment: Payment, reason: str) -> Refund | None:
    """Refund whatever of the payment is not refunded or being refunded yet."""
    amount = _unrefunded(payment)
    if amount <= 0:
        return None
    return _request_refund(payment, amount, reason, f"refund-{payment.order_id}")


@transaction.atomic
def refund_unissuable_copies(request: CertificateRequest, staff: Staff, issuable_copies: int) -> Refund:
    """Fewer copies can be issued than were paid for: reduce the copies and refund the difference."""
    request = _locked(request)
    _require_staff(request, staff)
    if request.state not in {State.RECEIVED, State.IN_REVIEW}:
        raise ActionError(_("この申請は現在「{state}」のため、通数を変更できません。").format(
            state=request.get_state_display()))
    if not 1 <= issuable_copies < request.copies:
        raise ActionError(_("発行できる通数は1通以上、申請された通数({copies}通)未満で入力してください。"
                            "1通も発行できない場合は却下してください。").format(copies=request.copies))
    payment = request.payments.select_for_update().filter(status__in=REFUNDABLE).first()
    amount = (request.copies - issuable_copies) * request.fee_per_copy
    if payment is None or amount == 0 or amount > _unrefunded(payment):
        raise ActionError(_("返金できるお支払いがありません。"))
    old = request.copies
    RequestEvent.objects.create(municipality=request.municipality, request=request, from_state=request.state,
                                to_state=request.state, actor=staff, actor_kind="staff",
                                reason=f"copies {old}->{issuable_copies}, refund {amount}")
    request.copies = issuable_copies
    request.save(update_fields=["copies", "updated_at"])
    return _request_refund(payment, amount, f"copies {old}->{issuable_copies}",
                           f"copies-{payment.order_id}-{old}-{issuable_copies}")


def record_refund(refund: Refund) -> Payment:
    """The provider confirmed the refund: update the payment, move a rejected request to 返金済み,
    and tell the resident. Idempotent."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        if refund.status == RefundStatus.DONE:
            return payment
        refund.status, refund.done_at = RefundStatus.DONE, timezone.now()
        refund.save(update_fields=["status", "done_at"])
        payment.refunded_amount += refund.amount
        payment.status = (PaymentStatus.REFUNDED if payment.refunded_amount == payment.amount
                          else PaymentStatus.PARTIALLY_REFUNDED)
        payment.refunded_at = refund.done_at
        payment.save(update_fields=["refunded_amount", "status", "refunded_at"])
        request = _locked(payment.request)
        if request.state == State.REJECTED and payment.status == PaymentStatus.REFUNDED:
            _transition(request, State.REFUNDED, actor_kind="provider", reason=payment.order_id)
        else:
            enqueue_notice(request, "refunded" if payment.status == PaymentStatus.REFUNDED else "partially_refunded",
                           key=refund.idempotency_key, extra={"amount": refund.amount})
    return payment


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

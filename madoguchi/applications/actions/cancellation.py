"""取消: a resident withdraws their own request before approval, or staff cancel it with a reason.

A resident proves it is them with a one-time code sent to the request's notice e-mail address or
LINE account (the status page), by asking from the LINE account the request came from, or — when
the request has neither — by signing again with the My Number Card that signed it (`resigning`).
Whatever was paid goes back through the provider (`payments.ledger`), and the notice says so.
"""

import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core.throttle import hit
from madoguchi.identity.models import SigningPurpose
from madoguchi.notifications.outbox import enqueue_notice, reachable
from madoguchi.payments import ledger
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import (
    OPEN_CORRECTION,
    RESIDENT_CANCELLABLE,
    CertificateRequest,
    ConfirmationCode,
    Correction,
    CorrectionStatus,
    State,
)
from ._base import ActionError, _fresh, _locked, _require_staff, _transition, clean_text
from .resigning import verify_same_card

CODE_LIFETIME = datetime.timedelta(minutes=10)
CODE_DIGITS = 6
# Wrong codes: a code is burnt after this many, and each request (and each client) gets this many
# tries per window across codes, so six digits cannot be guessed.
CODE_TRIES = 5
CODE_WINDOW = datetime.timedelta(minutes=15)
CODE_SENDS = 3  # codes sent per request per window (each is a message to the resident)
# 返戻 too: a certificate that came back and will not be mailed again is cancelled with a refund.
STAFF_CANCELLABLE = {State.RECEIVED, State.IN_REVIEW, State.RETURNED, State.UNDELIVERED}


def _code_hash(request: CertificateRequest, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"cancel:{request.municipality_id}:{request.pk}:{code}".encode(), hashlib.sha256).hexdigest()


def _check_cancellable(request: CertificateRequest) -> None:
    if request.state == State.CANCELLED:
        raise ActionError(_("この申請はすでに取り消されています。"))
    if request.state not in RESIDENT_CANCELLABLE:
        raise ActionError(_("この申請は現在「{state}」のため、取り消せません。承認の後は市民課にお問い合わせください。")
                          .format(state=request.get_state_display()))


def code_transports(request: CertificateRequest) -> list[str]:
    """Where a cancellation code can go ("email", "line"); none means the card is the way."""
    return reachable(request, "cancel_code")


def send_cancel_code(request: CertificateRequest) -> list[str]:
    """A new one-time code for cancelling `request`, sent through the outbox to the request's notice
    address and LINE account; earlier unused codes stop working. Returns the transports used."""
    with transaction.atomic():
        request = _locked(request)
        _check_cancellable(request)
        transports = code_transports(request)
        if not transports:
            raise ActionError(_("この申請にはお知らせの送り先がありません。"
                                "マイナンバーカードで署名して取り消してください。"))
        if not hit(f"cancel-code-send:{request.municipality_id}:{request.pk}", CODE_SENDS, CODE_WINDOW):
            raise ActionError(_("確認コードの送信回数が多すぎます。15分ほど時間をおいてから、もう一度お試しください。"))
        now = timezone.now()
        ConfirmationCode.objects.filter(municipality_id=request.municipality_id, request=request,
                                        used_at__isnull=True).update(used_at=now)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        row = ConfirmationCode.objects.create(municipality=request.municipality, request=request,
                                              code_hash=_code_hash(request, code), expires_at=now + CODE_LIFETIME)
        enqueue_notice(request, "cancel_code", key=f"cancel_code:{row.pk}",
                       extra={"code": code, "minutes": int(CODE_LIFETIME.total_seconds() // 60)})
    return transports


def cancel_with_code(request: CertificateRequest, code: str, *, channel: str, client: str = "") -> CertificateRequest:
    """Cancel when `code` is the request's current code: unexpired, unused, and not burnt by wrong
    tries. Wrong tries are counted per request and per client (`client`: e.g. the IP address)."""
    code = (code or "").strip()
    allowed = hit(f"cancel-code:{request.municipality_id}:{request.pk}", CODE_TRIES, CODE_WINDOW)
    if client:
        allowed = hit(f"cancel-code-client:{client}", CODE_TRIES * 4, CODE_WINDOW) and allowed
    if not allowed:
        raise ActionError(_("確認コードの入力回数が多すぎます。15分ほど時間をおいてから、もう一度お試しください。"))
    with transaction.atomic():
        request = _locked(request)
        _check_cancellable(request)
        now = timezone.now()
        row = (ConfirmationCode.objects.select_for_update()
               .filter(municipality_id=request.municipality_id, request=request, used_at__isnull=True,
                       expires_at__gt=now).order_by("-id").first())
        valid = (row is not None and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
                 and hmac.compare_digest(row.code_hash, _code_hash(request, code)))
        if not valid:
            if row is not None:
                row.wrong_tries += 1
                row.used_at = now if row.wrong_tries >= CODE_TRIES else None
                row.save(update_fields=["wrong_tries", "used_at"])
            wrong = True
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
            wrong = False
    if wrong:
        # Outside the transaction above so that the wrong try is counted; the request is untouched.
        raise ActionError(_("確認コードが違うか、有効期限が切れています。もう一度コードを送ってお試しください。"))
    return _cancel_by_resident(request, confirmed_by="code", channel=channel)


def cancel_from_line(request: CertificateRequest) -> CertificateRequest:
    """Asked from the LINE account the request came from (the caller checked the binding)."""
    return _cancel_by_resident(request, confirmed_by="line", channel="line")


def start_cancel_signing(request: CertificateRequest, *, return_url: str, retry_url: str):
    from .resigning import start

    _check_cancellable(_fresh(request))
    return start(request, SigningPurpose.CANCEL, return_url=return_url, retry_url=retry_url)


def cancel_with_card(request: CertificateRequest, *, nonce: str, certificate: bytes, signature: bytes,
                     provider: str) -> CertificateRequest:
    request = _fresh(request)
    _check_cancellable(request)
    verify_same_card(request, nonce=nonce, purpose=SigningPurpose.CANCEL, certificate=certificate,
                     signature=signature, provider=provider)
    return _cancel_by_resident(request, confirmed_by="card", channel="web")


def _cancel_by_resident(request: CertificateRequest, *, confirmed_by: str, channel: str) -> CertificateRequest:
    with transaction.atomic():
        request = _locked(request)
        _check_cancellable(request)
        return _cancel(request, events.cancelled(request, actor_kind="resident", confirmed_by=confirmed_by,
                                                 channel=channel, reason=_("申請者による取消")))


@transaction.atomic
def cancel_by_staff(request: CertificateRequest, staff: Staff, reason: str) -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    reason = clean_text(reason, field=_("取消の理由"))
    if not reason:
        raise ActionError(_("取消の理由を入力してください。住民に通知されます。"))
    if request.state == State.CANCELLED:
        raise ActionError(_("この申請はすでに取り消されています。"))
    if request.state not in STAFF_CANCELLABLE:
        raise ActionError(_("この申請は現在「{state}」のため、取り消せません。").format(
            state=request.get_state_display()))
    request.decision_reason = reason
    return _cancel(request, events.cancelled(request, actor_kind="staff", actor=staff, reason=reason),
                   fields=("decision_reason",))


@transaction.atomic
def withdraw_before_payment(request: CertificateRequest, *, channel: str) -> CertificateRequest:
    """The resident stops a request they have not paid for (入力中, 署名済み, 支払待ち) from the browser
    that made it: nothing was charged, so nothing is refunded, and a payment page left open is
    expired (paid after all, it is refunded). The channel checks that the browser owns the request."""
    request = _locked(request)
    if request.state not in {State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT}:
        _check_cancellable(request)
        raise ActionError(_("お支払いが済んだ申請は、確認コードかマイナンバーカードで取り消してください。"))
    return _cancel(request, events.cancelled(request, actor_kind="resident", channel=channel,
                                             reason=_("申請者による取消(お支払い前)")))


@transaction.atomic
def cancel(request: CertificateRequest, *, actor_kind: str, actor: Staff | None = None,
           reason: str = "") -> CertificateRequest:
    """The plain cancellation, for callers that already know who asks (the system, tests)."""
    request = _locked(request)
    return _cancel(request, events.cancelled(request, actor_kind=actor_kind, actor=actor, reason=reason))


def _cancel(request: CertificateRequest, event, *, fields: tuple[str, ...] = ()) -> CertificateRequest:
    """In the caller's transaction, with the row locked: cancel, refund everything paid, close an
    open correction, and tell the resident (once) when the request had been received."""
    was_received = request.reception_number is not None
    _transition(request, event, fields=fields)
    Correction.objects.filter(municipality_id=request.municipality_id, request=request,
                              status__in=OPEN_CORRECTION).update(status=CorrectionStatus.CANCELLED,
                                                                 finished_at=timezone.now())
    refund = ledger.refund_everything(request, "cancelled")
    # An open attempt must not be paid any more (if it is after all, the capture is refunded).
    ledger.expire_pending(request)
    if was_received:
        enqueue_notice(request, "cancelled", extra={"refund_amount": refund, "reason": event.reason,
                                                    "by_staff": event.actor_kind == "staff",
                                                    "lapsed": event.actor_kind == "system"})
    return request

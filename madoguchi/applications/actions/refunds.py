"""Money back to the resident: fewer copies than paid for, and the provider's confirmation of a refund.

The Refund rows are the ledger's (`payments.ledger`); the workflow decides when and how much.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.payments import ledger
from madoguchi.payments.models import Payment, PaymentStatus, Refund
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import CertificateRequest, State
from ._base import ActionError, _locked, _require_staff, _transition


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
    payment = ledger.refundable_payment(request, lock=True)
    amount = (request.copies - issuable_copies) * request.fee_per_copy
    if payment is None or amount == 0 or amount > ledger.unrefunded(payment):
        raise ActionError(_("返金できるお支払いがありません。"))
    old = request.copies
    events.record(events.copies_reduced(request, staff=staff, old=old, new=issuable_copies, refund_amount=amount,
                                        order_id=payment.order_id))
    request.copies = issuable_copies
    request.save(update_fields=["copies", "updated_at"])
    return ledger.request_refund(payment, amount, f"copies {old}->{issuable_copies}",
                                 f"copies-{payment.order_id}-{old}-{issuable_copies}")


def on_refund_confirmed(sender, *, refund: Refund, payment: Payment, **kwargs) -> None:
    """Subscriber of `payments.events.refund_confirmed`, in the ledger's transaction: a rejected
    request fully refunded (every payment of it) becomes 返金済み; otherwise the resident is told of
    the refund (fewer copies issued: the partial-refund notice)."""
    request = _locked(payment.request)
    if (request.state == State.REJECTED and payment.status == PaymentStatus.REFUNDED
            and not ledger.refundable_payments(request)):
        _transition(request, events.refunded(request, order_id=payment.order_id, amount=refund.amount))
    else:
        enqueue_notice(request, "partially_refunded" if refund.reason.startswith("copies") else "refunded",
                       key=refund.idempotency_key, extra={"amount": refund.amount})

"""The only writer of Payment and Refund rows; the workflow calls it inside its own transaction.

Captures and confirmed refunds are published as typed events (`payments.events`) that the workflow
subscribes to, so that the provider endpoints, recovery and reconciliation settle money without
knowing what a request is.
"""


from django.db import transaction
from django.utils import timezone

from madoguchi.applications.models import CertificateRequest

from . import events
from .models import REFUNDABLE, Payment, PaymentStatus, Refund, RefundStatus, new_order_id

# A payment in these statuses can still be captured: an expired attempt can be paid on the
# provider's page after all (it is settled, then refunded by the workflow).
CAPTURABLE = {PaymentStatus.PENDING, PaymentStatus.EXPIRED, PaymentStatus.AUTHORIZED}


class AmountMismatch(Exception):
    """The provider reports another amount than the one we asked for: nothing is settled."""


def create_attempt(request: CertificateRequest, provider: str, return_url: str, *, amount: int | None = None,
                   sequence: int = 0) -> Payment:
    """The request's open attempt, or a new one. `return_url` is where the resident lands after
    the provider's page (the channel's page); the order id is the create call's idempotency key.
    `amount` and `sequence` name a correction's difference (default: the request's total)."""
    amount = request.total_amount if amount is None else amount
    payment = request.payments.filter(status=PaymentStatus.PENDING).first()
    if payment is not None and (payment.sequence, payment.amount) != (sequence, amount):
        # An attempt for other terms (before a correction): never to be paid now.
        payment.status = PaymentStatus.EXPIRED
        payment.save(update_fields=["status"])
        payment = None
    if payment is None:
        payment = Payment.objects.create(
            municipality=request.municipality, request=request, provider=provider, sequence=sequence,
            order_id=new_order_id(request.municipality), amount=amount, return_url=return_url)
    return payment


def record_checkout(payment: Payment, url: str) -> None:
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id=payment.provider_payment_id, checkout_url=url)


def mark_failed(payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(status=PaymentStatus.FAILED)


def expire_pending(request: CertificateRequest) -> None:
    request.payments.filter(status=PaymentStatus.PENDING).update(status=PaymentStatus.EXPIRED)


def refundable_payment(request: CertificateRequest, *, lock: bool = False) -> Payment | None:
    payments = request.payments.select_for_update() if lock else request.payments
    return payments.filter(status__in=REFUNDABLE).order_by("sequence").first()


def refundable_payments(request: CertificateRequest) -> list[Payment]:
    """Every payment of the request that still holds money (the fee, and any correction's difference), locked."""
    return list(request.payments.select_for_update().filter(status__in=REFUNDABLE).order_by("sequence", "id"))


def net_paid(request: CertificateRequest) -> int:
    """What the resident has paid for the request and is neither refunded nor on its way back."""
    return sum(unrefunded(p) for p in refundable_payments(request))


def refund_totals(request: CertificateRequest) -> tuple[int, int]:
    """What of the request's payments went back to the resident: (confirmed by the provider, still on
    its way). What the resident's own page says after a cancellation."""
    done = pending = 0
    refunds = Refund.objects.filter(municipality_id=request.municipality_id,
                                    payment__municipality_id=request.municipality_id, payment__request=request)
    for amount, status in refunds.values_list("amount", "status"):
        if status == RefundStatus.DONE:
            done += amount
        else:
            pending += amount
    return done, pending


def refund_everything(request: CertificateRequest, reason: str) -> int:
    """Refund what is left of every payment of the request; the amount on its way back (0 if none)."""
    return sum(refund.amount for payment in refundable_payments(request)
               if (refund := refund_rest(payment, reason)) is not None)


def capture(order_id: str, *, provider_payment_id: str, amount: int, source: str) -> Payment | None:
    """Settle a payment the provider reports as captured; None for an order we do not know.
    Idempotent: replays and the notification/return race all end in one captured payment, and
    `payment_captured` is published once."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().by_order_id(order_id).first()
        if payment is None or payment.status not in CAPTURABLE:
            return payment
        if amount != payment.amount:
            raise AmountMismatch(f"amount mismatch for {order_id}: {amount} != {payment.amount}")
        payment.status = PaymentStatus.CAPTURED
        payment.provider_payment_id = provider_payment_id or payment.provider_payment_id
        payment.captured_at = timezone.now()
        payment.save(update_fields=["status", "provider_payment_id", "captured_at"])
        events.publish_payment_captured(payment, source=source)
    return payment


def unrefunded(payment: Payment) -> int:
    """What of the payment is neither refunded nor on its way back."""
    pending = sum(Refund.objects.filter(payment=payment, status=RefundStatus.REQUESTED)
                  .values_list("amount", flat=True))
    return payment.refundable_amount - pending


def request_refund(payment: Payment, amount: int, reason: str, idempotency_key: str) -> Refund:
    """In the caller's transaction: record the refund; it goes to the provider after commit.
    The key names the decision, so the same decision taken twice records one refund."""
    from .tasks import refund_payment

    refund, created = Refund.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults=dict(municipality_id=payment.municipality_id, payment=payment, amount=amount, reason=reason))
    if created:
        transaction.on_commit(lambda: refund_payment.enqueue(refund.pk))
    return refund


def refund_rest(payment: Payment, reason: str) -> Refund | None:
    """Refund whatever of the payment is not refunded or being refunded yet."""
    amount = unrefunded(payment)
    if amount <= 0:
        return None
    return request_refund(payment, amount, reason, f"refund-{payment.order_id}")


def confirm_refund(refund: Refund) -> Payment:
    """The provider confirmed the refund: update refund and payment and publish
    `refund_confirmed` in the same transaction. Idempotent."""
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
        events.publish_refund_confirmed(refund, payment)
    return payment

"""Background work for requests: refunds go to the provider outside the request's transaction."""

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from madoguchi.payments.models import Payment, PaymentStatus
from madoguchi.payments.providers import get_provider

from .models import State


@task()
def refund_payment(payment_id: int) -> str:
    payment = Payment.objects.select_related("request").get(pk=payment_id)
    if payment.status != PaymentStatus.CAPTURED:
        return payment.status
    # The idempotency key makes a retried task refund once at the provider.
    get_provider(payment.provider).refund(payment, idempotency_key=f"refund-{payment.order_id}")
    from . import actions

    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.CAPTURED:
            return payment.status
        payment.status = PaymentStatus.REFUNDED
        payment.refunded_at = timezone.now()
        payment.save(update_fields=["status", "refunded_at"])
        request = actions._locked(payment.request)
        if request.state == State.REJECTED:
            actions._transition(request, State.REFUNDED, actor_kind="provider", reason=payment.order_id)
    return "refunded"

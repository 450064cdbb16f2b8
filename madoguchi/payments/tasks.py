"""Background payment work: refunds sent to the provider, and the periodic sweeps (docs/payments.md)."""

import datetime
import logging

from django.utils import timezone
from django_tasks import task

from . import ledger, services
from .models import Refund, RefundStatus
from .providers import ProviderRefused, ProviderUnavailable, get_provider

logger = logging.getLogger(__name__)


@task(queue_name="providers")
def refund_payment(refund_id: int) -> str:
    """Send one recorded refund to the provider, then confirm it (which publishes `refund_confirmed`).

    The Refund row's idempotency key goes with every try: if the provider refunded but the answer
    was lost (timeout) or this worker died before recording it, the retry refunds nothing twice.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == RefundStatus.DONE:
        return refund.status
    try:
        get_provider(refund.payment.provider).refund(refund.payment, refund.amount, refund.idempotency_key)
    except ProviderUnavailable as exc:
        # Left as requested: services.retry_refunds sends it again with the same key.
        logger.warning("refund %s: provider unavailable (%s), will retry", refund.idempotency_key, exc)
        return "retry"
    except ProviderRefused as exc:
        # Reconciliation lists the payment; a person decides (e.g. refund by bank transfer).
        logger.error("refund %s refused by the provider: %s", refund.idempotency_key, exc)
        return "refused"
    ledger.confirm_refund(refund)
    return RefundStatus.DONE


@task(queue_name="bulk")
def reconcile_yesterday() -> int:
    """The daily reconciliation: yesterday's payments of every municipality; returns the mismatches."""
    day = timezone.localdate() - datetime.timedelta(days=1)
    return sum(len(found) for found in services.reconcile_all(day).values())


@task(queue_name="providers")
def recover_payments() -> str:
    """Every few minutes: ask about stale pending payments and resend stuck refunds."""
    return f"recovered {services.recover_pending()}, resent {services.retry_refunds()} refunds"

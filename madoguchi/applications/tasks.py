"""Background work for requests: refunds go to the provider outside the request's transaction."""

import logging

from django_tasks import task

from madoguchi.payments.models import Refund, RefundStatus
from madoguchi.payments.providers import ProviderRefused, ProviderUnavailable, get_provider

logger = logging.getLogger(__name__)


@task()
def refund_payment(refund_id: int) -> str:
    """Send one recorded refund to the provider, then record it as done.

    The Refund row's idempotency key goes with every try: if the provider refunded but the answer
    was lost (timeout) or this worker died before recording it, the retry refunds nothing twice.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == RefundStatus.DONE:
        return refund.status
    try:
        get_provider(refund.payment.provider).refund(refund.payment, refund.amount, refund.idempotency_key)
    except ProviderUnavailable as exc:
        # Left as requested: payments.services.retry_refunds sends it again with the same key.
        logger.warning("refund %s: provider unavailable (%s), will retry", refund.idempotency_key, exc)
        return "retry"
    except ProviderRefused as exc:
        # Reconciliation lists the payment; a person decides (e.g. refund by bank transfer).
        logger.error("refund %s refused by the provider: %s", refund.idempotency_key, exc)
        return "refused"
    from . import actions

    actions.record_refund(refund)
    return RefundStatus.DONE

"""Recovery and reconciliation: our Payment rows checked against what the provider knows.

- `recover_pending`: a payment still pending some minutes after the resident left for the
  provider's page is asked about by status query (the provider charged, but its notification and
  the resident's return were both lost, or our call timed out after it charged).
- `retry_refunds`: refunds still requested (provider timed out, worker died) are sent again with
  their own idempotency key.
- `reconcile`: the day's payments compared one by one with the provider's records; every
  difference is stored as a ReconciliationMismatch, and the safe ones are repaired through the ledger.
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from madoguchi.tenancy.models import Municipality

from . import ledger
from .models import MismatchKind, Payment, PaymentStatus, ReconciliationMismatch, Refund, RefundStatus
from .providers import ProviderStatus, ProviderUnavailable, get_provider, provider_for

logger = logging.getLogger(__name__)

# A notification normally arrives within seconds; after this we ask.
QUERY_PENDING_AFTER = datetime.timedelta(minutes=10)
RETRY_REFUNDS_AFTER = datetime.timedelta(minutes=5)


def settle_from_status(payment: Payment, status: ProviderStatus, source: str) -> bool:
    """Apply a provider status we asked for; True if it captured the payment."""
    if status.status not in {"captured", "partially_refunded", "refunded"}:
        return False
    try:
        ledger.capture(payment.order_id, provider_payment_id=status.provider_payment_id,
                       amount=status.amount, source=source)
    except ledger.AmountMismatch as exc:
        logger.error("%s for %s refused: %s", source, payment.order_id, exc)
        return False
    return True


def recover_pending(now: datetime.datetime | None = None) -> int:
    """Ask the provider about pending payments older than QUERY_PENDING_AFTER."""
    cutoff = (now or timezone.now()) - QUERY_PENDING_AFTER
    recovered = 0
    for payment in Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lt=cutoff).iterator():
        try:
            status = get_provider(payment.provider).query(payment)
        except ProviderUnavailable:
            continue  # next sweep
        recovered += settle_from_status(payment, status, "query")
    return recovered


def retry_refunds(now: datetime.datetime | None = None) -> int:
    from .tasks import refund_payment  # the task module runs these sweeps

    cutoff = (now or timezone.now()) - RETRY_REFUNDS_AFTER
    stale = Refund.objects.filter(status=RefundStatus.REQUESTED, created_at__lt=cutoff).values_list("pk", flat=True)
    for pk in stale:
        refund_payment.enqueue(pk)
    return len(stale)


@dataclass(frozen=True)
class Mismatch:
    order_id: str
    kind: str
    ours: str
    theirs: str
    repaired: bool = False


def _describe(payment: Payment | None) -> str:
    if payment is None:
        return ""
    return f"{payment.status} {payment.amount}円 返金{payment.refunded_amount}円"


def _describe_theirs(status: ProviderStatus | None) -> str:
    if status is None:
        return ""
    return f"{status.status} {status.amount}円 返金{status.refunded_amount}円"


def _compare(payment: Payment | None, theirs: ProviderStatus | None) -> str | None:
    """The kind of difference between our payment and the provider's record, or None."""
    if payment is None:
        return MismatchKind.UNKNOWN_ORDER if theirs and theirs.status != "pending" else None
    took_money = {"captured", "partially_refunded", "refunded", "authorized"}
    ours_took = payment.status in {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED,
                                   PaymentStatus.REFUNDED, PaymentStatus.AUTHORIZED}
    theirs_took = theirs is not None and theirs.status in took_money
    if theirs_took and not ours_took:
        return MismatchKind.CAPTURE_MISSING_HERE
    if ours_took and not theirs_took:
        return MismatchKind.NOT_CAPTURED_AT_PROVIDER
    if not ours_took:
        return None
    if theirs.amount != payment.amount:
        return MismatchKind.AMOUNT
    if theirs.refunded_amount > payment.refunded_amount:
        return MismatchKind.REFUND_MISSING_HERE
    if theirs.refunded_amount < payment.refunded_amount:
        return MismatchKind.REFUND_MISSING_AT_PROVIDER
    return None


def reconcile(municipality: Municipality, day: datetime.date) -> list[Mismatch]:
    """Compare the municipality's payments created on `day` (local time) with each provider's."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    ours = {p.order_id: p for p in Payment.objects.for_municipality(municipality)
            .filter(created_at__gte=start, created_at__lt=start + datetime.timedelta(days=1))}
    providers = {p.provider for p in ours.values()} | {provider_for(municipality).name}
    found: list[Mismatch] = []
    for name in sorted(providers):
        provider = get_provider(name)
        theirs = {s.order_id: s for s in provider.transactions(municipality, day)}
        mine = {order_id: p for order_id, p in ours.items() if p.provider == name}
        for order_id in sorted(set(mine) | set(theirs)):
            payment, status = mine.get(order_id), theirs.get(order_id)
            kind = _compare(payment, status)
            if kind is None:
                continue
            repaired = False
            if kind == MismatchKind.CAPTURE_MISSING_HERE:
                # Safe to repair: the same capture the notification would have made (and refunds
                # it at once if the request was cancelled or expired meanwhile).
                repaired = settle_from_status(payment, status, "reconciliation")
                payment.refresh_from_db()
            mismatch = Mismatch(order_id, kind, _describe(payment), _describe_theirs(status), repaired)
            found.append(mismatch)
            with transaction.atomic():
                ReconciliationMismatch.objects.update_or_create(
                    provider=name, order_id=order_id, day=day, kind=kind,
                    defaults=dict(municipality=municipality, ours=mismatch.ours, theirs=mismatch.theirs,
                                  repaired=repaired))
    return found


def reconcile_all(day: datetime.date) -> dict[str, list[Mismatch]]:
    return {m.code: reconcile(m, day) for m in Municipality.objects.order_by("code")}

"""Requests that end without a certificate: cancelled, or given up by the resident and expired."""

import datetime

from django.db import transaction
from django.utils import timezone

from madoguchi.payments import ledger
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import CertificateRequest, State
from ._base import _locked, _transition

# Drafts and unpaid requests are given up after this long (the resident can start again).
ABANDON_AFTER = datetime.timedelta(hours=24)


@transaction.atomic
def cancel(request: CertificateRequest, *, actor_kind: str, actor: Staff | None = None,
           reason: str = "") -> CertificateRequest:
    request = _locked(request)
    _transition(request, events.cancelled(request, actor_kind=actor_kind, actor=actor, reason=reason))
    payment = ledger.refundable_payment(request)
    if payment:
        ledger.refund_rest(payment, "cancelled")
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
                _transition(request, events.expired(request))
                ledger.expire_pending(request)
                count += 1
    return count

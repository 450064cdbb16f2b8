"""Requests given up by the resident before paying: expired (cancellation is `cancellation`)."""

import datetime

from django.db import transaction
from django.utils import timezone

from madoguchi.payments import ledger

from .. import events
from ..models import CertificateRequest, State
from ._base import _locked, _transition

# Drafts and unpaid requests are given up after this long (the resident can start again).
ABANDON_AFTER = datetime.timedelta(hours=24)


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

"""Periodic payment work, run by the scheduler (see docs/payments.md)."""

import datetime

from django.utils import timezone
from django_tasks import task

from . import services


@task()
def reconcile_yesterday() -> int:
    """The daily reconciliation: yesterday's payments of every municipality; returns the mismatches."""
    day = timezone.localdate() - datetime.timedelta(days=1)
    return sum(len(found) for found in services.reconcile_all(day).values())


@task()
def recover_payments() -> str:
    """Every few minutes: ask about stale pending payments and resend stuck refunds."""
    return f"recovered {services.recover_pending()}, resent {services.retry_refunds()} refunds"

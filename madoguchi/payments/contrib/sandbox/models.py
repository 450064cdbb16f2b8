"""The sandbox gateway's own ledger: what the 'provider' knows, kept apart from our Payment rows
so that status queries and reconciliation compare two independent records, as with a real one."""

from django.db import models


class SandboxCharge(models.Model):
    charge_id = models.CharField(max_length=40, unique=True)
    merchant_order_id = models.CharField(max_length=40, unique=True)
    # The merchant account (one per municipality), as a real provider keeps one ledger per shop.
    merchant_id = models.CharField(max_length=20, blank=True)
    amount = models.PositiveIntegerField()
    # created, captured, partially_refunded, refunded
    status = models.CharField(max_length=20, default="created")
    refunded_amount = models.PositiveIntegerField(default=0)
    return_url = models.URLField(max_length=500)
    notify_url = models.URLField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)


class SandboxRefund(models.Model):
    """One refund per idempotency key: a repeated call with the same key returns this row."""

    charge = models.ForeignKey(SandboxCharge, on_delete=models.CASCADE, related_name="refunds")
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

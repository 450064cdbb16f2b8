"""The sandbox gateway's own ledger: what the 'provider' knows, kept apart from our Payment rows
so that status queries and reconciliation compare two independent records, as with a real one."""

from django.db import models


class SandboxCharge(models.Model):
    charge_id = models.CharField(max_length=40, unique=True)
    merchant_order_id = models.CharField(max_length=40, unique=True)
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=12, default="created")  # created, captured, refunded
    return_url = models.URLField(max_length=500)
    notify_url = models.URLField(max_length=500)
    refund_key = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)

"""Payments: one row per attempt; provider notifications kept for idempotency."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality, TenantQuerySet


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("支払待ち")
    CAPTURED = "captured", _("支払済み")
    REFUNDED = "refunded", _("返金済み")
    FAILED = "failed", _("失敗")
    EXPIRED = "expired", _("期限切れ")


class Payment(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=30)
    # Our order id, sent to the provider; also the idempotency key of the create call.
    order_id = models.CharField(max_length=40, unique=True)
    provider_payment_id = models.CharField(max_length=64, blank=True)
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            # A request can be paid for once: at most one captured (or refunded) payment.
            models.UniqueConstraint(fields=["request"], condition=Q(status__in=["captured", "refunded"]),
                                    name="one_settled_payment_per_request"),
            # ...and has one open attempt at a time, which is the one that can become captured.
            models.UniqueConstraint(fields=["request"], condition=Q(status="pending"),
                                    name="one_pending_payment_per_request"),
        ]


class ProviderNotification(models.Model):
    """Every server-to-server notification, stored once by its event id (replays are no-ops)."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=80)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="notification_once")]

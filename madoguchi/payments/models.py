"""Payments: one row per attempt; provider notifications kept for idempotency."""

import secrets

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality, TenantQuerySet


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("支払待ち")
    # The card is authorised but not yet captured (GMO-PG's AUTH job); money is held, not taken.
    AUTHORIZED = "authorized", _("与信済み")
    CAPTURED = "captured", _("支払済み")
    PARTIALLY_REFUNDED = "partially_refunded", _("一部返金済み")
    REFUNDED = "refunded", _("返金済み")
    FAILED = "failed", _("失敗")
    EXPIRED = "expired", _("期限切れ")


# Statuses in which the money was taken (or held) for the request.
SETTLED = ["authorized", "captured", "partially_refunded", "refunded"]


def new_order_id(municipality: Municipality) -> str:
    """The municipality code and 80 random bits: 26 characters, within GMO-PG's 27 for OrderID.

    Providers hand the order id back in notifications and returns that name no municipality; the
    code in front finds the town (and, distributed, its shard) before the payment is read."""
    return f"{municipality.code}{secrets.token_hex(10).upper()}"


class PaymentQuerySet(TenantQuerySet):
    def by_order_id(self, order_id: str) -> "PaymentQuerySet":
        """The payment of an order id a provider hands back, within the municipality its code names.
        Anything but an ASCII alphanumeric id of ours (NUL bytes, surrogates, over-long) finds none."""
        if not (isinstance(order_id, str) and 0 < len(order_id) <= 40 and order_id.isascii() and order_id.isalnum()
                and order_id[:6].isdigit()):
            return self.none()
        municipality = Municipality.objects.filter(code=order_id[:6]).first()
        return self.filter(municipality=municipality, order_id=order_id) if municipality else self.none()


class Payment(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=30)
    # Our order id (`new_order_id`), sent to the provider; also the idempotency key of the create call.
    order_id = models.CharField(max_length=40)
    provider_payment_id = models.CharField(max_length=64, blank=True)
    # The provider's page for this attempt, kept so that a second click reuses it.
    checkout_url = models.URLField(max_length=2000, blank=True)
    # The channel's page the resident lands on after the provider's page (a path on this site or an
    # absolute URL): the provider returns to our endpoint, which sends the resident here.
    return_url = models.CharField(max_length=2000, blank=True)
    amount = models.PositiveIntegerField()
    # 0: the request's fee and postage; n: the difference owed after its n-th correction (差戻し).
    sequence = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    refunded_amount = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "order_id"], name="payment_order_id_unique"),
            # A request (and each correction's difference) is paid for once: at most one payment that
            # holds or held its money.
            models.UniqueConstraint(fields=["municipality", "request", "sequence"], condition=Q(status__in=SETTLED),
                                    name="one_settled_payment_per_request"),
            # ...and has one open attempt at a time, which is the one that can become captured.
            models.UniqueConstraint(fields=["municipality", "request"], condition=Q(status="pending"),
                                    name="one_pending_payment_per_request"),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("amount")), name="refund_within_amount"),
        ]

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount if self.status in REFUNDABLE else 0


REFUNDABLE = {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("返金処理中")
    DONE = "done", _("返金済み")


class Refund(models.Model):
    """One refund sent to the provider. Its idempotency key is unique, so a retried task or a
    provider that timed out after refunding can be called again with the same key: money goes back once."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=80)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "idempotency_key"],
                                               name="refund_idempotency_key_unique"),
                       models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]


class MismatchKind(models.TextChoices):
    CAPTURE_MISSING_HERE = "capture_missing_here", _("決済事業者では支払済み・当方は未入金")
    NOT_CAPTURED_AT_PROVIDER = "not_captured_at_provider", _("当方は入金済み・決済事業者に支払なし")
    AMOUNT = "amount", _("金額の不一致")
    REFUND_MISSING_HERE = "refund_missing_here", _("決済事業者では返金済み・当方は未返金")
    REFUND_MISSING_AT_PROVIDER = "refund_missing_at_provider", _("当方は返金済み・決済事業者で未返金")
    UNKNOWN_ORDER = "unknown_order", _("当方に記録のない取引")


class ReconciliationMismatch(models.Model):
    """A difference between our payments and the provider's records for one day, kept for the
    finance section; a rerun of the same day updates the row instead of adding one."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    day = models.DateField()
    provider = models.CharField(max_length=30)
    order_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=30, choices=MismatchKind.choices)
    ours = models.CharField(max_length=200, blank=True)
    theirs = models.CharField(max_length=200, blank=True)
    repaired = models.BooleanField(default=False)
    detected_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "order_id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "provider", "order_id", "day", "kind"],
                                               name="mismatch_once_per_day")]


class ProviderNotification(models.Model):
    """Every server-to-server notification, stored once by its event id (replays are no-ops).

    The municipality is that of the payment the notification names (its order id carries the
    municipality code); none when it names no order of ours, and then nothing is done with it."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True)
    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=80)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "provider", "event_id"], name="notification_once"),
            models.UniqueConstraint(fields=["provider", "event_id"], condition=Q(municipality__isnull=True),
                                    name="orphan_notification_once"),
        ]

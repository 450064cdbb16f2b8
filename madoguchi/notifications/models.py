"""The outbox: a notice row is written in the same transaction as the state change it reports."""

from django.db import models

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality, TenantQuerySet


class NoticeStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"  # e.g. the LINE user blocked the account: never retried
    # The send may or may not have reached the resident (a timeout mid-transfer, a worker killed
    # mid-send) and the transport cannot repeat it safely (e-mail): shown to staff, never resent by itself.
    UNCERTAIN = "uncertain"


class Notice(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="notices")
    # One notice per (request, event): e.g. "received", "mailed", "rejected".
    dedupe_key = models.CharField(max_length=100)
    # Which notice transport delivers it (`transports`): "email", "line".
    transport = models.CharField(max_length=10, default="email")
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=13, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When a worker claimed it for sending: a notice `sending` for longer than the notices queue's
    # lease belonged to a worker that died (notifications.tasks.recover_stuck).
    claimed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [models.UniqueConstraint(fields=["municipality", "dedupe_key"], name="notice_once")]

"""A municipality's LINE official account, its friends, conversations and the webhook inbox."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.registry.models import Resident
from madoguchi.tenancy.models import Municipality, TenantOneToOneField, TenantQuerySet


class LineAccount(models.Model):
    """A municipality's LINE official account: the ids of its two LINE Platform channels (LINE's own
    word, kept in the field names); their secrets are the municipality's encrypted secrets
    LINE_CHANNEL_SECRET and LINE_ACCESS_TOKEN (`tenancy.vault`, docs/line.md)."""

    municipality = models.OneToOneField(Municipality, on_delete=models.PROTECT, related_name="line_account")
    # The Messaging API channel of the official account (webhook, reply, push).
    channel_id = models.CharField(_("Messaging APIチャネルID"), max_length=20)
    # The LINE Login channel that holds the LIFF app: the audience of LIFF ID tokens.
    login_channel_id = models.CharField(_("LINEログインチャネルID"), max_length=20)
    liff_id = models.CharField(_("LIFF ID"), max_length=60)
    active = models.BooleanField(_("有効"), default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("LINE公式アカウント")
        verbose_name_plural = _("LINE公式アカウント")

    def __str__(self) -> str:
        return f"{self.municipality} {self.channel_id}"


class EventOutcome(models.TextChoices):
    PENDING = "pending"
    HANDLED = "handled"
    IGNORED = "ignored"  # an event type we do not act on
    FAILED = "failed"


class WebhookEvent(models.Model):
    """The inbox: every accepted event once, keyed by LINE's webhookEventId, so redeliveries are no-ops."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=40)
    redelivery = models.BooleanField(default=False)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=EventOutcome.choices, default=EventOutcome.PENDING)
    # The answer decided when the event was handled and not yet taken by LINE (messages, reply token,
    # user id): kept only until sent, so a worker that dies in between does not lose it (tasks.py).
    answer = models.JSONField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "event_id"], name="line_event_once")]
        # The drain's claim (tasks.drain_inbox): the oldest pending event of a municipality.
        indexes = [models.Index(fields=["municipality", "id"], condition=models.Q(processed_at__isnull=True),
                                name="line_event_pending")]


class LineUser(models.Model):
    """A LINE user as this municipality's account sees them (user ids differ per provider)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    user_id = models.CharField(max_length=40)
    following = models.BooleanField(default=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    # Set only after a JPKI-verified request and the resident's consent; cleared by 「連携解除」.
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, null=True, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "user_id"], name="line_user_once")]


class Conversation(models.Model):
    """Where a user is in a procedure. In the database, so any web or worker process can continue it."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    line_user = TenantOneToOneField(LineUser, on_delete=models.CASCADE, related_name="conversation")
    procedure = models.CharField(max_length=40)
    step = models.CharField(max_length=40)
    answers = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "line_user"], name="line_conversation_once")]


class RequestBinding(models.Model):
    """The request started in the chat belongs to this LINE user; LIFF proves it before signing."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = TenantOneToOneField(CertificateRequest, on_delete=models.PROTECT, related_name="line_binding")
    line_user = models.ForeignKey(LineUser, on_delete=models.PROTECT, related_name="bindings")
    created_at = models.DateTimeField(auto_now_add=True)
    liff_verified_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "request"], name="line_binding_once")]


class FriendDaily(models.Model):
    """KPI: follow and unfollow events per day per municipality."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    day = models.DateField()
    follows = models.PositiveIntegerField(default=0)
    unfollows = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "day"], name="line_friend_day_once")]

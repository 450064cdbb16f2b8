"""A resident's request for a certificate and its append-only history.

State changes happen only in `madoguchi.applications.actions`; see docs/architecture.md for the
state machine.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.catalog.models import CertificateType
from madoguchi.registry.models import Resident
from madoguchi.tenancy.models import Municipality, TenantOneToOneField, TenantQuerySet


class State(models.TextChoices):
    DRAFT = "draft", _("入力中")
    SIGNED = "signed", _("電子署名済み")
    AWAITING_PAYMENT = "awaiting_payment", _("支払待ち")
    RECEIVED = "received", _("受付済み")
    IN_REVIEW = "in_review", _("審査中")
    # 差戻し: the clerk sent the request back; the resident corrects it before `Correction.deadline`.
    RETURNED = "returned", _("差戻し中")
    APPROVED = "approved", _("承認済み")
    ISSUED = "issued", _("発行済み")
    MAILED = "mailed", _("発送済み")
    # 返戻: the mailed certificate came back to the office (宛所不明, 受取拒否, 保管期間経過 …); it is
    # mailed again (reprinted if need be, with a new tracking number) or cancelled with a refund.
    UNDELIVERED = "undelivered", _("返戻")
    COMPLETED = "completed", _("完了")
    REJECTED = "rejected", _("却下")
    REFUNDED = "refunded", _("却下(返金済み)")
    CANCELLED = "cancelled", _("取消")
    EXPIRED = "expired", _("期限切れ")


# The only transitions an action may make.
TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.SIGNED, State.CANCELLED, State.EXPIRED},
    State.SIGNED: {State.AWAITING_PAYMENT, State.CANCELLED, State.EXPIRED},
    State.AWAITING_PAYMENT: {State.RECEIVED, State.CANCELLED, State.EXPIRED},
    State.RECEIVED: {State.IN_REVIEW, State.APPROVED, State.REJECTED, State.CANCELLED, State.RETURNED},
    State.IN_REVIEW: {State.APPROVED, State.REJECTED, State.CANCELLED, State.RETURNED},
    # Corrected (back to the queue with its reception number), or cancelled (by the resident, or
    # when the correction deadline passed).
    State.RETURNED: {State.RECEIVED, State.CANCELLED},
    State.APPROVED: {State.ISSUED, State.REJECTED},
    State.ISSUED: {State.MAILED},
    State.MAILED: {State.COMPLETED, State.UNDELIVERED},
    State.UNDELIVERED: {State.MAILED, State.CANCELLED},
    State.REJECTED: {State.REFUNDED},
    State.COMPLETED: set(),
    State.REFUNDED: set(),
    State.CANCELLED: set(),
    State.EXPIRED: set(),
}

# States in which a clerk has work to do.
QUEUE_STATES = [State.RECEIVED, State.IN_REVIEW, State.APPROVED, State.ISSUED, State.UNDELIVERED]
# Before approval the resident may still withdraw the request (nothing has been issued yet).
RESIDENT_CANCELLABLE = {State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT, State.RECEIVED, State.IN_REVIEW,
                        State.RETURNED}


class MatchResult(models.TextChoices):
    EXACT = "exact", _("一致")
    NEAR = "near", _("一部不一致")
    NONE = "none", _("該当なし")


class Flag(models.TextChoices):
    UNDER_15 = "under_15", _("15歳未満")
    SUPPORT_MEASURE = "support_measure", _("支援措置対象者")
    NAME_MISMATCH = "name_mismatch", _("氏名が副本と一部不一致")
    ADDRESS_MISMATCH = "address_mismatch", _("住所が副本と一部不一致")
    SUBSTITUTE_CHARACTERS = "substitute_characters", _("署名用電子証明書に代替文字あり")
    # Set by a replica import after the request was made (registry.imports.loader.replica_changed).
    REPLICA_CHANGED = "replica_changed", _("申請後に副本の記録が更新されました")
    RESIDENT_REMOVED = "resident_removed", _("申請後に副本で消除されました(転出・死亡等)")


class RequestChannel(models.TextChoices):
    """Where a request came from (the request channel; docs/glossary.md tells it from the fee
    channel, the notice transport and the LINE account). The kiosk adds its value here."""

    WEB = "web", _("Web")
    LINE = "line", _("LINE")


class CertificateRequest(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="requests")
    # Resident URLs name the municipality next to it (/m/<code>/r/<public_id>/): unique per municipality.
    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # 16 digits, the last a Luhn check digit; assigned at 受付. Random, so not guessable.
    reception_number = models.CharField(max_length=16, null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    channel = models.CharField(max_length=10, choices=RequestChannel.choices, default=RequestChannel.WEB)
    certificate_type = models.CharField(max_length=40, choices=CertificateType.choices)
    options = models.JSONField(default=dict)
    copies = models.PositiveSmallIntegerField(default=1)
    purpose = models.CharField(max_length=40)
    purpose_detail = models.CharField(max_length=200, blank=True)
    postage_class = models.CharField(max_length=20)
    fee_per_copy = models.PositiveIntegerField()
    postage_amount = models.PositiveIntegerField()
    total_amount = models.PositiveIntegerField()
    # The 手数料条例's reason when the fee was waived for the purpose (kept with the request).
    fee_exemption_reason = models.CharField(max_length=200, blank=True)
    notice_email = models.EmailField(blank=True)
    # Filled from the verified signing certificate and the replica match.
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="requests")
    match_result = models.CharField(max_length=10, choices=MatchResult.choices, blank=True)
    match_detail = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    # Findings of the restriction rules (documents.kinds._rules.Finding.as_json): entitlement, 支援措置,
    # 発行停止, re-checks. `held`: nobody may approve or print until a manager releases it.
    restrictions = models.JSONField(default=list, blank=True)
    held = models.BooleanField(default=False)
    delivery_name = models.CharField(max_length=100, blank=True)
    delivery_postal_code = models.CharField(max_length=8, blank=True)
    delivery_address = models.CharField(max_length=200, blank=True)
    expected_ship_date = models.DateField(null=True, blank=True)
    tracking_number = models.CharField(max_length=30, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    received_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "state", "received_at"])]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="request_public_id_unique"),
            models.UniqueConstraint(fields=["municipality", "reception_number"], name="reception_number_unique"),
        ]

    def __str__(self) -> str:
        return self.formatted_reception_number or str(self.public_id)

    @property
    def formatted_reception_number(self) -> str:
        n = self.reception_number or ""
        return "-".join(n[i:i + 4] for i in range(0, len(n), 4))

    @property
    def auto_acceptable(self) -> bool:
        """Clean automatic checks: exact replica match, no flag, no restriction finding, not held."""
        return self.match_result == MatchResult.EXACT and not self.flags and not self.restrictions and not self.held

    @property
    def restriction_codes(self) -> list[str]:
        return [f["code"] for f in self.restrictions]

    def restriction_rows(self) -> list[dict]:
        """The findings with their labels, for the clerk's screen."""
        from madoguchi.registry.restrictions import Outcome, ReasonCode

        return [{**f, "label": str(ReasonCode(f["code"]).label), "outcome_label": str(Outcome(f["outcome"]).label)}
                for f in self.restrictions]

    def option_rows(self) -> list[tuple[str, str]]:
        from madoguchi.catalog.services import describe_options

        return describe_options(self.options)

    @property
    def purpose_label(self) -> str:
        from madoguchi.catalog.services import PURPOSES

        return str(dict(PURPOSES).get(self.purpose, self.purpose))

    def flag_labels(self) -> list[str]:
        return [str(Flag(f).label) for f in self.flags]


class EventKind(models.TextChoices):
    """What happened to a request: one kind per thing an action does (see `applications.events`)."""

    CREATED = "created", _("申請作成")
    SIGNED = "signed", _("電子署名")
    PAYMENT_STARTED = "payment_started", _("支払開始")
    RECEIVED = "received", _("受付")
    REVIEW_STARTED = "review_started", _("審査開始")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("却下")
    ISSUED = "issued", _("発行(印刷)")
    REPRINTED = "reprinted", _("再印刷")
    MAILED = "mailed", _("発送")
    UNDELIVERED = "undelivered", _("返戻(郵便物が戻った)")
    COMPLETED = "completed", _("完了")
    CANCELLED = "cancelled", _("取消")
    EXPIRED = "expired", _("期限切れ")
    REFUNDED = "refunded", _("返金")
    COPIES_REDUCED = "copies_reduced", _("通数変更・一部返金")
    RETURNED = "returned", _("差戻し")
    CORRECTED = "corrected", _("申請内容の補正")
    RESUBMITTED = "resubmitted", _("補正後の再提出")
    REFUSED = "refused", _("受付不可(発行制限)")
    HELD = "held", _("保留(発行制限)")
    HOLD_RELEASED = "hold_released", _("保留の解除")
    PERSONAL_NOTICE = "personal_notice", _("本人通知")


class RequestEvent(models.Model):
    """Append-only history: every transition, who made it, and why.

    `kind` and `data` are what statistics and audits query; `reason` is the same fact in words for
    a person reading the history. Rows are built by `applications.events`, one function per kind.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=20, choices=State.choices)
    to_state = models.CharField(max_length=20, choices=State.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor_kind = models.CharField(max_length=20)  # resident, staff, system, provider
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    data = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]


class SatisfactionAnswer(models.Model):
    """KPI (resident satisfaction, 5-point survey): the resident's 1–5 answer after 完了, from any
    channel, with an optional comment; the first answer per request counts."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = TenantOneToOneField(CertificateRequest, on_delete=models.PROTECT, related_name="satisfaction")
    score = models.PositiveSmallIntegerField(_("満足度"))
    comment = models.CharField(_("ご意見"), max_length=500, blank=True)
    channel = models.CharField(max_length=10, choices=RequestChannel.choices)
    answered_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "request"], name="satisfaction_once"),
                       models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5),
                                              name="satisfaction_1_to_5")]


class ConfirmationCode(models.Model):
    """A one-time code sent to the request's notice address or LINE account, proving the person who
    asks to cancel is the one who applied. Only a hash is kept; single use, short-lived, and burnt
    after a few wrong tries."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="confirmation_codes")
    purpose = models.CharField(max_length=20, default="cancel")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    wrong_tries = models.PositiveSmallIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "request", "purpose"])]


class ReturnReason(models.TextChoices):
    """The 定型文 a clerk picks when sending a request back (the free text adds to it)."""

    COPIES = "copies", _("通数をご確認ください。")
    PURPOSE = "purpose", _("使いみちが分かりません。具体的にご記入ください。")
    OPTIONS = "options", _("記載事項の選択が使いみちに合っていません。")
    OTHER = "other", _("申請内容をご確認ください。")


class UndeliveredReason(models.TextChoices):
    """The 定型文 a clerk picks when a mailed certificate comes back (as the post office marks it)."""

    ADDRESS_UNKNOWN = "address_unknown", _("宛所不明(あて所に尋ねあたりません)")
    MOVED = "moved", _("転居先不明")
    REFUSED = "refused", _("受取拒否")
    UNCLAIMED = "unclaimed", _("保管期間経過")
    OTHER = "other", _("その他")


class CorrectionStatus(models.TextChoices):
    OPEN = "open", _("補正待ち")
    SIGNING = "signing", _("再署名待ち")
    PAYING = "paying", _("差額の支払待ち")
    DONE = "done", _("再提出済み")
    LAPSED = "lapsed", _("期限切れ")
    CANCELLED = "cancelled", _("取消")


OPEN_CORRECTION = [CorrectionStatus.OPEN, CorrectionStatus.SIGNING, CorrectionStatus.PAYING]


class Correction(models.Model):
    """One 差戻し: why the clerk sent the request back, until when the resident may correct it, the
    terms as they were, and how far the correction got (terms changed → signed again → difference paid)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="corrections")
    number = models.PositiveSmallIntegerField()  # 1 for the request's first 差戻し
    reason_code = models.CharField(max_length=20, choices=ReturnReason.choices)
    reason_text = models.CharField(max_length=500, blank=True)
    returned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    returned_at = models.DateTimeField(auto_now_add=True)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=10, choices=CorrectionStatus.choices, default=CorrectionStatus.OPEN)
    # The terms before the first change (the signed ones), and the amount still to pay (>0) or refund (<0).
    old_terms = models.JSONField(default=dict, blank=True)
    difference = models.IntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "request", "number"], name="correction_number_unique"),
            models.UniqueConstraint(fields=["municipality", "request"], condition=models.Q(status__in=OPEN_CORRECTION),
                                    name="one_open_correction_per_request"),
        ]

    @property
    def reason_display(self) -> str:
        text = str(ReturnReason(self.reason_code).label)
        return f"{text}\n{self.reason_text}" if self.reason_text else text

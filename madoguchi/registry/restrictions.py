"""Restrictions on issuing certificates about a person: the reason codes, the municipality's
protection settings, the support measures (支援措置) and issuance stops (発行停止) the rules read,
service windows per kind and channel, and the registrations for the 本人通知制度.

Each rule that reads these tables names its legal basis next to it (`registry.protection`,
`documents.kinds.<kind>.ENTITLEMENT`); docs/restrictions.md explains them.

`SupportMeasureRecord` mirrors the replica's `SupportMeasure` (branch i11-replica) field for field;
once the replica carries it, `registry.protection` reads that model and this one goes.
`IssuanceStopOrder` is the 発行停止 a manager places in Madoguchi itself; the replica's
`IssuanceStop` (stops recorded in the core system) is read next to it.
"""

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantQuerySet


class Outcome(models.TextChoices):
    """What a finding does to a request, from the mildest: a clerk must look (REVIEW), a manager
    must release it before anyone may approve or print (HOLD), it may not be issued (REFUSE)."""

    REVIEW = "review", _("職員の確認が必要")
    HOLD = "hold", _("保留(管理者の解除が必要)")
    REFUSE = "refuse", _("発行不可")


OUTCOME_ORDER = {Outcome.REVIEW: 1, Outcome.HOLD: 2, Outcome.REFUSE: 3}


class ReasonCode(models.TextChoices):
    """Every refusal and hold names one of these (RequestEvent.data["codes"], statistics)."""

    # Entitlement (住民基本台帳法 第12条・第12条の3・第20条, 戸籍法 第10条・第10条の2, 地方税法 第22条).
    NOT_ENTITLED = "not_entitled", _("請求できる関係にない(第三者請求は窓口)")
    RELATIVE_OTHER_HOUSEHOLD = "relative_other_household", _("別世帯の配偶者・直系親族(正当な理由の審査)")
    RELATION_UNPROVEN = "relation_unproven", _("続柄を副本で確認できない")
    TAX_HOUSEHOLD_MEMBER = "tax_household_member", _("同一世帯員の税証明")
    # Eligibility of the subject (checked when the resident signs, before paying).
    SUBJECT_NOT_FOUND = "subject_not_found", _("対象者が副本にない")
    KOSEKI_NOT_FOUND = "koseki_not_found", _("戸籍が副本にない")
    SEAL_NOT_REGISTERED = "seal_not_registered", _("印鑑登録がない(未登録・廃止)")
    TAX_RECORD_MISSING = "tax_record_missing", _("その年度の課税情報がない")
    # 支援措置 (住民基本台帳事務処理要領 第5-10, 第6-10; 住民基本台帳法 第12条第6項).
    SUPPORT_MEASURE_SUBJECT = "support_measure_subject", _("支援措置対象者が記載される")
    SUPPORT_MEASURE_OFFENDER = "support_measure_offender", _("請求者が支援措置の相手方")
    SUPPORT_MEASURE_SELF = "support_measure_self", _("支援措置対象者本人の請求")
    # 発行停止 (住民基本台帳法 第12条第6項, 戸籍法 第10条第2項).
    ISSUANCE_STOPPED = "issuance_stopped", _("発行停止中の人が記載される")
    # The replica changed after signing.
    REQUESTER_MOVED = "requester_moved", _("署名後に住所が変わった")
    SUBJECT_DECEASED = "subject_deceased", _("請求者が死亡として記録された")
    # The signing certificate at approval or printing (its 失効情報 from J-LIS).
    CARD_REVOKED = "card_revoked", _("署名用電子証明書が失効した")
    CARD_UNVERIFIABLE = "card_unverifiable", _("署名用電子証明書の失効確認ができない")
    # Service windows.
    OUTSIDE_HOURS = "outside_hours", _("受付・審査の時間外")


class ThirdPartyPolicy(models.TextChoices):
    REFUSE = "refuse", _("オンラインでは受け付けず、窓口を案内する")
    REVIEW = "review", _("職員が請求の理由を審査する")


class ProtectionPolicy(models.Model):
    """A municipality's choices where the law leaves them to the municipality (docs/restrictions.md).
    Without a row the defaults apply."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    # 住民票 of a spouse or lineal relative in another household: 住民基本台帳法 第12条の3 (正当な理由).
    relative_other_household = models.CharField(
        _("別世帯の配偶者・直系親族からの住民票請求"), max_length=8, choices=ThirdPartyPolicy.choices,
        default=ThirdPartyPolicy.REFUSE)
    # A relation the replica suggests by name only (e.g. a parent whose 戸籍 is elsewhere).
    unproven_relation = models.CharField(
        _("副本で確認できない続柄による戸籍・附票の請求"), max_length=8, choices=ThirdPartyPolicy.choices,
        default=ThirdPartyPolicy.REVIEW)
    # The protected person's own 住民票・附票 (municipal practice: 窓口のみ, strict identity check).
    protected_self_request = models.CharField(
        _("支援措置対象者本人の請求"), max_length=8, choices=ThirdPartyPolicy.choices,
        default=ThirdPartyPolicy.REVIEW)
    # 課税証明 for a member of the same household (地方税法 第20条の10, 第22条; the municipality's 規程).
    tax_household = models.CharField(_("同一世帯員の税証明の請求"), max_length=8, choices=ThirdPartyPolicy.choices,
                                     default=ThirdPartyPolicy.REFUSE)
    # What the 本人通知 says (the municipality's 要綱): a subset of NOTICE_ITEMS.
    personal_notice_items = models.JSONField(_("本人通知の記載事項"), default=list, blank=True)
    where_to_apply = models.CharField(_("窓口の案内"), max_length=200, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="one_protection_policy")]


NOTICE_ITEMS = ("issued_on", "certificate", "copies", "requester_category")


def policy_for(municipality) -> ProtectionPolicy:
    policy = ProtectionPolicy.objects.filter(municipality=municipality).first()
    return policy or ProtectionPolicy(municipality=municipality, personal_notice_items=list(NOTICE_ITEMS))


class SupportMeasureKind(models.TextChoices):
    DV = "dv", _("配偶者からの暴力")
    STALKING = "stalking", _("ストーカー行為等")
    CHILD_ABUSE = "child_abuse", _("児童虐待")
    OTHER = "other", _("その他これらに準ずる行為")


class SupportMeasureRecord(models.Model):
    """支援措置 of one protected person, with the 相手方 (加害者) where known. Same fields as the
    replica's `SupportMeasure`."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="+")
    measure_number = models.CharField(_("支援措置番号"), max_length=20)
    kind = models.CharField(_("種別"), max_length=12, choices=SupportMeasureKind.choices)
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了予定日"), null=True, blank=True)
    # [{"name": ..., "date_of_birth": "YYYY-MM-DD", "person_number": ... (when a resident here)}]
    perpetrators = models.JSONField(_("相手方(加害者)"), default=list, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "measure_number"],
                                               name="support_measure_record_number_unique")]

    def is_active(self, on: datetime.date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


class StopGround(models.TextChoices):
    SELF_REQUEST = "self_request", _("本人申出")
    SUSPECTED_FRAUD = "suspected_fraud", _("不正請求の疑い")
    COURT_ORDER = "court_order", _("裁判所の命令等")


class IssuanceStopOrder(models.Model):
    """発行停止 placed by a manager: nothing naming the person is issued, on any channel, while it
    runs (住民基本台帳法 第12条第6項 and 戸籍法 第10条第2項: a request for an improper purpose is
    refused). Lifting keeps the row, with who lifted it and why."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="+")
    ground = models.CharField(_("理由の区分"), max_length=16, choices=StopGround.choices)
    reason = models.CharField(_("理由"), max_length=300)
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了日"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    lift_reason = models.CharField(_("解除の理由"), max_length=300, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "resident"])]

    def is_active(self, on: datetime.date) -> bool:
        return (self.lifted_at is None and self.starts_on <= on
                and (self.ends_on is None or on <= self.ends_on))


class WindowStage(models.TextChoices):
    REQUEST = "request", _("申請の受付")
    REVIEW = "review", _("審査・承認")
    ISSUE = "issue", _("印刷・発行")


class ServiceWindow(models.Model):
    """When a kind may be requested, reviewed or issued on a channel. Where a municipality defines
    windows for a (stage, kind, channel), that step is allowed only inside one of them; blank kind
    or channel means every kind or channel."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(_("段階"), max_length=8, choices=WindowStage.choices)
    certificate_type = models.CharField(_("証明書"), max_length=40, blank=True)
    channel = models.CharField(_("経路"), max_length=10, blank=True)
    # Days of the week as digits, Monday 0 ... Sunday 6.
    weekdays = models.CharField(_("曜日"), max_length=7, default="01234")
    business_days_only = models.BooleanField(_("開庁日のみ"), default=True)
    opens_at = models.TimeField(_("開始時刻"))
    closes_at = models.TimeField(_("終了時刻"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "stage"])]


class PersonalNoticeChallenge(models.Model):
    """The one-time text a resident signs with their card to register for the 本人通知制度."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    email = models.EmailField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "nonce"], name="personal_notice_challenge_once")]


class PersonalNoticeRegistration(models.Model):
    """本人通知制度 (each municipality's 要綱): the resident asked, after signing with their My Number
    Card, to be told when a 住民票, 附票 or 戸籍 naming them is issued to an agent or a third party."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("通知先メールアドレス"))
    registered_at = models.DateTimeField()
    valid_until = models.DateField(_("有効期限"), null=True, blank=True)
    # The signing certificate's serial and the one-time nonce it signed (evidence of the 申出).
    jpki_serial = models.CharField(max_length=64)
    nonce = models.CharField(max_length=64)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "nonce"], name="personal_notice_nonce_once"),
                       models.UniqueConstraint(fields=["municipality", "resident"],
                                               condition=models.Q(withdrawn_at__isnull=True),
                                               name="one_personal_notice_registration")]

    def is_active(self, on: datetime.date) -> bool:
        return self.withdrawn_at is None and (self.valid_until is None or on <= self.valid_until)


def window_open(municipality, stage: str, certificate_type: str, channel: str, at: datetime.datetime) -> bool:
    """Whether `stage` of `certificate_type` on `channel` is allowed at `at` (local time). No window
    defined for it means always."""
    from django.utils import timezone

    from madoguchi.catalog.calendar import is_business_day

    windows = [w for w in ServiceWindow.objects.filter(municipality=municipality, stage=stage)
               if w.certificate_type in ("", certificate_type) and w.channel in ("", channel)]
    if not windows:
        return True
    local = timezone.localtime(at)
    for window in windows:
        if str(local.weekday()) not in window.weekdays:
            continue
        if window.business_days_only and not is_business_day(local.date(), municipality.closed_dates):
            continue
        if window.opens_at <= local.time() < window.closes_at:
            return True
    return False

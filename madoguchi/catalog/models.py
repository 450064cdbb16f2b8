"""What a resident may ask for and what it costs: certificate types, fees per channel, postage."""

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantQuerySet


class CertificateType(models.TextChoices):
    RESIDENCE = "residence_certificate", _("住民票の写し")
    RESIDENCE_ENTRY = "residence_entry_certificate", _("住民票記載事項証明書")
    SEAL = "seal_certificate", _("印鑑登録証明書")
    KOSEKI_FULL = "koseki_full", _("戸籍全部事項証明書")
    KOSEKI_INDIVIDUAL = "koseki_individual", _("戸籍個人事項証明書")
    KOSEKI_FUHYO = "koseki_fuhyo", _("戸籍の附票の写し")
    TAX = "tax_certificate", _("課税(非課税)・所得証明書")


class FeeChannel(models.TextChoices):
    COUNTER = "counter", _("窓口")
    MAIL = "mail", _("郵送")
    CONVENIENCE_STORE = "convenience_store", _("コンビニ")
    ONLINE = "online", _("オンライン")


class Fee(models.Model):
    """Fee per certificate per channel, valid in a period (campaigns are rows with an end date)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="fees")
    certificate_type = models.CharField(max_length=40, choices=CertificateType.choices)
    channel = models.CharField(max_length=20, choices=FeeChannel.choices)
    amount = models.PositiveIntegerField(_("手数料(円)"))
    valid_from = models.DateField(default=datetime.date(2000, 1, 1))
    valid_until = models.DateField(null=True, blank=True)
    # Shown to the resident next to the fee while the row is in force, e.g. "オンライン申請10円キャンペーン".
    campaign_name = models.CharField(_("キャンペーン名"), max_length=60, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "certificate_type", "channel"])]
        constraints = [models.CheckConstraint(condition=models.Q(valid_until__isnull=True)
                                              | models.Q(valid_until__gte=models.F("valid_from")),
                                              name="fee_period_ordered")]


class FeeExemption(models.Model):
    """A purpose for which the municipality's 手数料条例 waives the fee (e.g. 公的年金の請求).
    The reason (the 条例's article) is copied onto each request it applies to."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="fee_exemptions")
    purpose = models.CharField(_("使いみち"), max_length=40)
    # Blank: every certificate type.
    certificate_type = models.CharField(max_length=40, choices=CertificateType.choices, blank=True)
    reason = models.CharField(_("免除の根拠"), max_length=200)
    valid_from = models.DateField(default=datetime.date(2000, 1, 1))
    valid_until = models.DateField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()


class PostageClass(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="postage_classes")
    code = models.CharField(max_length=20)
    name = models.CharField(_("郵送方法"), max_length=40)
    amount = models.PositiveIntegerField(_("郵便料(円)"))
    offered = models.BooleanField(_("提供する"), default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="postage_code_unique")]


class RequestChannelOffered(models.TextChoices):
    """Where residents may start a request (the channels of `applications.RequestChannel` a
    municipality opens; counter and mail requests are registered by staff)."""

    WEB = "web", _("ウェブ")
    LINE = "line", _("LINE")


class CatalogSettings(models.Model):
    """What one municipality offers online: certificate kinds, purposes and request channels.
    Empty lists mean "all" (a municipality that never chose). `version` guards the manager's catalog
    forms (fees, campaigns, exemptions, offering) against a stale save."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    certificate_types = models.JSONField(default=list, blank=True)
    purposes = models.JSONField(default=list, blank=True)
    request_channels = models.JSONField(default=list, blank=True)
    # When a manager last saved the fee table (the first-run checklist asks for it once).
    fees_reviewed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="one_catalog_settings")]

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


class Channel(models.TextChoices):
    COUNTER = "counter", _("窓口")
    MAIL = "mail", _("郵送")
    CONVENIENCE_STORE = "convenience_store", _("コンビニ")
    ONLINE = "online", _("オンライン")


class Fee(models.Model):
    """Fee per certificate per channel, valid in a period (campaigns are rows with an end date)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="fees")
    certificate_type = models.CharField(max_length=40, choices=CertificateType.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    amount = models.PositiveIntegerField(_("手数料(円)"))
    valid_from = models.DateField(default=datetime.date(2000, 1, 1))
    valid_until = models.DateField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "certificate_type", "channel"])]


class PostageClass(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="postage_classes")
    code = models.CharField(max_length=20)
    name = models.CharField(_("郵送方法"), max_length=40)
    amount = models.PositiveIntegerField(_("郵便料(円)"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="postage_code_unique")]

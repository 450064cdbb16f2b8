"""The replica (副本) of the resident register (住民記録), fed by linkage files from the core system.

Certificates are rendered from these rows, so the service keeps issuing while the core systems are
down. Names are stored exactly as recorded, including ideographic variation sequences (IVS).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantQuerySet


class Sex(models.TextChoices):
    # Codes as in JPKI certificates and 住民記録: 1 男, 2 女.
    MALE = "1", _("男")
    FEMALE = "2", _("女")


class Household(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="households")
    household_number = models.CharField(_("世帯番号"), max_length=16)
    postal_code = models.CharField(_("郵便番号"), max_length=8)
    address = models.CharField(_("住所"), max_length=200)
    head = models.ForeignKey("Resident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "household_number"],
                                               name="household_number_unique_per_municipality")]


class Resident(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="residents")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members")
    # 宛名番号: the core system's internal person number. Never a My Number.
    person_number = models.CharField(_("宛名番号"), max_length=16)
    name = models.CharField(_("氏名"), max_length=100)
    name_kana = models.CharField(_("ふりがな"), max_length=200)
    date_of_birth = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices)
    relationship = models.CharField(_("続柄"), max_length=20)
    honseki = models.CharField(_("本籍"), max_length=200, blank=True)
    koseki_head = models.CharField(_("筆頭者"), max_length=100, blank=True)
    former_surname = models.CharField(_("旧氏"), max_length=50, blank=True)
    alias = models.CharField(_("通称"), max_length=100, blank=True)
    nationality = models.CharField(_("国籍・地域"), max_length=50, blank=True)
    became_resident_on = models.DateField(_("住民となった日"))
    # 支援措置 (DV, stalking, child abuse): requests about this person always go to a clerk.
    support_measure = models.BooleanField(_("支援措置対象"), default=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person_number"],
                                               name="person_number_unique_per_municipality")]
        indexes = [models.Index(fields=["municipality", "date_of_birth"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_foreign(self) -> bool:
        return bool(self.nationality)

    @property
    def address(self) -> str:
        return self.household.address

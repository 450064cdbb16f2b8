"""The replica (副本) of the resident register (住民記録), fed by linkage files from the core system.

Certificates are rendered from these rows, so the service keeps issuing while the core systems are
down. Names are stored exactly as recorded, including ideographic variation sequences (IVS).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantOneToOneField, TenantQuerySet


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


class SealRegistration(models.Model):
    """印鑑登録 (each municipality's 印鑑条例): one registered seal per resident, with its impression."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="seal_registrations")
    resident = TenantOneToOneField(Resident, on_delete=models.CASCADE, related_name="seal_registration")
    registration_number = models.CharField(_("印鑑登録番号"), max_length=16)
    registered_on = models.DateField(_("登録日"))
    impression_png = models.BinaryField(_("印影(PNG)"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "registration_number"],
                                               name="seal_registration_number_unique"),
                       models.UniqueConstraint(fields=["municipality", "resident"], name="one_seal_per_resident")]


class Koseki(models.Model):
    """A 戸籍 whose 本籍 is in this municipality (戸籍法 第6条: one per 本籍 and 筆頭者), as the
    computerized register (戸籍法施行規則 付録第22号様式) records it."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="koseki")
    honseki = models.CharField(_("本籍"), max_length=200)
    head_name = models.CharField(_("筆頭者"), max_length=100)
    # 戸籍事項: [{"kind": "戸籍編製", "date": "YYYY-MM-DD"}, ...]
    events = models.JSONField(_("戸籍事項"), default=list)
    # 本籍 and 筆頭者 as a resident would type them (`registry.matching.koseki_lookup_key`).
    lookup_key = models.CharField(max_length=320)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "honseki", "head_name"],
                                               name="koseki_unique_per_honseki_and_head")]
        indexes = [models.Index(fields=["municipality", "lookup_key"])]


class KosekiMember(models.Model):
    """戸籍に記録されている者, in the order of the register; `resident` when they live here."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    koseki = models.ForeignKey(Koseki, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveSmallIntegerField()
    resident = models.ForeignKey(Resident, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="koseki_entries")
    name = models.CharField(_("氏名"), max_length=100)
    date_of_birth = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices)
    father = models.CharField(_("父"), max_length=100, blank=True)
    mother = models.CharField(_("母"), max_length=100, blank=True)
    relationship = models.CharField(_("続柄"), max_length=20)  # 長男, 二女, ...
    removed = models.BooleanField(_("除籍"), default=False)
    # 身分事項: [{"kind": "出生", "date": "YYYY-MM-DD", "details": [["出生地", "..."], ...]}, ...]
    events = models.JSONField(_("身分事項"), default=list)
    # 戸籍の附票: [{"address": "...", "since": "YYYY-MM-DD"}, ...], oldest first (住民基本台帳法 第17条)
    address_history = models.JSONField(_("住所の履歴"), default=list)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["koseki", "position"]


class TaxRecord(models.Model):
    """個人住民税 of one fiscal year (年度, assessed on the previous calendar year's income)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="tax_records")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tax_records")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    salary_income = models.PositiveIntegerField(_("給与収入"), default=0)
    income = models.PositiveIntegerField(_("所得金額"))
    deductions = models.PositiveIntegerField(_("所得控除額"))
    dependents = models.PositiveSmallIntegerField(_("扶養人数"), default=0)
    municipal_tax = models.PositiveIntegerField(_("市町村民税"))
    prefectural_tax = models.PositiveIntegerField(_("道府県民税"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "resident", "fiscal_year"],
                                               name="tax_record_per_year")]

    @property
    def taxable_income(self) -> int:
        return max(0, self.income - self.deductions)

    @property
    def total_tax(self) -> int:
        return self.municipal_tax + self.prefectural_tax


# The restriction tables live in their own module (docs/restrictions.md).
from .restrictions import (  # noqa: E402,F401
    IssuanceStopOrder,
    PersonalNoticeChallenge,
    PersonalNoticeRegistration,
    ProtectionPolicy,
    ServiceWindow,
    SupportMeasureRecord,
)

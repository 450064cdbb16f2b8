"""Fees and postage: the amount shown to the resident is computed here and charged as shown."""

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality

from .models import CatalogSettings, CertificateType, Fee, FeeChannel, FeeExemption, PostageClass, RequestChannelOffered

MAX_COPIES = 10

# Purposes offered as choices; "other" asks for a short free text.
PURPOSES = [
    ("bank", _("金融機関の手続き")),
    ("vehicle", _("自動車の登録・車庫証明")),
    ("employment", _("就職・勤務先への提出")),
    ("pension", _("年金・保険の手続き")),
    ("housing", _("不動産・住宅の手続き")),
    ("school", _("学校・入試の手続き")),
    ("other", _("その他")),
]

# How the options of a request read to a clerk: key -> (label, {value: text}).
OPTION_LABELS = {
    "scope": (_("証明が必要な人"), {"self": _("本人のみ"), "household": _("世帯全員"), "partial": _("世帯の一部"),
                                        "other": _("別の世帯の人・同じ世帯の人(氏名で指定)")}),
    "subject_name": (_("証明が必要な人の氏名"), {}),
    "subject_birth_date": (_("証明が必要な人の生年月日"), {}),
    "members": (_("必要な人の氏名"), {}),
    "show_relationship": (_("世帯主の氏名と続柄"), {True: _("記載する"), False: _("記載しない")}),
    "show_honseki": (_("本籍と筆頭者"), {True: _("記載する"), False: _("記載しない")}),
    "show_residence_status": (_("在留資格・在留期間・在留カード等の番号・第30条の45区分"),
                              {True: _("記載する"), False: _("記載しない")}),
    "honseki": (_("本籍"), {}),
    "koseki_head": (_("筆頭者"), {}),
    "fiscal_year": (_("年度"), {}),
    "tax_certificate_form": (_("証明書の種類"), {"both": _("所得・課税証明書"), "income": _("所得証明書"),
                                             "tax": _("課税(非課税)証明書")}),
}


def describe_options(options: dict) -> list[tuple[str, str]]:
    """[(label, text)] for the options that were given, in a stable order."""
    rows = []
    for key, (label, values) in OPTION_LABELS.items():
        value = options.get(key)
        if value in (None, ""):
            continue
        rows.append((str(label), str(values.get(value, value))))
    return rows


class CatalogError(Exception):
    pass


_remembered: ContextVar[dict[int, CatalogSettings] | None] = ContextVar("catalog_settings_remembered", default=None)


@contextmanager
def settings_remembered() -> Iterator[None]:
    """Within this block each municipality's offering is read once: for a batch of work that asks
    for it again and again (the LINE worker's batch of events, in one transaction)."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def catalog_settings(municipality: Municipality) -> CatalogSettings:
    """The municipality's offering (an unsaved default offering everything when never chosen)."""
    remembered = _remembered.get()
    if remembered is not None and municipality.pk in remembered:
        return remembered[municipality.pk]
    found = CatalogSettings.objects.for_municipality(municipality).first() or CatalogSettings(
        municipality=municipality)
    if remembered is not None:
        remembered[municipality.pk] = found
    return found


def offered_types(municipality: Municipality, settings: CatalogSettings | None = None) -> list[str]:
    chosen = (settings or catalog_settings(municipality)).certificate_types
    return [t for t in CertificateType.values if not chosen or t in chosen]


def offered_purposes(municipality: Municipality, settings: CatalogSettings | None = None) -> list[tuple]:
    chosen = (settings or catalog_settings(municipality)).purposes
    return [(code, label) for code, label in PURPOSES if not chosen or code in chosen]


def offers_request_channel(municipality: Municipality, channel: str) -> bool:
    chosen = catalog_settings(municipality).request_channels
    return not chosen or channel in chosen or channel not in RequestChannelOffered.values


def offered_postage(municipality: Municipality):
    return PostageClass.objects.for_municipality(municipality).filter(offered=True).order_by("amount", "id")


@dataclass(frozen=True)
class Quote:
    fee_per_copy: int
    copies: int
    postage_amount: int
    exemption_reason: str = ""
    campaign_name: str = ""

    @property
    def fee_total(self) -> int:
        return self.fee_per_copy * self.copies

    @property
    def total(self) -> int:
        return self.fee_total + self.postage_amount


def _in_force(on: datetime.date) -> Q:
    return Q(valid_from__lte=on) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def fee_for(municipality: Municipality, certificate_type: str, channel: str, on: datetime.date) -> int:
    """The fee in force on `on` (both period ends included)."""
    return fee_row(municipality, certificate_type, channel, on).amount


def fee_row(municipality: Municipality, certificate_type: str, channel: str, on: datetime.date) -> Fee:
    """A campaign row (with an end date) wins over the standing fee; of overlapping campaigns the
    one ending first, then the one started last."""
    fee = (
        Fee.objects.for_municipality(municipality)
        .filter(_in_force(on), certificate_type=certificate_type, channel=channel)
        .order_by(F("valid_until").asc(nulls_last=True), "-valid_from", "-id")  # campaigns first
        .first()
    )
    if fee is None:
        raise CatalogError(_("この証明書は現在オンラインで申請できません。"))
    return fee


def exemption_for(municipality: Municipality, certificate_type: str, purpose: str, on: datetime.date) -> str:
    """The 条例's reason when the fee is waived for this purpose on `on`, else ""."""
    exemption = (FeeExemption.objects.for_municipality(municipality)
                 .filter(_in_force(on), purpose=purpose)
                 .filter(Q(certificate_type="") | Q(certificate_type=certificate_type))
                 .order_by("id").first())
    return exemption.reason if exemption else ""


def quote(municipality: Municipality, certificate_type: str, copies: int, postage_code: str,
          on: datetime.date, *, purpose: str, channel: str = FeeChannel.ONLINE) -> Quote:
    """What the resident is shown and, unchanged, charged: fee × copies + postage, the fee waived
    when the 条例 exempts the purpose (postage is still paid).

    The one quote of every channel (web confirmation, LINE summary, the draft that is charged, a
    correction): `purpose` is required so that no channel can quote without the exemption."""
    if not 1 <= copies <= MAX_COPIES:
        raise CatalogError(_("通数は1通から10通までです。"))
    settings = catalog_settings(municipality)
    if certificate_type not in offered_types(municipality, settings):
        raise CatalogError(_("この証明書は現在オンラインで申請できません。"))
    if purpose and purpose not in dict(offered_purposes(municipality, settings)):
        raise CatalogError(_("使いみちを選び直してください。"))
    postage = offered_postage(municipality).filter(code=postage_code).first()
    if postage is None:
        raise CatalogError(_("郵送方法を選び直してください。"))
    fee = fee_row(municipality, certificate_type, channel, on)
    reason = exemption_for(municipality, certificate_type, purpose, on) if purpose else ""
    return Quote(0 if reason else fee.amount, copies, postage.amount, exemption_reason=reason,
                 campaign_name="" if reason else fee.campaign_name)

"""Fees and postage: the amount shown to the resident is computed here and charged as shown."""

import datetime
from dataclasses import dataclass

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality

from .models import CertificateType, Channel, Fee, PostageClass

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

# Types that go all the way to a printed document in this release.
RENDERABLE_TYPES = set(CertificateType)


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class Quote:
    fee_per_copy: int
    copies: int
    postage_amount: int

    @property
    def fee_total(self) -> int:
        return self.fee_per_copy * self.copies

    @property
    def total(self) -> int:
        return self.fee_total + self.postage_amount


def fee_for(municipality: Municipality, certificate_type: str, channel: str, on: datetime.date) -> int:
    """The fee in force on `on`; a campaign row (with an end date) wins over the standing fee."""
    fee = (
        Fee.objects.for_municipality(municipality)
        .filter(certificate_type=certificate_type, channel=channel, valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by(F("valid_until").asc(nulls_last=True), "-valid_from")  # campaigns first
        .first()
    )
    if fee is None:
        raise CatalogError(_("この証明書は現在オンラインで申請できません。"))
    return fee.amount


def quote(municipality: Municipality, certificate_type: str, copies: int, postage_code: str,
          on: datetime.date, channel: str = Channel.ONLINE) -> Quote:
    if not 1 <= copies <= MAX_COPIES:
        raise CatalogError(_("通数は1通から10通までです。"))
    postage = PostageClass.objects.for_municipality(municipality).filter(code=postage_code).first()
    if postage is None:
        raise CatalogError(_("郵送方法を選び直してください。"))
    return Quote(fee_for(municipality, certificate_type, channel, on), copies, postage.amount)

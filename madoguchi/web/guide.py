"""What a resident needs to know before and while choosing: the certificates on offer with their
fee today, a short explanation of each, and the journey's steps for the progress indicator."""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from madoguchi.catalog import calendar
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import FeeChannel, PostageClass
from madoguchi.documents.kinds import all_kinds
from madoguchi.tenancy.models import Municipality

# Every screen from the first choice to 受付, so that "3 / 8" is true: signing and paying count too.
JOURNEY = [
    ("type", _("証明書を選ぶ")),
    ("options", _("証明書の内容")),
    ("copies", _("通数と使いみち")),
    ("delivery", _("お届け方法")),
    ("confirm", _("内容の確認")),
    ("sign", _("マイナンバーカードで署名")),
    ("pay", _("お支払い")),
    ("done", _("受付完了")),
]
STEP_KEYS = [key for key, _label in JOURNEY]


def progress(step: str) -> dict:
    return {"step": STEP_KEYS.index(step) + 1, "steps": len(JOURNEY), "step_label": dict(JOURNEY)[step]}


# One line per kind under its choice: what it is and when to choose it.
KIND_HELP = {
    "residence_certificate": _("住民票に記録されている内容を写したものです。世帯全員・一部の人・本人だけを選べます。"
                               "提出先から「住民票」とだけ言われたときは、これを選んでください。"),
    "residence_entry_certificate": _("住民票の内容のうち、住所・氏名など必要な項目だけを証明するものです。"
                                     "提出先から「記載事項証明書」と指定されたときに選んでください。"),
    "seal_certificate": _("登録している印鑑(実印)の印影を証明します。印鑑登録をしている方だけが申請できます。"),
    "koseki_full": _("戸籍に記録されている全員を証明します(これまでの「戸籍謄本」)。"),
    "koseki_individual": _("戸籍のうち、必要な一人だけを証明します(これまでの「戸籍抄本」)。"),
    "koseki_fuhyo": _("その戸籍に記録されている人の、住所の移り変わりを証明します。"),
    "tax_certificate": _("その年度の所得と税額、または非課税であることを証明します。"
                         "その年の1月1日に住んでいた市区町村で発行します。"),
}


@dataclass(frozen=True)
class Offer:
    code: str
    label: str
    fee: int | None  # None: not offered online today
    help: str


def offers(municipality: Municipality, on: datetime.date) -> list[Offer]:
    result = []
    for kind in all_kinds():
        try:
            fee = catalog.fee_for(municipality, kind.code, FeeChannel.ONLINE, on)
        except catalog.CatalogError:
            fee = None
        result.append(Offer(kind.code, str(kind.label), fee, str(KIND_HELP.get(kind.code, ""))))
    return result


def postage_range(municipality: Municipality) -> tuple[int, int] | None:
    amounts = sorted(PostageClass.objects.for_municipality(municipality).values_list("amount", flat=True))
    return (amounts[0], amounts[-1]) if amounts else None


def ship_by(municipality: Municipality, on: datetime.date) -> datetime.date:
    """The day a request paid today is mailed by (as the workflow computes it at 受付)."""
    return calendar.add_business_days(on, municipality.processing_days, municipality.closed_dates)

"""戸籍の附票の写し in the format since 2022 (住民基本台帳法 第17条 as amended by 令和元年法律第16号).

Per person recorded in the 戸籍, in the order of the 戸籍: 氏名, 出生の年月日, 男女の別 (第17条, added by
the amendment), and each 住所 with its 住所を定めた年月日, oldest first whatever order the linkage file
had. A person removed from the 附票 (除籍) is marked with the boxed 消除 under the entry number.
本籍 and 筆頭者 (戸籍の表示) are printed only when asked for (第20条第5項 applying 第12条第5項:
「特別の請求がない限り」 省略, since 2022-01-11).
"""

import datetime

from django import forms
from django.utils.translation import gettext_lazy
from reportlab.lib.units import mm

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki

from ..fonts import certificate_font
from ..layout import DocumentContent, Entry, Field, layout_table
from . import register
from ._koseki import KosekiKind, KosekiOptionsForm, koseki_entitlement, requested_koseki


class FuhyoOptionsForm(KosekiOptionsForm):
    show_honseki = forms.BooleanField(
        label=gettext_lazy("本籍と筆頭者を記載する"), required=False,
        help_text=gettext_lazy("提出先から求められた場合のみ選んでください。"))


def _since(moved: dict) -> datetime.date:
    return datetime.date.fromisoformat(moved["since"])


@register
class KosekiFuhyo(KosekiKind):
    code = CertificateType.KOSEKI_FUHYO
    title = "戸籍の附票の写し"
    attestation = "この写しは、戸籍の附票の原本と相違ないことを証明する。"
    entitlement = koseki_entitlement("住民基本台帳法 第20条第1項",
                                     "住民基本台帳法 第20条第3項・第4項 (第三者は窓口で疎明資料により請求)")
    # The address history is what a 支援措置 hides: the protected person's own request follows the setting.
    support_self_policy = True
    options_form_class = FuhyoOptionsForm

    def content(self, request: CertificateRequest) -> DocumentContent:
        koseki = requested_koseki(request)
        font = certificate_font()
        entries: list[Entry] = []
        for member in self.members_shown(koseki, request):
            rows = [[Field("氏名", member.name, 60 * mm), Field("生年月日", to_wareki(member.date_of_birth), 38 * mm),
                     Field("性別", member.get_sex_display())]]
            for moved in sorted(member.address_history, key=_since):
                rows.append([Field("住所", moved["address"]), Field("住所を定めた年月日", to_wareki(_since(moved)))])
            entries.append(layout_table(font, rows, str(member.position), mark="消除" if member.removed else ""))
        header = ([[Field("本籍", koseki.honseki)], [Field("筆頭者", koseki.head_name)]]
                  if request.options.get("show_honseki") else [])
        return DocumentContent(self.title, self.attestation, header, entries)

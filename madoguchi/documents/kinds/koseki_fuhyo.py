"""戸籍の附票の写し: the address history of everyone in the 戸籍 (住民基本台帳法 第17条)."""

import datetime

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki

from ..fonts import certificate_font
from ..layout import DocumentContent, Entry, Field, layout_table
from . import register
from ._koseki import KosekiKind, koseki_entitlement, requested_koseki


@register
class KosekiFuhyo(KosekiKind):
    code = CertificateType.KOSEKI_FUHYO
    title = "戸籍の附票の写し"
    attestation = "この写しは、戸籍の附票の原本と相違ないことを証明する。"
    entitlement = koseki_entitlement("住民基本台帳法 第20条第1項",
                                     "住民基本台帳法 第20条第3項・第4項 (第三者は窓口で疎明資料により請求)")
    # The address history is what a 支援措置 hides: the protected person's own request follows the setting.
    support_self_policy = True

    def content(self, request: CertificateRequest) -> DocumentContent:
        koseki = requested_koseki(request)
        font = certificate_font()
        entries: list[Entry] = []
        for member in self.members(koseki, request):
            rows = [[Field("氏名", member.name), Field("生年月日", to_wareki(member.date_of_birth))]]
            for moved in member.address_history:
                rows.append([Field("住所", moved["address"]),
                             Field("住所を定めた年月日", to_wareki(datetime.date.fromisoformat(moved["since"])))])
            entries.append(layout_table(font, rows, str(member.position)))
        return DocumentContent(self.title, self.attestation,
                               [[Field("本籍", koseki.honseki)], [Field("筆頭者", koseki.head_name)]], entries)

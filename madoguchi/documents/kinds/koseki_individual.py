"""戸籍個人事項証明書: the requester's own entry; a request about someone else in the 戸籍 is for
the clerk."""

from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.registry.models import Koseki, KosekiMember

from . import PersonSelectionError, register
from ._koseki import KosekiKind


@register
class KosekiIndividual(KosekiKind):
    code = CertificateType.KOSEKI_INDIVIDUAL
    title = "個人事項証明"
    attestation = "これは、戸籍中の一部の者について記録されている事項を証明した書面である。"

    def members(self, koseki: Koseki, request: CertificateRequest) -> list[KosekiMember]:
        member = koseki.members.filter(resident=request.resident).first() if request.resident else None
        if member is None:
            raise PersonSelectionError(_("申請者はこの戸籍に記録されていません。誰の個人事項証明か確認してください。"))
        return [member]

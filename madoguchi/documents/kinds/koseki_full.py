"""戸籍全部事項証明書: everyone recorded in the 戸籍 (戸籍法 第120条)."""

from madoguchi.catalog.models import CertificateType

from . import register
from ._koseki import KosekiKind


@register
class KosekiFull(KosekiKind):
    code = CertificateType.KOSEKI_FULL
    title = "全部事項証明"
    attestation = "これは、戸籍に記録されている事項の全部を証明した書面である。"

"""印鑑登録証明書: the registered impression with the registrant's 氏名 (通称), 生年月日, 性別, 住所
and 登録番号."""

from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.registry.models import Resident, SealRegistration
from madoguchi.registry.relations import Relation
from madoguchi.registry.restrictions import Outcome, ReasonCode

from ..fonts import certificate_font
from ..layout import DocumentContent, Field, Impression, layout_table
from . import CertificateKind, PersonSelectionError, register
from ._common import applicant, birth_date_text
from ._rules import ALLOWED, Finding, Rule


def _registration(resident: Resident) -> SealRegistration:
    registration = SealRegistration.objects.filter(resident=resident).first()
    if registration is None:
        raise PersonSelectionError(_("申請者の印鑑登録が副本にありません(未登録または廃止)。"))
    return registration


@register
class SealCertificate(CertificateKind):
    code = CertificateType.SEAL
    title = "印鑑登録証明書"
    attestation = "この写しは、登録されている印影と相違ないことを証明する。"
    # Online, the registered person only (the 登録証 rule of the 印鑑条例 is the counter's).
    entitlement = (Rule(Relation.SELF, ALLOWED, "印鑑条例; 印鑑登録証明事務処理要領 (登録者本人)"),
                   Rule(Relation.NONE, Outcome.REFUSE, "印鑑条例 (登録者本人のみ)", ReasonCode.NOT_ENTITLED))

    def relation(self, request: CertificateRequest) -> str:
        applicant(request)
        return Relation.SELF

    def eligibility(self, request: CertificateRequest) -> list[Finding]:
        if not SealRegistration.objects.filter(municipality=request.municipality_id,
                                               resident=request.resident).exists():
            return [Finding(ReasonCode.SEAL_NOT_REGISTERED, Outcome.REFUSE, "印鑑条例",
                            _("申請者の印鑑登録が副本にありません(未登録または廃止)。"))]
        return []

    def persons(self, request: CertificateRequest) -> list[Resident]:
        return [applicant(request)]

    def content(self, request: CertificateRequest) -> DocumentContent:
        resident = applicant(request)
        registration = _registration(resident)
        font = certificate_font()
        rows = [[Field("氏名", resident.name)],
                [Field("生年月日", birth_date_text(resident)), Field("性別", resident.get_sex_display())],
                [Field("住所", resident.address)],
                [Field("登録番号", registration.registration_number)]]
        if resident.alias:
            rows.insert(1, [Field("通称", resident.alias)])
        return DocumentContent(self.title, self.attestation, [],
                               [Impression(bytes(registration.impression_png)), layout_table(font, rows)])

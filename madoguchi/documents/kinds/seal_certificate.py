"""印鑑登録証明書 (each municipality's 印鑑条例, following the 印鑑登録証明事務処理要領, 昭和49年
自治振第10号): the registered impression at its actual size with the registrant's 氏名, 旧氏 where the
住民票 records one, 通称 (foreign residents), 生年月日, 性別, 住所 and the 登録番号.

The impression is printed at the size the replica's image says (its resolution, PNG pHYs), never
scaled: the paper is compared with the seal itself. An image without a resolution, or one whose seal
would not be registrable (要領: not within a 25 mm square, or within an 8 mm one), stops issuance.
"""

import functools
import io

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from reportlab.lib.units import mm

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.registry.models import Resident, SealRegistration
from madoguchi.registry.relations import Relation
from madoguchi.registry.restrictions import Outcome, ReasonCode

from ..fonts import certificate_font
from ..layout import DocumentContent, Field, Impression, layout_table
from . import CertificateKind, PersonSelectionError, register
from ._common import applicant, birth_date_text
from ._memo import remembered
from ._rules import ALLOWED, Finding, Rule

# 印鑑登録証明事務処理要領: a seal that fits an 8 mm square or does not fit a 25 mm one is not registered.
SMALLEST_SEAL_MM = 8.0
LARGEST_SEAL_MM = 25.0


def _registered(request: CertificateRequest) -> SealRegistration | None:
    """The applicant's registration, read once per rendering (eligibility and content both ask)."""
    resident = applicant(request)
    return remembered(("seal_registration", request.municipality_id, resident.pk),
                      lambda: SealRegistration.objects.filter(municipality=request.municipality_id,
                                                              resident=resident).first())


def _registration(request: CertificateRequest) -> SealRegistration:
    registration = _registered(request)
    if registration is None:
        raise PersonSelectionError(_("申請者の印鑑登録が副本にありません(未登録または廃止)。"))
    return registration


class ImpressionSizeUnknown(PersonSelectionError):
    pass


@functools.lru_cache(maxsize=256)
def impression_size_mm(png: bytes) -> tuple[float, float, float]:
    """(image width, image height, the seal's larger side) in mm at the resolution the PNG records;
    the seal is the image's non-transparent part."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            dpi = image.info.get("dpi")
            box = image.convert("RGBA").getchannel("A").getbbox()
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImpressionSizeUnknown(_("副本の印影画像を読み取れません。")) from None
    if not dpi or not dpi[0] or not dpi[1]:
        raise ImpressionSizeUnknown(_("印影の画像に解像度の記録がないため、原寸で印刷できません。"
                                      "副本の印影画像を確認してください。"))
    per_mm_x, per_mm_y = dpi[0] / 25.4, dpi[1] / 25.4
    seal = max((box[2] - box[0]) / per_mm_x, (box[3] - box[1]) / per_mm_y) if box else 0.0
    return width / per_mm_x, height / per_mm_y, seal


def impression(png: bytes) -> Impression:
    width, height, seal = impression_size_mm(png)
    if not SMALLEST_SEAL_MM < seal <= LARGEST_SEAL_MM:
        raise PersonSelectionError(_("副本の印影は{size:.1f}mmで、登録できる大きさ(8mmを超え25mm以内)ではありません。"
                                     "印影画像の解像度を確認してください。").format(size=seal))
    return Impression(png, width * mm, height * mm)


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
        if _registered(request) is None:
            return [Finding(ReasonCode.SEAL_NOT_REGISTERED, Outcome.REFUSE, "印鑑条例",
                            _("申請者の印鑑登録が副本にありません(未登録または廃止)。"))]
        return []

    def persons(self, request: CertificateRequest) -> list[Resident]:
        return [applicant(request)]

    def content(self, request: CertificateRequest) -> DocumentContent:
        resident = applicant(request)
        registration = _registration(request)
        font = certificate_font()
        name = [Field("氏名", resident.name)]
        if resident.former_surname:
            # 旧氏 beside the name whenever the 住民票 records one (要領, as amended for 旧氏 in 2019).
            name = [Field("氏名", resident.name, 100 * mm), Field("旧氏", resident.former_surname)]
        rows = [name,
                [Field("生年月日", birth_date_text(resident)), Field("性別", resident.get_sex_display())],
                [Field("住所", resident.address)],
                [Field("登録番号", registration.registration_number)]]
        if resident.alias:
            rows.insert(1, [Field("通称", resident.alias)])
        return DocumentContent(self.title, self.attestation, [],
                               [impression(bytes(registration.impression_png)), layout_table(font, rows)])

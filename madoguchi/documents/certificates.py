"""Every certificate type laid out from the replica: the content each template puts on the page.

`render_certificate` is the one entry point; `render.render_content` draws the frame shared by all
(title, header table, QR and issue number, 以下余白, attestation, certifier and seal). The replica
row a request needs may be missing (a 戸籍 the resident described wrongly, a year without tax
data): that raises `PersonSelectionError` with a message for the clerk, and nothing is issued.
"""

import datetime
from collections.abc import Callable

from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import era_year_text, to_wareki
from madoguchi.core.money import yen
from madoguchi.registry.matching import find_koseki
from madoguchi.registry.models import Koseki, KosekiMember, SealRegistration, TaxRecord

from .fonts import certificate_font
from .render import (
    DocumentContent,
    Entry,
    Field,
    Heading,
    Impression,
    PersonSelectionError,
    RenderedDocument,
    birth_date_text,
    layout_table,
    render_content,
    residence_content,
)

KOSEKI_ITEM_GAP = "　"


def _resident_or_error(request: CertificateRequest):
    if request.resident is None:
        raise PersonSelectionError(_("申請者が住民記録と照合されていません。"))
    return request.resident


# --- 印鑑登録証明書 ------------------------------------------------------------------------------


def seal_content(request: CertificateRequest) -> DocumentContent:
    resident = _resident_or_error(request)
    registration = SealRegistration.objects.filter(resident=resident).first()
    if registration is None:
        raise PersonSelectionError(_("申請者の印鑑登録が副本にありません(未登録または廃止)。"))
    font = certificate_font()
    rows = [[Field("氏名", resident.name)],
            [Field("生年月日", birth_date_text(resident)), Field("性別", resident.get_sex_display())],
            [Field("住所", resident.address)],
            [Field("登録番号", registration.registration_number)]]
    if resident.alias:
        rows.insert(1, [Field("通称", resident.alias)])
    return DocumentContent("印鑑登録証明書", "この写しは、登録されている印影と相違ないことを証明する。",
                           [], [Impression(bytes(registration.impression_png)), layout_table(font, rows)])


# --- 戸籍 -----------------------------------------------------------------------------------------


def _koseki_date(iso: str) -> str:
    """Dates in a 戸籍 certificate are written with kanji numerals (戸籍法施行規則 第31条)."""
    return to_wareki(datetime.date.fromisoformat(iso), kanji_numerals=True)


def _find_koseki(request: CertificateRequest) -> Koseki:
    honseki = (request.options.get("honseki") or "").strip()
    head = (request.options.get("koseki_head") or "").strip()
    koseki = find_koseki(request.municipality, honseki, head)
    if koseki is None:
        raise PersonSelectionError(_(
            "本籍「{honseki}」・筆頭者「{head}」の戸籍が副本にありません。本籍地と筆頭者を住民に確認するか、"
            "戸籍システムで確認してください。").format(honseki=honseki, head=head))
    return koseki


def _event_value(event: dict, date_label: str) -> str:
    items = [f"【{date_label}】{_koseki_date(event['date'])}"]
    for label, value in event.get("details", []):
        items.append(f"【{label}】{_koseki_date(value) if label.endswith('日') else value}")
    return KOSEKI_ITEM_GAP.join(items)


_EVENT_DATE_LABELS = {"出生": "出生日", "婚姻": "婚姻日", "死亡": "死亡日", "戸籍編製": "編製日"}


def _koseki_header(koseki: Koseki) -> list[list[Field]]:
    return [[Field("本籍", koseki.honseki)], [Field("氏名", koseki.head_name)]]


def _member_table(member: KosekiMember, number: str):
    given = member.name.split(" ", 1)[-1]
    rows = [[Field("名", given), Field("生年月日", to_wareki(member.date_of_birth, kanji_numerals=True))]]
    parents = [Field("父", member.father or "")] if member.father else []
    if member.mother:
        parents.append(Field("母", member.mother))
    if parents:
        rows.append(parents)
    rows.append([Field("続柄", member.relationship), Field("性別", member.get_sex_display())])
    for event in member.events:
        rows.append([Field(event["kind"], _event_value(event, _EVENT_DATE_LABELS.get(event["kind"], "年月日")))])
    if member.removed:
        rows.append([Field("除籍", "除　籍")])
    return layout_table(certificate_font(), rows, number)


def _koseki_entries(koseki: Koseki, members: list[KosekiMember]) -> list[Entry]:
    font = certificate_font()
    events = [[Field(e["kind"], _event_value(e, _EVENT_DATE_LABELS.get(e["kind"], "年月日")))] for e in koseki.events]
    entries: list[Entry] = [Heading("戸籍事項"), layout_table(font, events), Heading("戸籍に記録されている者")]
    entries += [_member_table(m, str(m.position)) for m in members]
    return entries


def koseki_full_content(request: CertificateRequest) -> DocumentContent:
    koseki = _find_koseki(request)
    return DocumentContent("全部事項証明", "これは、戸籍に記録されている事項の全部を証明した書面である。",
                           _koseki_header(koseki), _koseki_entries(koseki, list(koseki.members.all())),
                           kanji_numerals=True)


def koseki_individual_content(request: CertificateRequest) -> DocumentContent:
    """The requester's own entry; a request about someone else in the 戸籍 is for the clerk."""
    koseki = _find_koseki(request)
    member = koseki.members.filter(resident=request.resident).first() if request.resident else None
    if member is None:
        raise PersonSelectionError(_("申請者はこの戸籍に記録されていません。誰の個人事項証明か確認してください。"))
    return DocumentContent("個人事項証明", "これは、戸籍中の一部の者について記録されている事項を証明した書面である。",
                           _koseki_header(koseki), _koseki_entries(koseki, [member]), kanji_numerals=True)


def koseki_fuhyo_content(request: CertificateRequest) -> DocumentContent:
    """戸籍の附票の写し: the address history of everyone in the 戸籍 (住民基本台帳法 第17条)."""
    koseki = _find_koseki(request)
    font = certificate_font()
    entries: list[Entry] = []
    for member in koseki.members.all():
        rows = [[Field("氏名", member.name), Field("生年月日", to_wareki(member.date_of_birth))]]
        for moved in member.address_history:
            rows.append([Field("住所", moved["address"]),
                         Field("住所を定めた年月日", to_wareki(datetime.date.fromisoformat(moved["since"])))])
        entries.append(layout_table(font, rows, str(member.position)))
    return DocumentContent("戸籍の附票の写し", "この写しは、戸籍の附票の原本と相違ないことを証明する。",
                           [[Field("本籍", koseki.honseki)], [Field("筆頭者", koseki.head_name)]], entries)


# --- 課税・非課税・所得証明書 ---------------------------------------------------------------------


def fiscal_year_label(fiscal_year: int) -> str:
    """令和N年度 is assessed on the income of the previous calendar year (地方税法 第32条)."""
    assessed, income_year = datetime.date(fiscal_year, 4, 1), datetime.date(fiscal_year - 1, 12, 31)
    return f"{era_year_text(assessed)}度（{era_year_text(income_year)}中の所得）"


def tax_content(request: CertificateRequest) -> DocumentContent:
    resident = _resident_or_error(request)
    try:
        fiscal_year = int(request.options.get("fiscal_year"))
    except (TypeError, ValueError):
        raise PersonSelectionError(_("年度の指定が正しくありません。")) from None
    record = TaxRecord.objects.filter(resident=resident, fiscal_year=fiscal_year).first()
    if record is None:
        raise PersonSelectionError(_("{year}年度の課税情報が副本にありません。").format(year=fiscal_year))
    font = certificate_font()
    exempt = record.total_tax == 0
    header = [[Field("年度", fiscal_year_label(fiscal_year))], [Field("住所", resident.address)],
              [Field("氏名", resident.name), Field("生年月日", birth_date_text(resident))]]
    income = layout_table(font, [
        [Field("給与収入", yen(record.salary_income)), Field("所得金額", yen(record.income))],
        [Field("所得控除", yen(record.deductions)), Field("扶養人数", f"{record.dependents}人")],
        [Field("課税標準額", yen(record.taxable_income))]])
    tax = layout_table(font, [
        [Field("市町村民税", yen(record.municipal_tax)), Field("道府県民税", yen(record.prefectural_tax))],
        [Field("年税額", "非課税" if exempt else yen(record.total_tax))]])
    title = "非課税証明書" if exempt else "課税・所得証明書"
    return DocumentContent(title, "上記のとおり相違ないことを証明する。", header,
                           [Heading("所得・控除"), income, Heading("税額"), tax])


CONTENT_BUILDERS: dict[str, Callable[[CertificateRequest], DocumentContent]] = {
    CertificateType.RESIDENCE: residence_content,
    CertificateType.RESIDENCE_ENTRY: residence_content,
    CertificateType.SEAL: seal_content,
    CertificateType.KOSEKI_FULL: koseki_full_content,
    CertificateType.KOSEKI_INDIVIDUAL: koseki_individual_content,
    CertificateType.KOSEKI_FUHYO: koseki_fuhyo_content,
    CertificateType.TAX: tax_content,
}


def render_certificate(request: CertificateRequest, issue_number: str, verification_code: str,
                       issued_on: datetime.date) -> RenderedDocument:
    """One copy of the certificate `request` asks for (copies are repeated by the print batch)."""
    return render_content(request, CONTENT_BUILDERS[request.certificate_type](request), issue_number,
                          verification_code, issued_on)

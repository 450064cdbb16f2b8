"""所得証明書, 課税(非課税)証明書 or both in one, of one fiscal year, from the replica of the tax system
(地方税法 第20条の10: the certificate of 個人住民税 items the municipality issues).

- 住所 is the address on 1 January of the 年度: the tax is levied where the taxpayer lived that day
  (地方税法 第39条・第294条), which may not be today's address; the replica must hold it.
- 所得証明書: 合計所得金額 with each kind of income (給与収入 beside 給与所得), the 所得控除 by kind and in
  total, and the number of 扶養親族 with its breakdown (控除対象配偶者, 一般・特定・老人・年少扶養親族).
- 課税証明書: 課税標準額 and, for 市町村民税 and 道府県民税, 所得割 and 均等割 (地方税法 第292条,
  第23条) with their sums and the 年税額; titled 非課税証明書 when nothing is levied.
- Both (the default): everything above, titled 所得・課税証明書 (所得・非課税証明書).
"""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import era_year_text
from madoguchi.core.money import yen
from madoguchi.registry.models import Resident, TaxRecord
from madoguchi.registry.relations import Relation, relation_to_resident
from madoguchi.registry.restrictions import Outcome, ReasonCode

from ..fonts import certificate_font
from ..layout import DocumentContent, Field, Heading, layout_table
from . import CertificateKind, PersonSelectionError, register
from ._common import SubjectFields, applicant, birth_date_text, named_subject
from ._memo import remembered
from ._rules import ALLOWED, Finding, Rule

CERTIFICATE_FORMS = [("both", gettext_lazy("所得・課税証明書(所得と税額の両方)")),
                     ("income", gettext_lazy("所得証明書(所得と控除のみ)")),
                     ("tax", gettext_lazy("課税(非課税)証明書(税額のみ)"))]


class TaxOptionsForm(SubjectFields):
    fiscal_year = forms.ChoiceField(label=gettext_lazy("年度"), choices=[])
    scope = forms.ChoiceField(label=gettext_lazy("証明が必要な人"), widget=forms.RadioSelect, initial="self",
                              choices=[("self", gettext_lazy("本人")),
                                       ("other", gettext_lazy("同じ世帯の人"))])
    tax_certificate_form = forms.ChoiceField(label=gettext_lazy("証明書の種類"), choices=CERTIFICATE_FORMS,
                                             initial="both", required=False,
                                             help_text=gettext_lazy("提出先が指定する種類を選んでください。"))

    def clean(self):
        data = super().clean()
        if data.get("scope") == "other":
            self.require_subject(data)
        else:
            self.blank_subject(data)
        return data

    def clean_tax_certificate_form(self) -> str:
        return self.cleaned_data.get("tax_certificate_form") or "both"

    def __init__(self, *args, current_fiscal_year: int, **kwargs):
        super().__init__(*args, **kwargs)
        # 令和: fiscal year N of Reiwa is Gregorian 2018 + N.
        self.fields["fiscal_year"].choices = [
            (str(y), gettext_lazy("令和{n}年度(令和{m}年中の所得)").format(n=y - 2018, m=y - 2019))
            for y in range(current_fiscal_year, current_fiscal_year - 5, -1)]


def fiscal_year_label(fiscal_year: int) -> str:
    """令和N年度 is assessed on the income of the previous calendar year (地方税法 第32条)."""
    assessed, income_year = datetime.date(fiscal_year, 4, 1), datetime.date(fiscal_year - 1, 12, 31)
    return f"{era_year_text(assessed)}度（{era_year_text(income_year)}中の所得）"


@register
class TaxCertificate(CertificateKind):
    code = CertificateType.TAX
    title = "課税・所得証明書"
    attestation = "上記のとおり相違ないことを証明する。"
    options_form_class = TaxOptionsForm
    # 地方税法 第20条の10: issued to the taxpayer 「その者に関するものに限り」; a tax figure shown to
    # anyone else is a secret disclosed (第22条). A household member only as the municipality's 規程 says.
    entitlement = (
        Rule(Relation.SELF, ALLOWED, "地方税法 第20条の10"),
        Rule(Relation.HOUSEHOLD, "tax_household", "地方税法 第20条の10・第22条; 税務証明等取扱規程 (同一世帯員)",
             ReasonCode.TAX_HOUSEHOLD_MEMBER),
        Rule(Relation.NONE, Outcome.REFUSE, "地方税法 第22条 (本人以外は委任状により窓口で請求)",
             ReasonCode.NOT_ENTITLED),
    )

    def options_form(self, data=None, initial=None, today=None) -> forms.Form:
        today = today or timezone.localdate()
        # Tax certificates of a fiscal year become available in June.
        current = today.year if today.month >= 6 else today.year - 1
        return TaxOptionsForm(data, initial=initial, current_fiscal_year=current)

    def persons(self, request: CertificateRequest) -> list[Resident]:
        if request.options.get("scope") == "other":
            return [named_subject(request)]
        return [applicant(request)]

    def relation(self, request: CertificateRequest) -> str:
        requester, subject = applicant(request), self.persons(request)[0]
        found = relation_to_resident(requester, subject)
        # Spouse or parent in another household is not the taxpayer's household: no row but NONE.
        return found if found in {Relation.SELF, Relation.HOUSEHOLD} else Relation.NONE

    def _record(self, request: CertificateRequest, resident: Resident) -> TaxRecord:
        try:
            fiscal_year = int(request.options.get("fiscal_year"))
        except (TypeError, ValueError):
            raise PersonSelectionError(_("年度の指定が正しくありません。")) from None
        record = remembered(("tax_record", request.municipality_id, resident.pk, fiscal_year),
                            lambda: TaxRecord.objects.filter(municipality=request.municipality_id, resident=resident,
                                                             fiscal_year=fiscal_year).first())
        if record is None:
            raise PersonSelectionError(_("{year}年度の課税情報が副本にありません。").format(year=fiscal_year))
        return record

    def eligibility(self, request: CertificateRequest) -> list[Finding]:
        try:
            self._record(request, self.persons(request)[0])
        except PersonSelectionError as exc:
            return [Finding(ReasonCode.TAX_RECORD_MISSING, Outcome.REFUSE, "地方税法 第20条の10", str(exc))]
        return []

    def content(self, request: CertificateRequest) -> DocumentContent:
        resident = self.persons(request)[0]
        record = self._record(request, resident)
        fiscal_year = record.fiscal_year
        form = request.options.get("tax_certificate_form") or "both"
        if form not in dict(CERTIFICATE_FORMS):
            raise PersonSelectionError(_("証明書の種類の指定が正しくありません。"))
        if not record.address_on_january_1:
            raise PersonSelectionError(_("{year}年度の1月1日現在の住所が副本にありません(地方税法第39条・第294条)。"
                                         "税務システムで確認してください。").format(year=fiscal_year))
        if (record.municipal_per_capita + record.municipal_income_levy != record.municipal_tax
                or record.prefectural_per_capita + record.prefectural_income_levy != record.prefectural_tax):
            raise PersonSelectionError(_("{year}年度の税額の内訳(所得割・均等割)が合計と一致しません。"
                                         "税務システムで確認してください。").format(year=fiscal_year))
        font = certificate_font()
        exempt = record.total_tax == 0
        header = [[Field("年度", fiscal_year_label(fiscal_year))],
                  [Field("住所(1月1日現在)", record.address_on_january_1)],
                  [Field("氏名", resident.name), Field("生年月日", birth_date_text(resident))]]
        entries = []
        if form in ("both", "income"):
            salary = [Field("給与収入", yen(record.salary_income)),
                      Field("給与所得", yen(record.income_breakdown.get("給与", 0)))]
            incomes = [salary] if record.salary_income else []
            incomes += [[Field(f"{kind}所得" if not kind.endswith("所得") else kind, yen(amount))]
                        for kind, amount in _ordered(record.income_breakdown, INCOME_ORDER) if kind != "給与"]
            incomes.append([Field("合計所得金額", yen(record.income))])
            deductions = _pairs([Field(kind, yen(amount))
                                 for kind, amount in _ordered(record.deduction_breakdown, DEDUCTION_ORDER)])
            deductions.append([Field("所得控除の合計", yen(record.deductions)),
                               Field("扶養親族の数", f"{record.dependents}人")])
            deductions += _pairs([Field(kind, f"{count}人")
                                  for kind, count in _ordered(record.dependant_breakdown, DEPENDANT_ORDER)])
            entries += [Heading("所得"), layout_table(font, incomes),
                        Heading("所得控除"), layout_table(font, deductions)]
        if form in ("both", "tax"):
            tax = layout_table(font, [
                [Field("課税標準額", yen(record.taxable_income))],
                [Field("市町村民税 所得割", yen(record.municipal_income_levy)),
                 Field("市町村民税 均等割", yen(record.municipal_per_capita))],
                [Field("道府県民税 所得割", yen(record.prefectural_income_levy)),
                 Field("道府県民税 均等割", yen(record.prefectural_per_capita))],
                [Field("市町村民税", yen(record.municipal_tax)), Field("道府県民税", yen(record.prefectural_tax))],
                [Field("年税額", "非課税" if exempt else yen(record.total_tax))]])
            entries += [Heading("税額"), tax]
        title = {"both": "所得・非課税証明書" if exempt else "所得・課税証明書", "income": "所得証明書",
                 "tax": "非課税証明書" if exempt else "課税証明書"}[form]
        return DocumentContent(title, self.attestation, header, entries)


# The order the 課税証明書 prints each breakdown in (所得の種類 as 地方税法 第32条・第313条 list them,
# 所得控除 as 第34条・第314条の2, then the 扶養親族 categories). The replica's JSON objects come back in
# the database's key order (PostgreSQL's jsonb sorts keys), so the page never follows that order.
INCOME_ORDER = ["給与", "事業", "不動産", "利子", "配当", "雑", "一時", "譲渡", "山林", "退職"]
DEDUCTION_ORDER = ["雑損控除", "医療費控除", "社会保険料控除", "小規模企業共済等掛金控除", "生命保険料控除",
                   "地震保険料控除", "寡婦控除", "ひとり親控除", "勤労学生控除", "障害者控除", "配偶者控除",
                   "配偶者特別控除", "扶養控除", "基礎控除"]
DEPENDANT_ORDER = ["控除対象配偶者", "一般扶養親族", "特定扶養親族", "老人扶養親族", "同居老親等", "年少扶養親族"]


def _ordered(breakdown: dict, order: list[str]) -> list[tuple[str, int]]:
    def key(item):
        name = item[0].removesuffix("所得") if order is INCOME_ORDER else item[0]
        return (order.index(name) if name in order else len(order), item[0])

    return sorted(breakdown.items(), key=key)


def _pairs(fields: list[Field]) -> list[list[Field]]:
    return [fields[i:i + 2] for i in range(0, len(fields), 2)]

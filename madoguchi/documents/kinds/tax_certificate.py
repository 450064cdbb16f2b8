"""課税(非課税)・所得証明書 of one fiscal year, from the replica of the tax system."""

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
from ._rules import ALLOWED, Finding, Rule


class TaxOptionsForm(SubjectFields):
    fiscal_year = forms.ChoiceField(label=gettext_lazy("年度"), choices=[])
    scope = forms.ChoiceField(label=gettext_lazy("証明が必要な人"), widget=forms.RadioSelect, initial="self",
                              choices=[("self", gettext_lazy("本人")),
                                       ("other", gettext_lazy("同じ世帯の人"))])

    def clean(self):
        data = super().clean()
        if data.get("scope") == "other":
            self.require_subject(data)
        else:
            self.blank_subject(data)
        return data

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
        record = TaxRecord.objects.filter(municipality=request.municipality_id, resident=resident,
                                          fiscal_year=fiscal_year).first()
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
        title = "非課税証明書" if exempt else self.title
        return DocumentContent(title, self.attestation, header, [Heading("所得・控除"), income, Heading("税額"), tax])

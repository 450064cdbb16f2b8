"""住民票の写し.

The certificate lists the items of 住民基本台帳法 第7条 for the selected persons. The items the
resident may ask to include or leave out (第12条第5項) are driven by the request's options:
世帯主の氏名と続柄 (`show_relationship`) and 本籍・筆頭者 (`show_honseki`; for foreign residents the
corresponding item is 国籍・地域, 第30条の45). The 個人番号 and the 住民票コード are never printed,
and neither is the core system's 宛名番号.
"""

import re
import unicodedata

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.registry.models import Resident
from madoguchi.registry.relations import Relation, relation_to_resident
from madoguchi.registry.restrictions import Outcome, ReasonCode

from ..fonts import certificate_font, is_variation_selector
from ..layout import LABEL_WIDTH, LEFT_VALUE, SEX_VALUE, DocumentContent, Entry, Field, layout_table
from . import CertificateKind, PersonSelectionError, register
from ._common import SubjectFields, applicant, birth_date_text, named_subject
from ._rules import ALLOWED, Rule

# Listed names in a "partial" request are separated by 、 , ， or line breaks.
_NAME_SEPARATORS = re.compile(r"[、,，\r\n]+")


class ResidenceOptionsForm(SubjectFields):
    scope = forms.ChoiceField(label=gettext_lazy("証明が必要な人"), widget=forms.RadioSelect, initial="self",
                              choices=[("self", gettext_lazy("本人のみ")), ("household", gettext_lazy("世帯全員")),
                                       ("partial", gettext_lazy("世帯の一部の人")),
                                       ("other", gettext_lazy("別の世帯の人(配偶者・父母・子など)"))])
    members = forms.CharField(label=gettext_lazy("必要な人の氏名(世帯の一部の場合)"), required=False, max_length=200,
                              help_text=gettext_lazy("例: 山田 花子、山田 一郎"))
    show_relationship = forms.BooleanField(label=gettext_lazy("世帯主の氏名と続柄を記載する"), required=False)
    show_honseki = forms.BooleanField(
        label=gettext_lazy("本籍と筆頭者を記載する"), required=False,
        help_text=gettext_lazy("自動車の登録やパスポートの申請などで必要な場合のみ選んでください。"))

    def clean(self):
        data = super().clean()
        if data.get("scope") == "partial" and not data.get("members", "").strip():
            self.add_error("members", gettext_lazy("必要な人の氏名を入力してください。"))
        if data.get("scope") != "partial":
            data["members"] = ""
        if data.get("scope") == "other":
            self.require_subject(data)
        else:
            self.blank_subject(data)
        return data


def _name_key(name: str) -> str:
    """Comparable form of a name typed by a resident: no spaces (full or half width), no variation
    selectors (residents cannot type them), compatibility forms unified, Latin letters case-folded."""
    plain = "".join(c for c in name if not c.isspace() and not is_variation_selector(c))
    return unicodedata.normalize("NFKC", plain).casefold()


def household_members(resident: Resident) -> list[Resident]:
    """The members of the resident's household, the head first, the others in register order."""
    household = resident.household
    members = list(household.members.order_by("id"))
    members.sort(key=lambda m: m.pk != household.head_id)
    return members


def select_persons(request: CertificateRequest) -> list[Resident]:
    """The persons the certificate lists, according to `options["scope"]`."""
    resident = applicant(request)
    scope = request.options.get("scope", "self")
    if scope == "self":
        return [resident]
    if scope == "household":
        return household_members(resident)
    if scope == "other":
        return [named_subject(request)]
    if scope == "partial":
        wanted = {_name_key(n) for n in _NAME_SEPARATORS.split(request.options.get("members") or "")} - {""}
        if not wanted:
            raise PersonSelectionError(_("世帯の一部として記載する人の氏名が申請にありません。"))
        members = [m for m in household_members(resident) if _name_key(m.name) in wanted]
        unmatched = wanted - {_name_key(m.name) for m in members}
        if unmatched:
            # Leaving out a person the resident asked for would be a wrong certificate: a clerk decides.
            names = "、".join(sorted(unmatched))
            raise PersonSelectionError(_("世帯に「{names}」という人はいません。").format(names=names))
        return members
    raise PersonSelectionError(_("証明が必要な人の指定が正しくありません。"))


def _household_head(resident: Resident) -> Resident:
    head = resident.household.head
    if head is None:
        raise PersonSelectionError(_("世帯主が住民記録にありません。"))
    return head


def _person_rows(person: Resident, show_relationship: bool, show_honseki: bool) -> list[list[Field]]:
    born = birth_date_text(person)
    rows = [[Field("氏名", person.name, LEFT_VALUE, kana=person.name_kana), Field("生年月日", born)]]
    sex = person.get_sex_display()
    # The left column holds 性別 and 続柄 side by side, or 性別 alone.
    if show_relationship:
        second = [Field("性別", sex, SEX_VALUE),
                  Field("続柄", person.relationship, LEFT_VALUE - SEX_VALUE - LABEL_WIDTH)]
    else:
        second = [Field("性別", sex, LEFT_VALUE)]
    second.append(Field("住民となった年月日", to_wareki(person.became_resident_on)))
    rows.append(second)
    if person.is_foreign:
        foreign = ([Field("国籍・地域", person.nationality, LEFT_VALUE if person.alias else None)]
                   if show_honseki else [])
        if person.alias:
            foreign.append(Field("通称", person.alias))
        if foreign:
            rows.append(foreign)
    elif show_honseki and person.honseki:
        rows.append([Field("本籍", person.honseki, LEFT_VALUE), Field("筆頭者", person.koseki_head)])
    if person.former_surname:
        rows.append([Field("旧氏", person.former_surname)])
    return rows


@register
class ResidenceCertificate(CertificateKind):
    code = CertificateType.RESIDENCE
    title = "住民票の写し"
    attestation = "この写しは、住民票の原本と相違ないことを証明する。"
    options_form_class = ResidenceOptionsForm
    entitlement = (
        Rule(Relation.SELF, ALLOWED, "住民基本台帳法 第12条第1項"),
        Rule(Relation.HOUSEHOLD, ALLOWED, "住民基本台帳法 第12条第1項"),
        # Not 本人等: a spouse or lineal relative in another household asks with a 正当な理由.
        Rule(Relation.SPOUSE, "relative_other_household", "住民基本台帳法 第12条の3第1項",
             ReasonCode.RELATIVE_OTHER_HOUSEHOLD),
        Rule(Relation.LINEAL, "relative_other_household", "住民基本台帳法 第12条の3第1項",
             ReasonCode.RELATIVE_OTHER_HOUSEHOLD),
        Rule(Relation.NONE, Outcome.REFUSE, "住民基本台帳法 第12条の3 (第三者は窓口で疎明資料により請求)",
             ReasonCode.NOT_ENTITLED),
    )
    support_self_policy = True

    def persons(self, request: CertificateRequest) -> list[Resident]:
        return select_persons(request)

    def relation(self, request: CertificateRequest) -> str:
        requester = applicant(request)
        if request.options.get("scope") == "other":
            return relation_to_resident(requester, named_subject(request))
        return Relation.SELF if request.options.get("scope", "self") == "self" else Relation.HOUSEHOLD

    def content(self, request: CertificateRequest) -> DocumentContent:
        font = certificate_font()
        options = request.options
        show_relationship = bool(options.get("show_relationship"))
        show_honseki = bool(options.get("show_honseki"))
        persons = self.persons(request)
        resident = persons[0]
        header_rows = [[Field("住所", resident.address)]]
        if show_relationship:
            header_rows.append([Field("世帯主", _household_head(resident).name)])
        tables: list[Entry] = [layout_table(font, _person_rows(p, show_relationship, show_honseki), str(i))
                                for i, p in enumerate(persons, start=1)]
        return DocumentContent(self.title, self.attestation, header_rows, tables)

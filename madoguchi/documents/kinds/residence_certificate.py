"""住民票の写し.

The certificate lists the items of 住民基本台帳法 第7条 for the selected persons, in the order of the
住民票 (住民基本台帳事務処理要領 第2-1 記載例):

- always (第12条第5項 allows no omission): 氏名 with its 振り仮名 in katakana as the register holds
  it (住民記録システム標準仕様書), 旧氏 beside the name where recorded (施行令 第30条の13), 出生の年月日,
  男女の別, 住民となった年月日 (第7条第6号), 住所 and 住所を定めた年月日 (第7号), 届出の年月日 and
  従前の住所 (第8号; blank for a person born here); for foreign residents 通称 where recorded (施行令
  第30条の26) and 外国人住民となった年月日 (第30条の45);
- only on request (第12条第5項 「特別の請求がない限り」 省略): 世帯主の氏名と続柄 (`show_relationship`,
  第7条第4号), 本籍・筆頭者 (`show_honseki`, 第5号; for foreign residents 国籍・地域 instead, 第30条の45),
  and for foreign residents 第30条の45 区分, 在留資格, 在留期間, 在留期間の満了の日 and 在留カード等の番号
  (`show_residence_status`, 第30条の45 表・第30条の51 読替え).

The 個人番号 and the 住民票コード (第7条第8号の2・第13号) are never printed, and neither is the core
system's 宛名番号. A required date missing from the replica stops issuance with a message for the clerk.
"""

import re
import unicodedata

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.core.text import to_katakana
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
    show_residence_status = forms.BooleanField(
        label=gettext_lazy("在留資格・在留期間・在留カード等の番号・第30条の45区分を記載する(外国人住民)"),
        required=False, help_text=gettext_lazy("外国人住民の方で、提出先から求められた場合のみ選んでください。"))

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


def _date(person: Resident, value, item: str) -> str:
    if value is None:
        raise PersonSelectionError(_("{name}さんの{item}が住民記録(副本)にありません。住民票の写しに必ず記載する事項"
                                     "(住民基本台帳法第7条)です。").format(name=person.name, item=item))
    return to_wareki(value)


def _pairs(fields: list[Field]) -> list[list[Field]]:
    """Fields two to a row, the left one in the left value column."""
    rows = []
    for i in range(0, len(fields), 2):
        left, *right = fields[i:i + 2]
        rows.append([Field(left.label, left.value, LEFT_VALUE, kana=left.kana) if right else left, *right])
    return rows


def person_rows(person: Resident, show_relationship: bool = False, show_honseki: bool = False,
                show_residence_status: bool = False) -> list[list[Field]]:
    """One person's rows of the 住民票の写し (see the module docstring for what is printed when)."""
    name = Field("氏名", person.name, LEFT_VALUE, kana=to_katakana(person.name_kana))
    born = Field("生年月日", birth_date_text(person))
    dated = [Field("住民となった年月日", _date(person, person.became_resident_on, "住民となった年月日")),
             Field("住所を定めた年月日", _date(person, person.address_since, "住所を定めた年月日")),
             Field("届出の年月日", _date(person, person.address_notified_on, "届出の年月日"))]
    if person.former_surname:
        # 旧氏 beside the name, 生年月日 moves down to the next row.
        rows = [[name, Field("旧氏", person.former_surname, kana=to_katakana(person.former_surname_kana))]]
        right = [born, *dated]
    else:
        rows = [[name, born]]
        right = dated
    sex = person.get_sex_display()
    if show_relationship:
        rows.append([Field("性別", sex, SEX_VALUE),
                     Field("続柄", person.relationship, LEFT_VALUE - SEX_VALUE - LABEL_WIDTH), right[0]])
    else:
        rows.append([Field("性別", sex, LEFT_VALUE), right[0]])
    rest = right[1:]
    if person.is_foreign:
        rest.append(Field("外国人住民となった年月日",
                          _date(person, person.became_foreign_resident_on, "外国人住民となった年月日")))
    rows += _pairs(rest)
    rows.append([Field("従前の住所", person.previous_address)])
    if person.is_foreign:
        foreign = [Field("通称", person.alias, kana=to_katakana(person.alias_kana))] if person.alias else []
        if show_honseki:
            foreign.append(Field("国籍・地域", person.nationality))
        if show_residence_status:
            ends = person.period_of_stay_ends_on
            foreign += [Field("第30条の45区分", person.get_foreign_resident_category_display()),
                        Field("在留資格", person.residence_status), Field("在留期間", person.period_of_stay),
                        Field("在留期間の満了の日", to_wareki(ends) if ends else ""),
                        Field("在留カード等の番号", person.residence_card_number)]
        rows += _pairs(foreign)
    elif show_honseki and person.honseki:
        rows.append([Field("本籍", person.honseki, LEFT_VALUE), Field("筆頭者", person.koseki_head)])
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
        show_residence_status = bool(options.get("show_residence_status"))
        persons = self.persons(request)
        resident = persons[0]
        header_rows = [[Field("住所", resident.address)]]
        if show_relationship:
            header_rows.append([Field("世帯主", _household_head(resident).name)])
        tables: list[Entry] = [
            layout_table(font, person_rows(p, show_relationship, show_honseki, show_residence_status), str(i))
            for i, p in enumerate(persons, start=1)]
        return DocumentContent(self.title, self.attestation, header_rows, tables)

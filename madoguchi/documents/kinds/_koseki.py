"""What the 戸籍 certificates share: the options (本籍 and 筆頭者), finding the 戸籍 in the replica,
and the computerized layout of 戸籍事項 and of each person recorded.

The layout follows the 記録事項証明書 of the computerized register (戸籍法 第120条, 戸籍法施行規則
第73条 and 付録第22号様式, with the 法定記載例 of 付録第24号):

- 本籍 and 氏名 (the 筆頭者, with the 氏名の振り仮名 recorded since 2025-05-26: 戸籍法 第13条第1項第2号
  as amended by 令和5年法律第48号), then 戸籍事項;
- per person recorded: 【名】 with its 振り仮名, 【生年月日】, 【配偶者区分】 (夫・妻) where married, 【父】
  and 【母】 (the 筆頭者's too), 【続柄】 — no 性別 item: the 続柄 says it; then the 身分事項 heading and
  each event with one 【item】 a line;
- a person who left the 戸籍 is marked with the boxed 除籍 beside the entry number;
- dates in Arabic numerals (令和8年1月5日): 第31条第2項's 壱・弐・参・拾 is for the paper register.
"""

import datetime

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.units import mm

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
from madoguchi.core.forms import Form
from madoguchi.core.text import to_katakana
from madoguchi.registry.characters import koseki_unmapped_codes, stop_message
from madoguchi.registry.matching import find_koseki
from madoguchi.registry.models import Koseki, KosekiMember, Resident
from madoguchi.registry.relations import Relation, relation_to_koseki
from madoguchi.registry.restrictions import Outcome, ReasonCode

from ..fonts import certificate_font
from ..layout import DocumentContent, Entry, Field, Heading, Table, layout_table
from . import CertificateKind, PersonSelectionError
from ._common import applicant
from ._memo import remembered
from ._rules import ALLOWED, Rule

_EVENT_DATE_LABELS = {"出生": "出生日", "婚姻": "婚姻日", "死亡": "死亡日", "戸籍編製": "編製日"}


class KosekiOptionsForm(Form):
    honseki = forms.CharField(label=gettext_lazy("本籍"), max_length=200,
                              help_text=gettext_lazy("例: 東京都窓口市本町一丁目2番地"))
    koseki_head = forms.CharField(label=gettext_lazy("筆頭者の氏名"), max_length=100)


def koseki_date(iso: str) -> str:
    """Dates in a 記録事項証明書 in Arabic numerals (付録第22号様式, 付録第24号 記載例)."""
    return to_wareki(datetime.date.fromisoformat(iso))


def requested_koseki(request: CertificateRequest) -> Koseki:
    honseki = (request.options.get("honseki") or "").strip()
    head = (request.options.get("koseki_head") or "").strip()
    return remembered(("koseki", request.municipality_id, honseki, head), lambda: _find_koseki(request, honseki, head))


def _find_koseki(request: CertificateRequest, honseki: str, head: str) -> Koseki:
    koseki = find_koseki(request.municipality, honseki, head)
    if koseki is None:
        raise PersonSelectionError(_(
            "本籍「{honseki}」・筆頭者「{head}」の戸籍が副本にありません。本籍地と筆頭者を住民に確認するか、"
            "戸籍システムで確認してください。").format(honseki=honseki, head=head))
    if codes := koseki_unmapped_codes(koseki):
        raise PersonSelectionError(stop_message(codes))
    return koseki


def _event_value(event: dict, date_label: str) -> str:
    """The event's 【items】, one a line."""
    items = [f"【{date_label}】{koseki_date(event['date'])}"]
    for label, value in event.get("details", []):
        items.append(f"【{label}】{koseki_date(value) if label.endswith('日') else value}")
    return "\n".join(items)


def _event_label(kind: str) -> str:
    """出生 → 出　生: two-character event names are spaced as the register prints them."""
    return "　".join(kind) if len(kind) == 2 else kind


def _event_rows(events: list[dict]) -> list[list[Field]]:
    return [[Field(_event_label(e["kind"]), _event_value(e, _EVENT_DATE_LABELS.get(e["kind"], "年月日")))]
            for e in events]


def _given_kana(member: KosekiMember) -> str:
    """The 名's 振り仮名: the part of the recorded 氏名の振り仮名 after the space."""
    kana = to_katakana(member.name_kana).split(maxsplit=1)
    return kana[-1] if len(kana) == 2 else ""


def _koseki_header(koseki: Koseki, head: KosekiMember | None) -> list[list[Field]]:
    kana = to_katakana(head.name_kana) if head and head.name_kana else ""
    return [[Field("本籍", koseki.honseki)], [Field("氏名", koseki.head_name, kana=kana)]]


def _member_table(member: KosekiMember, number: str) -> Table:
    given = member.name.split(" ", 1)[-1]
    first = [Field("名", given, 60 * mm, kana=_given_kana(member))]
    if member.spouse_category:
        first += [Field("生年月日", koseki_date(member.date_of_birth.isoformat()), 38 * mm),
                  Field("配偶者区分", member.spouse_category)]
    else:
        first.append(Field("生年月日", koseki_date(member.date_of_birth.isoformat())))
    rows = [first]
    parents = [Field("父", member.father, 60 * mm if member.mother else None)] if member.father else []
    if member.mother:
        parents.append(Field("母", member.mother))
    if parents:
        rows.append(parents)
    rows.append([Field("続柄", member.relationship)])
    if member.events:
        rows.append([Field("身分事項", "", section=True)])
        rows += _event_rows(member.events)
    return layout_table(certificate_font(), rows, number, mark="除籍" if member.removed else "")


def _koseki_entries(koseki: Koseki, members: list[KosekiMember]) -> list[Entry]:
    font = certificate_font()
    entries: list[Entry] = [Heading("戸籍事項"), layout_table(font, _event_rows(koseki.events)),
                            Heading("戸籍に記録されている者")]
    entries += [_member_table(m, str(m.position)) for m in members]
    return entries


def koseki_entitlement(basis: str, third_party: str) -> tuple[Rule, ...]:
    """The 本人等 of 戸籍法 第10条第1項 and 住民基本台帳法 第20条第1項 (the same circle): those recorded
    (除籍者 included), their spouse, lineal ascendants and descendants. Everyone else asks as a third
    party at the counter (`third_party`)."""
    return (
        Rule(Relation.RECORDED, ALLOWED, basis),
        Rule(Relation.SPOUSE, ALLOWED, basis),
        Rule(Relation.LINEAL, ALLOWED, basis),
        # The replica shows the relation by name only: never automatic (issue 12).
        Rule(Relation.UNPROVEN, "unproven_relation", basis, ReasonCode.RELATION_UNPROVEN),
        Rule(Relation.NONE, Outcome.REFUSE, third_party, ReasonCode.NOT_ENTITLED),
    )


class KosekiKind(CertificateKind):
    """A certificate of (part of) the 戸籍 the resident names by 本籍 and 筆頭者."""

    options_form_class = KosekiOptionsForm
    entitlement = koseki_entitlement("戸籍法 第10条第1項", "戸籍法 第10条の2 (第三者請求は窓口で疎明資料により請求)")
    not_found_code = ReasonCode.KOSEKI_NOT_FOUND

    def relation(self, request: CertificateRequest) -> str:
        return relation_to_koseki(applicant(request), requested_koseki(request))

    def shown_residents(self, request: CertificateRequest) -> list[Resident]:
        ids = [m.resident_id for m in self.persons(request) if m.resident_id]
        return list(Resident.objects.filter(municipality=request.municipality_id, pk__in=ids))

    def members(self, koseki: Koseki, request: CertificateRequest) -> list[KosekiMember]:
        return list(koseki.members.all())

    def members_shown(self, koseki: Koseki, request: CertificateRequest) -> list[KosekiMember]:
        """`members`, read once per rendering (`_memo.one_render`): persons and content both ask."""
        return list(remembered(("koseki_members", self.code, koseki.pk, request.resident_id),
                               lambda: self.members(koseki, request)))

    def persons(self, request: CertificateRequest) -> list[KosekiMember]:
        return self.members_shown(requested_koseki(request), request)

    def content(self, request: CertificateRequest) -> DocumentContent:
        koseki = requested_koseki(request)
        members = self.members_shown(koseki, request)
        head = next((m for m in members if m.name == koseki.head_name), None) \
            or koseki.members.filter(name=koseki.head_name).first()
        return DocumentContent(self.title, self.attestation, _koseki_header(koseki, head),
                               _koseki_entries(koseki, members))

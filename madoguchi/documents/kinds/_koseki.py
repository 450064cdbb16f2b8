"""What the 戸籍 certificates share: the options (本籍 and 筆頭者), finding the 戸籍 in the replica,
and the computerized layout of 戸籍事項 and of each person recorded."""

import datetime

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
from madoguchi.core.forms import Form
from madoguchi.registry.characters import koseki_unmapped_codes, stop_message
from madoguchi.registry.matching import find_koseki
from madoguchi.registry.models import Koseki, KosekiMember

from ..fonts import certificate_font
from ..layout import DocumentContent, Entry, Field, Heading, Table, layout_table
from . import CertificateKind, PersonSelectionError

KOSEKI_ITEM_GAP = "　"
_EVENT_DATE_LABELS = {"出生": "出生日", "婚姻": "婚姻日", "死亡": "死亡日", "戸籍編製": "編製日"}


class KosekiOptionsForm(Form):
    honseki = forms.CharField(label=gettext_lazy("本籍"), max_length=200,
                              help_text=gettext_lazy("例: 東京都窓口市本町一丁目2番地"))
    koseki_head = forms.CharField(label=gettext_lazy("筆頭者の氏名"), max_length=100)


def koseki_date(iso: str) -> str:
    """Dates in a 戸籍 certificate are written with kanji numerals (戸籍法施行規則 第31条)."""
    return to_wareki(datetime.date.fromisoformat(iso), kanji_numerals=True)


def requested_koseki(request: CertificateRequest) -> Koseki:
    honseki = (request.options.get("honseki") or "").strip()
    head = (request.options.get("koseki_head") or "").strip()
    koseki = find_koseki(request.municipality, honseki, head)
    if koseki is None:
        raise PersonSelectionError(_(
            "本籍「{honseki}」・筆頭者「{head}」の戸籍が副本にありません。本籍地と筆頭者を住民に確認するか、"
            "戸籍システムで確認してください。").format(honseki=honseki, head=head))
    if codes := koseki_unmapped_codes(koseki):
        raise PersonSelectionError(stop_message(codes))
    return koseki


def _event_value(event: dict, date_label: str) -> str:
    items = [f"【{date_label}】{koseki_date(event['date'])}"]
    for label, value in event.get("details", []):
        items.append(f"【{label}】{koseki_date(value) if label.endswith('日') else value}")
    return KOSEKI_ITEM_GAP.join(items)


def _koseki_header(koseki: Koseki) -> list[list[Field]]:
    return [[Field("本籍", koseki.honseki)], [Field("氏名", koseki.head_name)]]


def _member_table(member: KosekiMember, number: str) -> Table:
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


class KosekiKind(CertificateKind):
    """A certificate of (part of) the 戸籍 the resident names by 本籍 and 筆頭者."""

    options_form_class = KosekiOptionsForm

    def members(self, koseki: Koseki, request: CertificateRequest) -> list[KosekiMember]:
        return list(koseki.members.all())

    def persons(self, request: CertificateRequest) -> list[KosekiMember]:
        return self.members(requested_koseki(request), request)

    def content(self, request: CertificateRequest) -> DocumentContent:
        koseki = requested_koseki(request)
        return DocumentContent(self.title, self.attestation, _koseki_header(koseki),
                               _koseki_entries(koseki, self.members(koseki, request)), kanji_numerals=True)

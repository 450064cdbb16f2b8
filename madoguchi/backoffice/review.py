"""What the review screen shows beside the request: the card and the replica side by side in one date
format (和暦, as the certificate prints it), the guidance for each flag, and the 定型文 reasons for
rejecting. Pure presentation: the decision itself is the workflow's (applications.actions)."""

import datetime
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest, Flag
from madoguchi.core.dates import to_wareki
from madoguchi.core.forms import Form

SEX = {"1": gettext_lazy("男"), "2": gettext_lazy("女")}

# What to check for each flag before approving (the legal basis of the rule the flag comes from).
FLAG_GUIDANCE = {
    Flag.UNDER_15: gettext_lazy(
        "15歳未満の方の申請です。署名用電子証明書は原則として15歳未満には発行されないため、カードと証明書の"
        "発行状況を確認してください。疑わしいときは却下し、窓口での申請を案内してください。"),
    Flag.SUPPORT_MEASURE: gettext_lazy(
        "支援措置(DV・ストーカー等)の対象者です。申請者が本人であり、送付先が住民記録の住所であることを確認"
        "してください。本人以外への交付や、加害者とされる方からの請求には応じません(住民基本台帳法第12条第6項、"
        "住民基本台帳事務処理要領 第5-10)。迷うときは係長に相談してから判断してください。"),
    Flag.NAME_MISMATCH: gettext_lazy(
        "カードと副本の氏名が一部異なります(色のついた字)。外字・異体字の違いだけで同じ人と判断できる場合は承認"
        "してください。証明書は副本の字形で作成します。別人の可能性があるときは却下してください。"),
    Flag.ADDRESS_MISMATCH: gettext_lazy(
        "カードと副本の住所が一部異なります(色のついた部分)。表記の違い(丁目・番地の書き方など)だけなら承認して"
        "ください。転居の届出直後などで住所が違う場合は、証明書は住民登録の住所へ送られるため、住民に確認してください。"),
    Flag.SUBSTITUTE_CHARACTERS: gettext_lazy(
        "署名用電子証明書の氏名または住所に代替文字が使われています。カードの表記は参考とし、副本の表記で確認して"
        "ください。"),
}


@dataclass(frozen=True)
class Row:
    label: str
    card: list  # [[text, differs], ...]
    replica: list
    differs: bool


def _plain(text: str, other: str) -> list:
    return [[text, bool(text) and bool(other) and text != other]]


def comparison(request: CertificateRequest, evidence) -> list[Row]:
    """Rows of (item, card, replica), each with the parts that differ marked."""
    if evidence is None or request.resident is None:
        return []
    card = (evidence.result or {}).get("basic_four") or {}
    resident = request.resident
    detail = request.match_detail or {}
    name = detail.get("name") or {}
    address = detail.get("address") or {}
    card_born = _wareki(card.get("date_of_birth", ""))
    replica_born = to_wareki(resident.date_of_birth)
    card_sex, replica_sex = str(SEX.get(card.get("sex", ""), "")), str(SEX.get(resident.sex, ""))
    return [
        Row(_("氏名"), name.get("card") or [[card.get("name", ""), False]],
            name.get("replica") or [[resident.name, False]], bool(name)),
        Row(_("生年月日"), _plain(card_born, replica_born), _plain(replica_born, card_born), card_born != replica_born),
        Row(_("性別"), _plain(card_sex, replica_sex), _plain(replica_sex, card_sex), card_sex != replica_sex),
        Row(_("住所"), address.get("card") or [[card.get("address", ""), False]],
            address.get("replica") or [[resident.household.address, False]], bool(address)),
    ]


def _wareki(iso: str) -> str:
    try:
        return to_wareki(datetime.date.fromisoformat(iso))
    except (TypeError, ValueError):
        return iso or ""


def flag_guidance(request: CertificateRequest) -> list[tuple[str, str]]:
    return [(str(Flag(f).label), str(FLAG_GUIDANCE.get(f, ""))) for f in request.flags if f in Flag.values]


# 定型文: what the resident reads (the notice and the status page), with the law where one applies.
REJECT_REASONS = [
    ("not_entitled", gettext_lazy("ご請求の証明書は、請求できる方の範囲に当たらないため交付できません"
                                  "(住民基本台帳法第12条、戸籍法第10条)。")),
    ("no_record", gettext_lazy("ご請求の内容に当てはまる記録が見つかりませんでした。")),
    ("koseki_not_found", gettext_lazy("入力された本籍・筆頭者の戸籍が見つかりませんでした。本籍地の記載された"
                                      "住民票の写しで本籍と筆頭者を確かめて、もう一度申請してください。")),
    ("identity", gettext_lazy("マイナンバーカードの情報と住民記録が一致せず、ご本人であることを確認できませんでした。"
                              "窓口でご相談ください。")),
    ("counter_only", gettext_lazy("この証明書は、オンラインでは交付できません。窓口でご相談ください。")),
    ("duplicate", gettext_lazy("同じ内容の申請が重なっていたため、こちらの申請は交付しません。")),
    ("other", gettext_lazy("その他(下の欄に入力)")),
]


class RejectForm(Form):
    template = forms.ChoiceField(label=gettext_lazy("却下の理由(定型文)"), choices=REJECT_REASONS,
                                 widget=forms.RadioSelect, required=False)
    detail = forms.CharField(label=gettext_lazy("補足(住民に通知されます)"), required=False, max_length=300,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        template, detail = data.get("template", ""), (data.get("detail") or "").strip()
        if "\x00" in detail:
            raise forms.ValidationError(_("使えない文字が含まれています。"))
        if template == "other" or not template:
            if not detail:
                raise forms.ValidationError(
                    _("却下の理由を入力してください(定型文から選ぶか、補足の欄に書いてください)。"))
            data["reason"] = detail
        else:
            data["reason"] = " ".join(filter(None, [str(dict(REJECT_REASONS)[template]), detail]))
        return data

"""Resident forms. Every label and error is plain Japanese; choices keep typing to a minimum."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.catalog.models import CertificateType
from madoguchi.catalog.services import MAX_COPIES, PURPOSES
from madoguchi.core.forms import Form


class CertificateTypeForm(Form):
    certificate_type = forms.ChoiceField(label=_("必要な証明書"), choices=CertificateType.choices,
                                         widget=forms.RadioSelect)


class ResidenceOptionsForm(Form):
    scope = forms.ChoiceField(label=_("証明が必要な人"), widget=forms.RadioSelect, initial="self", choices=[
        ("self", _("本人のみ")), ("household", _("世帯全員")), ("partial", _("世帯の一部の人"))])
    members = forms.CharField(label=_("必要な人の氏名(世帯の一部の場合)"), required=False, max_length=200,
                              help_text=_("例: 山田 花子、山田 一郎"))
    show_relationship = forms.BooleanField(label=_("世帯主の氏名と続柄を記載する"), required=False)
    show_honseki = forms.BooleanField(label=_("本籍と筆頭者を記載する"), required=False,
                                      help_text=_("自動車の登録やパスポートの申請などで必要な場合のみ選んでください。"))

    def clean(self):
        data = super().clean()
        if data.get("scope") == "partial" and not data.get("members", "").strip():
            self.add_error("members", _("必要な人の氏名を入力してください。"))
        if data.get("scope") != "partial":
            data["members"] = ""
        return data


class KosekiOptionsForm(Form):
    honseki = forms.CharField(label=_("本籍"), max_length=200, help_text=_("例: 東京都窓口市本町一丁目2番地"))
    koseki_head = forms.CharField(label=_("筆頭者の氏名"), max_length=100)


class TaxOptionsForm(Form):
    fiscal_year = forms.ChoiceField(label=_("年度"), choices=[])

    def __init__(self, *args, current_fiscal_year: int, **kwargs):
        super().__init__(*args, **kwargs)
        # 令和: fiscal year N of Reiwa is Gregorian 2018 + N.
        self.fields["fiscal_year"].choices = [
            (str(y), _("令和{n}年度(令和{m}年中の所得)").format(n=y - 2018, m=y - 2019))
            for y in range(current_fiscal_year, current_fiscal_year - 5, -1)]


class NoOptionsForm(Form):
    pass


def options_form_class(certificate_type: str):
    return {
        CertificateType.RESIDENCE: ResidenceOptionsForm,
        CertificateType.RESIDENCE_ENTRY: ResidenceOptionsForm,
        CertificateType.KOSEKI_FULL: KosekiOptionsForm,
        CertificateType.KOSEKI_INDIVIDUAL: KosekiOptionsForm,
        CertificateType.KOSEKI_FUHYO: KosekiOptionsForm,
        CertificateType.TAX: TaxOptionsForm,
    }.get(certificate_type, NoOptionsForm)


def options_form(certificate_type: str, data=None, initial=None, today=None) -> forms.Form:
    """The options form for a certificate type, as the web wizard and the LINE conversation ask it."""
    form_class = options_form_class(certificate_type)
    kwargs = {}
    if form_class is TaxOptionsForm:
        today = today or timezone.localdate()
        # Tax certificates of a fiscal year become available in June.
        kwargs["current_fiscal_year"] = today.year if today.month >= 6 else today.year - 1
    return form_class(data, initial=initial, **kwargs)


class CopiesPurposeForm(Form):
    copies = forms.TypedChoiceField(label=_("通数"), coerce=int, initial=1,
                                    choices=[(n, _("{n}通").format(n=n)) for n in range(1, MAX_COPIES + 1)])
    purpose = forms.ChoiceField(label=_("使いみち"), choices=PURPOSES, widget=forms.RadioSelect)
    purpose_detail = forms.CharField(label=_("使いみち(その他の場合)"), required=False, max_length=100)

    def clean(self):
        data = super().clean()
        if data.get("purpose") == "other" and not data.get("purpose_detail", "").strip():
            self.add_error("purpose_detail", _("使いみちを入力してください。"))
        return data


class DeliveryForm(Form):
    postage_class = forms.ChoiceField(label=_("郵送方法"), widget=forms.RadioSelect)
    notice_email = forms.EmailField(label=_("お知らせを受け取るメールアドレス(任意)"), required=False)

    def __init__(self, *args, postage_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postage_class"].choices = postage_choices
        if len(postage_choices) == 1:
            self.fields["postage_class"].initial = postage_choices[0][0]


class StatusForm(Form):
    reception_number = forms.CharField(label=_("受付番号(16桁)"), max_length=40,
                                       help_text=_("例: 1234-5678-9012-3456"))
    date_of_birth = forms.DateField(label=_("生年月日"), widget=forms.DateInput(attrs={"type": "date"}),
                                    error_messages={"invalid": _("生年月日を正しく入力してください。")})

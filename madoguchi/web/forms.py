"""Resident pages' own forms (the request terms every channel asks are in applications.forms)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.core.birthdate import BirthDateField
from madoguchi.core.forms import Form


class StatusForm(Form):
    reception_number = forms.CharField(
        label=_("受付番号(16桁)"), max_length=40, help_text=_("例: 1234-5678-9012-3456"),
        # Digits only: a numeric keypad on phones; never autofilled from another site's data.
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    date_of_birth = BirthDateField(label=_("生年月日"))


class HelpRadioSelect(forms.RadioSelect):
    """Radio buttons each with its fee and a line of help under it (tied with aria-describedby), so
    that the cost and the difference between look-alike certificates are known when choosing."""

    option_template_name = "web/widgets/help_option.html"

    def __init__(self, *args, details: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.details = details

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option.update(self.details.get(value, {}))
        if option.get("help") and option["attrs"].get("id"):
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_help"
        return option


class SurveyForm(Form):
    score = forms.TypedChoiceField(
        label=_("今回のオンライン申請の満足度"), coerce=int, widget=forms.RadioSelect,
        choices=[(5, _("5 満足")), (4, _("4")), (3, _("3")), (2, _("2")), (1, _("1 不満"))],
        error_messages={"required": _("満足度を選んでください。"), "invalid_choice": _("満足度を選んでください。")})
    comment = forms.CharField(label=_("ご意見(任意)"), required=False, max_length=500,
                              widget=forms.Textarea(attrs={"rows": 3}))


class CancelCodeForm(Form):
    code = forms.CharField(label=_("確認コード(6桁)"), max_length=12,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
                           error_messages={"required": _("確認コードを入力してください。")})


class RequestsLinkForm(Form):
    email = forms.EmailField(
        label=_("お知らせを受け取るメールアドレス"), max_length=254,
        help_text=_("申請のときに入力したメールアドレスです。"),
        error_messages={"invalid": _("メールアドレスの形式が正しくありません。例: taro@example.jp")},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}))

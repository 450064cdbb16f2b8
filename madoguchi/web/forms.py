"""Resident pages' own forms (the request terms every channel asks are in applications.forms)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.core.forms import Form


class StatusForm(Form):
    reception_number = forms.CharField(label=_("受付番号(16桁)"), max_length=40,
                                       help_text=_("例: 1234-5678-9012-3456"))
    date_of_birth = forms.DateField(label=_("生年月日"), widget=forms.DateInput(attrs={"type": "date"}),
                                    error_messages={"invalid": _("生年月日を正しく入力してください。")})


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

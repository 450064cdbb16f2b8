"""Resident pages' own forms (the request terms every channel asks are in applications.forms)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.core.forms import Form


class StatusForm(Form):
    reception_number = forms.CharField(label=_("受付番号(16桁)"), max_length=40,
                                       help_text=_("例: 1234-5678-9012-3456"))
    date_of_birth = forms.DateField(label=_("生年月日"), widget=forms.DateInput(attrs={"type": "date"}),
                                    error_messages={"invalid": _("生年月日を正しく入力してください。")})

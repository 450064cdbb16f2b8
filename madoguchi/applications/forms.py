"""The terms of a request as every channel asks them (web pages, LINE conversation, later the kiosk).

Every label and error is plain Japanese; choices keep typing to a minimum. The options of each
certificate kind are the kind's own form (madoguchi.documents.kinds).
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.catalog.services import MAX_COPIES, PURPOSES, offered_purposes, offered_types
from madoguchi.core.forms import Form
from madoguchi.documents.kinds import all_kinds


def _certificate_type_choices() -> list[tuple[str, str]]:
    """The types a certificate kind renders, in the catalog's order."""
    return [(kind.code, kind.label) for kind in all_kinds()]


class CertificateTypeForm(Form):
    certificate_type = forms.ChoiceField(label=_("必要な証明書"), choices=_certificate_type_choices,
                                         widget=forms.RadioSelect)

    def __init__(self, *args, municipality=None, **kwargs):
        super().__init__(*args, **kwargs)
        if municipality is not None:  # only the kinds the municipality offers
            offered = set(offered_types(municipality))
            field = self.fields["certificate_type"]
            field.choices = [(code, label) for code, label in field.choices if code in offered]


class CopiesPurposeForm(Form):
    copies = forms.TypedChoiceField(label=_("通数"), coerce=int, initial=1,
                                    choices=[(n, _("{n}通").format(n=n)) for n in range(1, MAX_COPIES + 1)])
    purpose = forms.ChoiceField(label=_("使いみち"), choices=PURPOSES, widget=forms.RadioSelect)
    purpose_detail = forms.CharField(label=_("使いみち(その他の場合)"), required=False, max_length=100)

    def __init__(self, *args, municipality=None, **kwargs):
        super().__init__(*args, **kwargs)
        if municipality is not None:  # only the purposes the municipality offers
            self.fields["purpose"].choices = offered_purposes(municipality)

    def clean(self):
        data = super().clean()
        if data.get("purpose") == "other" and not data.get("purpose_detail", "").strip():
            self.add_error("purpose_detail", _("使いみちを入力してください。"))
        return data


class DeliveryForm(Form):
    postage_class = forms.ChoiceField(label=_("郵送方法"), widget=forms.RadioSelect)
    notice_email = forms.EmailField(
        label=_("お知らせを受け取るメールアドレス(任意)"), required=False,
        error_messages={"invalid": _("メールアドレスの形式が正しくありません。例: taro@example.jp")},
        # WCAG 2.2 1.3.5: the browser may offer the resident's own address.
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}))

    def __init__(self, *args, postage_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postage_class"].choices = postage_choices
        if len(postage_choices) == 1:
            self.fields["postage_class"].initial = postage_choices[0][0]

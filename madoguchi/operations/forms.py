"""Search forms of the operations pages. Every field is bounded; a bad value is a form error."""

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form
from madoguchi.core.text import digits_only
from madoguchi.tenancy.models import Staff

from .channels import CHANNELS
from .models import AuditAction, Log

# The access log's actions (as the back office writes them) with the labels an auditor reads.
ACCESS_ACTIONS = [
    ("view_queue", _("受付一覧の表示")),
    ("view_request", _("申請の表示")),
    ("view_document", _("証明書PDFの表示")),
    ("view_print_batch", _("印刷バッチの表示")),
    ("download_print_batch", _("印刷用PDFのダウンロード")),
    ("reprint_print_batch", _("再印刷")),
    ("download_mailing_list", _("発送リストのダウンロード")),
    ("view_disclosure", _("開示請求の交付履歴の表示")),
]
MAX_PERIOD = datetime.timedelta(days=366 * 10)


class PeriodForm(Form):
    date_from = forms.DateField(label=_("期間(開始日)"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("期間(終了日)"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("期間の開始日が終了日より後になっています。"))
            if end - start > MAX_PERIOD:
                raise forms.ValidationError(_("期間は10年以内で指定してください。"))
        return data


class LogSearchForm(PeriodForm):
    log = forms.ChoiceField(label=_("ログの種類"), choices=Log.choices, initial=Log.AUDIT, required=False)
    staff = forms.ModelChoiceField(label=_("職員"), queryset=Staff.objects.none(), required=False,
                                   empty_label=_("すべて"))
    person = forms.CharField(label=_("対象者(氏名・ふりがな・宛名番号)"), max_length=100, required=False)
    action = forms.ChoiceField(label=_("操作"), required=False,
                               choices=[("", _("すべて"))] + list(AuditAction.choices) + ACCESS_ACTIONS)

    field_order = ["log", "date_from", "date_to", "staff", "person", "action"]

    def __init__(self, *args, municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = Staff.objects.filter(municipality=municipality).order_by("username")
        self.fields["staff"].label_from_instance = lambda s: s.get_full_name() or s.username

    def clean_person(self):
        return " ".join(self.cleaned_data["person"].split())

    def clean_log(self):
        return self.cleaned_data["log"] or Log.AUDIT


class DisclosureSearchForm(PeriodForm):
    person_number = forms.CharField(label=_("開示請求者の宛名番号"), max_length=16)
    certificate_type = forms.ChoiceField(label=_("証明書の種類"), required=False,
                                         choices=[("", _("すべて"))] + list(CertificateType.choices))
    channel = forms.ChoiceField(label=_("申請の方法"), required=False)
    reference = forms.CharField(label=_("開示請求の受付番号"), max_length=40, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("すべて"))] + CHANNELS

    def clean_person_number(self):
        value = digits_only(self.cleaned_data["person_number"])
        if not value:
            raise forms.ValidationError(_("宛名番号を数字で入力してください。"))
        return value


class StatisticsForm(PeriodForm):
    certificate_type = forms.ChoiceField(label=_("証明書の種類"), required=False,
                                         choices=[("", _("すべて"))] + list(CertificateType.choices))
    channel = forms.ChoiceField(label=_("申請の方法"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("すべて"))] + CHANNELS


class CounterRecordForm(Form):
    """A 窓口 or 郵送 request, for the statistics only: no personal data is asked for."""

    at = forms.DateTimeField(label=_("受付日時"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                             input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    channel = forms.ChoiceField(label=_("申請の方法"), choices=[("counter", _("窓口")), ("mail", _("郵送"))])
    certificate_type = forms.ChoiceField(label=_("証明書の種類"), choices=CertificateType.choices)
    copies = forms.IntegerField(label=_("通数"), min_value=1, max_value=100, initial=1)
    fee = forms.IntegerField(label=_("手数料の合計(円)"), min_value=0, max_value=1_000_000)
    postage = forms.IntegerField(label=_("郵便料(円)"), min_value=0, max_value=100_000, initial=0)
    area = forms.CharField(label=_("地区(町丁目・任意)"), max_length=60, required=False)

    def clean_at(self):
        from django.utils import timezone

        at = self.cleaned_data["at"]
        now = timezone.now()
        if at > now + datetime.timedelta(minutes=5):
            raise forms.ValidationError(_("未来の日時は登録できません。"))
        if at < now - datetime.timedelta(days=366 * 2):
            raise forms.ValidationError(_("2年より前の受付は登録できません。"))
        return at


class KioskReportForm(Form):
    report = forms.FileField(label=_("証明書交付センターの交付実績ファイル(CSV)"))


class KpiTargetForm(Form):
    def __init__(self, *args, targets: dict, **kwargs):
        from .models import KpiTarget

        super().__init__(*args, **kwargs)
        for kpi, label in KpiTarget.Kpi.choices:
            current = targets.get(kpi)
            self.fields[f"{kpi}_baseline"] = forms.DecimalField(
                label=_("{kpi} 基準値").format(kpi=label), required=False, min_value=0, max_value=10**7,
                decimal_places=2, initial=current.baseline if current else None)
            self.fields[f"{kpi}_target"] = forms.DecimalField(
                label=_("{kpi} 目標値").format(kpi=label), required=False, min_value=0, max_value=10**7,
                decimal_places=2, initial=current.target if current else None)
            self.fields[f"{kpi}_date"] = forms.DateField(
                label=_("{kpi} 目標年月日").format(kpi=label), required=False,
                widget=forms.DateInput(attrs={"type": "date"}), initial=current.target_date if current else None)

    def clean(self):
        data = super().clean()
        if data.get("satisfaction_target") is not None and data["satisfaction_target"] > 5:
            self.add_error("satisfaction_target", _("満足度は1〜5の範囲で入力してください。"))
        if data.get("satisfaction_baseline") is not None and data["satisfaction_baseline"] > 5:
            self.add_error("satisfaction_baseline", _("満足度は1〜5の範囲で入力してください。"))
        return data

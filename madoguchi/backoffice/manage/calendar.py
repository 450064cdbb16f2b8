"""The business calendar: local closed days (national holidays and 12/29–1/3 always apply), office
hours and the number of business days promised until a certificate is mailed."""

import datetime

from django import forms
from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from madoguchi.tenancy.models import Municipality

from .common import ManageForm, VersionField, _audit, difference, manager_required

LABELS = {"closed_dates": gettext_lazy("臨時休業日"), "office_hours": gettext_lazy("開庁時間"),
          "processing_days": gettext_lazy("発送までの標準日数(開庁日)")}
MAX_CLOSED_DAYS = 200


class CalendarForm(ManageForm):
    closed_dates = forms.CharField(label=LABELS["closed_dates"], required=False,
                                   widget=forms.Textarea(attrs={"rows": 6}),
                                   max_length=MAX_CLOSED_DAYS * 11,
                                   help_text=gettext_lazy("1行に1日、2025-12-28 の形で入力します。"))
    office_hours = forms.CharField(label=LABELS["office_hours"], max_length=100)
    processing_days = forms.IntegerField(label=LABELS["processing_days"], min_value=1, max_value=30)
    version = VersionField()

    def clean_closed_dates(self):
        days = set()
        for line in self.cleaned_data["closed_dates"].split():
            try:
                days.add(datetime.date.fromisoformat(line.strip()))
            except ValueError:
                raise forms.ValidationError(_("「{line}」は日付として読めません(例: 2025-12-28)。").format(
                    line=line[:20])) from None
        if len(days) > MAX_CLOSED_DAYS:
            raise forms.ValidationError(_("臨時休業日は{n}日までです。").format(n=MAX_CLOSED_DAYS))
        return sorted(d.isoformat() for d in days)


def _values(m: Municipality) -> dict:
    return {"closed_dates": list(m.closed_dates), "office_hours": m.office_hours, "processing_days": m.processing_days}


@manager_required
@require_http_methods(["GET", "POST"])
def calendar_page(http_request):
    m = http_request.user.municipality
    if http_request.method != "POST":
        form = CalendarForm(initial={**_values(m), "closed_dates": "\n".join(m.closed_dates), "version": m.version})
        return render(http_request, "backoffice/manage/calendar.html", {"form": form})
    form = CalendarForm(http_request.POST)
    if not form.is_valid():
        return render(http_request, "backoffice/manage/calendar.html", {"form": form}, status=400)
    data = form.cleaned_data
    changes = {k: data[k] for k in LABELS}
    before = _values(m)
    if not Municipality.objects.filter(pk=m.pk, version=data["version"]).update(**changes, version=F("version") + 1):
        m.refresh_from_db()
        return render(http_request, "backoffice/manage/calendar.html", {
            "form": form, "stale": difference({k: str(v) for k, v in LABELS.items()}, _values(m), changes)},
            status=409)
    _audit(http_request.user, "setting_changed", ("tenancy.municipality", m.pk, "開庁日"),
           {k: v for k, v in before.items() if v != changes[k]}, {k: v for k, v in changes.items() if v != before[k]})
    messages.success(http_request, _("開庁日の設定を保存しました。"))
    return redirect("backoffice:manage_calendar")

"""発行停止 for managers: place a stop on a person with its ground, reason and period, see the stops,
lift one with a reason. Every channel reads the stops through `registry.protection`; the row keeps
who placed and who lifted it, when and why (the lifting log), and the back office records each page
served in the access log."""

import datetime

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.core.forms import Form

from .models import Resident
from .restrictions import IssuanceStopOrder, StopGround

PAGE = 200


class StopForm(Form):
    person_number = forms.CharField(label=gettext_lazy("宛名番号"), max_length=16)
    ground = forms.ChoiceField(label=gettext_lazy("理由の区分"), choices=StopGround.choices)
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    starts_on = forms.DateField(label=gettext_lazy("開始日"))
    ends_on = forms.DateField(label=gettext_lazy("終了日(空欄は解除まで)"), required=False)

    def __init__(self, *args, municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.municipality = municipality

    def clean_person_number(self) -> Resident:
        number = self.cleaned_data["person_number"].strip()
        resident = Resident.objects.for_municipality(self.municipality).filter(person_number=number).first()
        if resident is None:
            raise forms.ValidationError(_("その宛名番号の住民は副本にいません。"))
        return resident

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if "\x00" in reason:
            raise forms.ValidationError(_("使えない文字が含まれています。"))
        return reason

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("終了日は開始日より後にしてください。"))
        if starts and starts < timezone.localdate() - datetime.timedelta(days=1):
            self.add_error("starts_on", _("開始日に過去の日付は指定できません。"))
        return data


class LiftForm(Form):
    lift_reason = forms.CharField(label=gettext_lazy("解除の理由"), max_length=300)


def stops(http_request):
    municipality = http_request.user.municipality
    form = StopForm(http_request.POST or None, municipality=municipality)
    if http_request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        IssuanceStopOrder.objects.create(
            municipality=municipality, resident=data["person_number"], ground=data["ground"], reason=data["reason"],
            starts_on=data["starts_on"], ends_on=data["ends_on"], created_by=http_request.user)
        messages.success(http_request, _("発行停止を設定しました。すべての申請経路で発行されません。"))
        return redirect("registry_office:stops")
    rows = (IssuanceStopOrder.objects.for_municipality(municipality).select_related("resident", "created_by",
                                                                                     "lifted_by")
            .order_by("lifted_at", "-created_at")[:PAGE])
    return render(http_request, "registry/stops.html", {"form": form, "rows": rows, "lift_form": LiftForm(),
                                                        "today": timezone.localdate()})


def lift(http_request, stop_id):
    if http_request.method != "POST":
        return redirect("registry_office:stops")
    form = LiftForm(http_request.POST)
    if not form.is_valid():
        messages.error(http_request, _("解除の理由を入力してください。"))
        return redirect("registry_office:stops")
    with transaction.atomic():
        stop = get_object_or_404(IssuanceStopOrder.objects.for_municipality(http_request.user.municipality)
                                 .select_for_update(), pk=stop_id)
        if stop.lifted_at is not None:
            messages.error(http_request, _("この発行停止はすでに解除されています。"))
            return redirect("registry_office:stops")
        stop.lifted_at, stop.lifted_by = timezone.now(), http_request.user
        stop.lift_reason = form.cleaned_data["lift_reason"].strip()
        stop.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    messages.success(http_request, _("発行停止を解除しました。"))
    return redirect("registry_office:stops")


def register(pages) -> None:
    pages.add("stops/", stops, name="stops", permission="manage", menu_label=gettext_lazy("発行停止"),
              access_log="issuance_stops")
    pages.add("stops/<int:stop_id>/lift/", lift, name="lift_stop", permission="manage",
              access_log="issuance_stop_lifted")

"""The service operator's console: every municipality with its readiness, replica, alarms, and
suspend/resume. It shows counts and settings only, never a resident's data."""

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from madoguchi.operations.readiness import overview
from madoguchi.tenancy.models import Municipality

from .auth import OTP_SESSION_KEY
from .manage.common import ManageForm, _audit


def operator_required(view):
    @wraps(view)
    def wrapped(http_request, *args, **kwargs):
        user = http_request.user
        if not user.is_authenticated or not http_request.session.get(OTP_SESSION_KEY):
            return redirect("backoffice:login")
        if not user.is_operator:
            raise PermissionDenied
        return view(http_request, *args, **kwargs)

    return wrapped


class SuspendForm(ManageForm):
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=200)


@operator_required
@require_GET
def console(http_request):
    rows, service_alarms = overview()
    return render(http_request, "backoffice/operator.html", {"rows": rows, "service_alarms": service_alarms})


@operator_required
@require_POST
def suspend(http_request, code):
    municipality = get_object_or_404(Municipality, code=code)
    form = SuspendForm(http_request.POST)
    if not form.is_valid():
        messages.error(http_request, _("停止の理由を入力してください。"))
        return redirect("backoffice:operator")
    reason = form.cleaned_data["reason"]
    if Municipality.objects.filter(pk=municipality.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now(), suspension_reason=reason, version=F("version") + 1):
        _audit(http_request.user, "setting_changed", ("tenancy.municipality", municipality.pk, "利用停止"),
               {"suspended": False}, {"suspended": True, "reason": reason}, municipality=municipality)
        messages.success(http_request, _("{name}の利用を停止しました。").format(name=municipality.full_name))
    return redirect("backoffice:operator")


@operator_required
@require_POST
def resume(http_request, code):
    municipality = get_object_or_404(Municipality, code=code)
    if Municipality.objects.filter(pk=municipality.pk, suspended_at__isnull=False).update(
            suspended_at=None, suspension_reason="", version=F("version") + 1):
        _audit(http_request.user, "setting_changed", ("tenancy.municipality", municipality.pk, "利用停止"),
               {"suspended": True}, {"suspended": False}, municipality=municipality)
        messages.success(http_request, _("{name}の利用を再開しました。").format(name=municipality.full_name))
    return redirect("backoffice:operator")

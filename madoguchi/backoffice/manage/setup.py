"""The first-run checklist (what is still missing before residents may apply), opening the resident
pages, and the provider credentials as a manager sees them: set or not, and a harmless test call."""

from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from madoguchi.operations.readiness import checklist
from madoguchi.tenancy import credentials
from madoguchi.tenancy.models import Municipality

from .common import _audit, manager_required

LINKS = {"seal": "backoffice:manage_seal", "certifier": "backoffice:manage_seal", "fees": "backoffice:manage_fees",
         "providers": "backoffice:manage_providers", "replica": None}


@manager_required
@require_GET
def checklist_page(http_request):
    m = http_request.user.municipality
    items = checklist(m)
    return render(http_request, "backoffice/manage/checklist.html", {
        "items": [(item, LINKS.get(item.key)) for item in items], "ready": all(i.done for i in items), "m": m})


@manager_required
@require_POST
def launch(http_request):
    m = http_request.user.municipality
    missing = [item.label for item in checklist(m) if not item.done]
    if missing:
        messages.error(http_request, _("まだ準備が終わっていません: {items}").format(items="、".join(missing)))
        return redirect("backoffice:manage_checklist")
    if Municipality.objects.filter(pk=m.pk, launched=False).update(launched=True, version=F("version") + 1):
        _audit(http_request.user, "setting_changed", ("tenancy.municipality", m.pk, "受付開始"),
               {"launched": False}, {"launched": True})
        messages.success(http_request, _("住民向けのオンライン申請の受付を開始しました。"))
    return redirect("backoffice:manage_checklist")


@manager_required
@require_GET
def providers_page(http_request):
    return render(http_request, "backoffice/manage/providers.html",
                  {"statuses": credentials.status(http_request.user.municipality)})


@manager_required
@require_POST
def provider_test(http_request, key):
    requirement = credentials.requirement(key)
    if requirement is None or requirement.test is None:
        messages.error(http_request, _("このサービスには接続テストがありません。"))
        return redirect("backoffice:manage_providers")
    problem = requirement.test(http_request.user.municipality)
    if problem:
        messages.error(http_request, _("{label}: 接続できませんでした。{problem}").format(label=requirement.label,
                                                                                  problem=problem))
    else:
        messages.success(http_request, _("{label}: 接続できました。").format(label=requirement.label))
    return redirect("backoffice:manage_providers")

"""公印 and 認証者: the seal image with its physical size, its approval by a second person holding
the 公印管理者 permission (the municipality's 公印規則), the certifier and the layout, and previews
on a sample certificate."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from madoguchi.documents import seals
from madoguchi.documents.models import SealVersion
from madoguchi.documents.services import render_sample_certificate
from madoguchi.tenancy.models import Municipality

from .common import ManageForm, VersionField, _any_staff, _audit, difference, manager_required, seal_custodian_required


class SealUploadForm(ManageForm):
    png = forms.FileField(label=gettext_lazy("公印の画像(PNG、背景透明、2MBまで)"))
    width_mm = forms.DecimalField(label=gettext_lazy("印影の横幅(mm)"), max_digits=4, decimal_places=1,
                                  min_value=Decimal(10), max_value=Decimal(40))
    height_mm = forms.DecimalField(label=gettext_lazy("印影の縦幅(mm)"), max_digits=4, decimal_places=1,
                                   min_value=Decimal(10), max_value=Decimal(40))
    effective_from = forms.DateField(label=gettext_lazy("使用開始日"),
                                     widget=forms.DateInput(attrs={"type": "date"}))

    def clean_png(self):
        upload = self.cleaned_data["png"]
        if upload.size > seals.MAX_BYTES:  # refused before it is read into memory
            raise forms.ValidationError(_("画像が大きすぎます(2MBまで)。"))
        return upload

    def clean_effective_from(self):
        day = self.cleaned_data["effective_from"]
        if day < timezone.localdate():
            raise forms.ValidationError(_("使用開始日は今日以降にしてください。"))
        return day

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        png = data["png"].read()
        try:
            seals.check_seal_png(png, data["width_mm"], data["height_mm"])
        except seals.SealRejected as exc:
            self.add_error("png", str(exc))
        data["png_bytes"] = png
        return data


CERTIFIER_FIELDS = {"certifier_title": gettext_lazy("認証者の職名"), "certifier_name": gettext_lazy("認証者の氏名"),
                    "document_header": gettext_lazy("証明書の見出し"),
                    "seal_offset_x_mm": gettext_lazy("公印の位置(右へmm)"),
                    "seal_offset_y_mm": gettext_lazy("公印の位置(上へmm)")}


class CertifierForm(ManageForm):
    certifier_title = forms.CharField(label=CERTIFIER_FIELDS["certifier_title"], max_length=50)
    certifier_name = forms.CharField(label=CERTIFIER_FIELDS["certifier_name"], max_length=50)
    document_header = forms.CharField(label=CERTIFIER_FIELDS["document_header"], max_length=60, required=False)
    seal_offset_x_mm = forms.IntegerField(label=CERTIFIER_FIELDS["seal_offset_x_mm"], min_value=-20, max_value=20)
    seal_offset_y_mm = forms.IntegerField(label=CERTIFIER_FIELDS["seal_offset_y_mm"], min_value=-20, max_value=20)
    version = VersionField()


def _certifier_values(m: Municipality) -> dict:
    return {key: getattr(m, key) for key in CERTIFIER_FIELDS}


def _versions(m):
    return SealVersion.objects.for_municipality(m).select_related("uploaded_by", "approved_by")


def _page(http_request, *, upload=None, certifier=None, stale=None, status=200):
    m = http_request.user.municipality
    today = timezone.localdate()
    return render(http_request, "backoffice/manage/seal.html", {
        "upload": upload or SealUploadForm(initial={"effective_from": today}),
        "certifier": certifier or CertifierForm(initial={**_certifier_values(m), "version": m.version}),
        "pending": seals.pending_versions(m).select_related("uploaded_by"),
        "approved": seals.approved_versions(m).select_related("uploaded_by", "approved_by")[:10],
        "effective": seals.effective_seal(m, today), "stale": stale, "today": today,
    }, status=status)


@manager_required
@require_GET
def seal_page(http_request):
    return _page(http_request)


@_any_staff
@require_GET
def seal_review(http_request):
    """The 公印管理者's view: the pending seals (any role may hold the permission)."""
    return _page(http_request)


@manager_required
@require_POST
def seal_upload(http_request):
    form = SealUploadForm(http_request.POST, http_request.FILES)
    if not form.is_valid():
        return _page(http_request, upload=form, status=400)
    data = form.cleaned_data
    version = SealVersion.objects.create(
        municipality=http_request.user.municipality, png=data["png_bytes"], width_mm=data["width_mm"],
        height_mm=data["height_mm"], effective_from=data["effective_from"], uploaded_by=http_request.user)
    _audit(http_request.user, "setting_changed", ("documents.sealversion", version.pk, "公印"), None,
           {"width_mm": str(version.width_mm), "height_mm": str(version.height_mm),
            "effective_from": version.effective_from.isoformat(), "state": "pending"})
    messages.success(http_request, _("公印を登録しました。"
                                     "公印管理者(登録した人以外)の承認後、使用開始日から使われます。"))
    return redirect("backoffice:manage_seal")


def _version(http_request, pk) -> SealVersion:
    return get_object_or_404(_versions(http_request.user.municipality), pk=pk)


@seal_custodian_required
@require_POST
def seal_approve(http_request, pk):
    with transaction.atomic():
        version = get_object_or_404(_versions(http_request.user.municipality).select_for_update(of=("self",)), pk=pk)
        if version.approved_at or version.withdrawn_at:
            messages.error(http_request, _("この公印はすでに承認または取り下げられています。"))
            return redirect("backoffice:manage_seal_review")
        if version.uploaded_by_id == http_request.user.pk:
            messages.error(http_request, _("自分で登録した公印は承認できません"
                                         "(公印規則: 別の公印管理者の承認が必要です)。"))
            return redirect("backoffice:manage_seal_review")
        version.approved_by, version.approved_at = http_request.user, timezone.now()
        version.effective_from = max(version.effective_from, timezone.localdate())
        version.save(update_fields=["approved_by", "approved_at", "effective_from"])
    _audit(http_request.user, "setting_changed", ("documents.sealversion", version.pk, "公印"),
           {"state": "pending"}, {"state": "approved", "effective_from": version.effective_from.isoformat()})
    messages.success(http_request,
                     _("公印を承認しました。{day}から証明書に使われます。").format(day=version.effective_from))
    return redirect("backoffice:manage_seal_review")


@manager_required
@require_POST
def seal_withdraw(http_request, pk):
    version = _version(http_request, pk)
    updated = SealVersion.objects.filter(pk=version.pk, approved_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now())
    if updated:
        _audit(http_request.user, "setting_changed", ("documents.sealversion", version.pk, "公印"),
               {"state": "pending"}, {"state": "withdrawn"})
        messages.success(http_request, _("承認待ちの公印を取り下げました。"))
    else:
        messages.error(http_request, _("承認済みの公印は取り下げられません。新しい公印を登録してください。"))
    return redirect("backoffice:manage_seal")


@_any_staff
@require_GET
def seal_preview(http_request, pk, fmt):
    """A sample certificate with seal version `pk` (0: the seal in force today, as certificates
    print now), as PNG (shown on the page) or PDF (to print and measure)."""
    m = http_request.user.municipality
    if not (http_request.user.can_manage() or http_request.user.seal_custodian):
        return HttpResponse(status=403)
    today = timezone.localdate()
    if pk == 0:
        seal = seals.effective_seal(m, today)
    else:
        version = _version(http_request, pk)
        seal = seals.Seal(bytes(version.png), version.width_mm, version.height_mm)
    body = render_sample_certificate(m, seal, today, as_png=fmt == "png")
    response = HttpResponse(body, content_type="image/png" if fmt == "png" else "application/pdf")
    response["Cache-Control"] = "no-store"
    return response


@manager_required
@require_POST
def certifier(http_request):
    m = http_request.user.municipality
    form = CertifierForm(http_request.POST)
    if not form.is_valid():
        return _page(http_request, certifier=form, status=400)
    data = form.cleaned_data
    changes = {key: data[key] for key in CERTIFIER_FIELDS}
    before = _certifier_values(m)
    saved = Municipality.objects.filter(pk=m.pk, version=data["version"]).update(**changes, version=F("version") + 1)
    if not saved:
        m.refresh_from_db()
        return _page(http_request, certifier=form, status=409,
                     stale=difference({k: str(v) for k, v in CERTIFIER_FIELDS.items()}, _certifier_values(m), changes))
    _audit(http_request.user, "setting_changed", ("tenancy.municipality", m.pk, "認証者・レイアウト"),
           {k: v for k, v in before.items() if before[k] != changes[k]},
           {k: v for k, v in changes.items() if before[k] != changes[k]})
    messages.success(http_request, _("認証者とレイアウトを保存しました。"))
    return redirect("backoffice:manage_seal")

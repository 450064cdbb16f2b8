"""Fees, campaigns and 条例 exemptions, with the amounts residents will be shown (catalog.quote)."""

import datetime

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from madoguchi.catalog import changes
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType, Fee, FeeChannel, FeeExemption

from .common import ManageForm, VersionField, _audit, difference, manager_required

DATE = forms.DateInput(attrs={"type": "date"})


def _cell(certificate_type: str, channel: str) -> str:
    return f"fee_{certificate_type}__{channel}"


class FeeTableForm(ManageForm):
    effective_from = forms.DateField(label=gettext_lazy("適用日"), widget=DATE)
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for certificate_type in CertificateType.values:
            for channel in FeeChannel.values:
                self.fields[_cell(certificate_type, channel)] = forms.IntegerField(
                    label=f"{CertificateType(certificate_type).label} {FeeChannel(channel).label}", required=False,
                    min_value=0, max_value=changes.MAX_FEE, widget=forms.NumberInput(attrs={"class": "yen"}))

    def amounts(self) -> dict[tuple[str, str], int]:
        return {(t, c): self.cleaned_data[_cell(t, c)] for t in CertificateType.values for c in FeeChannel.values
                if self.cleaned_data.get(_cell(t, c)) is not None}


class CampaignForm(ManageForm):
    campaign_name = forms.CharField(label=gettext_lazy("キャンペーン名"), max_length=60)
    certificate_type = forms.ChoiceField(label=gettext_lazy("証明書"), choices=CertificateType.choices)
    channel = forms.ChoiceField(label=gettext_lazy("手数料区分"), choices=FeeChannel.choices, initial=FeeChannel.ONLINE)
    valid_from = forms.DateField(label=gettext_lazy("開始日"), widget=DATE)
    valid_until = forms.DateField(label=gettext_lazy("終了日"), widget=DATE)
    amount = forms.IntegerField(label=gettext_lazy("手数料(円)"), min_value=0, max_value=changes.MAX_FEE)
    version = VersionField()

    def clean(self):
        data = super().clean()
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] < data["valid_from"]:
            self.add_error("valid_until", _("終了日が開始日より前になっています。"))
        return data


CAMPAIGN_LABELS = {"campaign_name": gettext_lazy("キャンペーン名"), "certificate_type": gettext_lazy("証明書"),
                   "channel": gettext_lazy("手数料区分"), "valid_from": gettext_lazy("開始日"),
                   "valid_until": gettext_lazy("終了日"), "amount": gettext_lazy("手数料(円)")}


class ExemptionForm(ManageForm):
    purpose = forms.ChoiceField(label=gettext_lazy("使いみち"),
                                choices=[(c, label) for c, label in catalog.PURPOSES if c != "other"])
    certificate_type = forms.ChoiceField(label=gettext_lazy("証明書"), required=False,
                                         choices=[("", gettext_lazy("すべての証明書")), *CertificateType.choices])
    reason = forms.CharField(label=gettext_lazy("免除の根拠(条例の条項)"), max_length=200)
    valid_from = forms.DateField(label=gettext_lazy("開始日"), widget=DATE)
    valid_until = forms.DateField(label=gettext_lazy("終了日(任意)"), widget=DATE, required=False)
    version = VersionField()


def _fee_table(m, on: datetime.date) -> dict[str, int]:
    table = {}
    for certificate_type in CertificateType.values:
        for channel in FeeChannel.values:
            fee = changes.standing_fee(m, certificate_type, channel, on)
            if fee is not None:
                table[_cell(certificate_type, channel)] = fee.amount
    return table


def resident_preview(m, on: datetime.date) -> list[dict]:
    """What a resident applying online on `on` is shown per kind: one copy, the cheapest postage,
    and each exempt purpose; the text of an error when the kind cannot be requested."""
    postage = catalog.offered_postage(m).first()
    rows = []
    exempt = list(changes.exemptions(m))
    for certificate_type in catalog.offered_types(m):
        row = {"label": CertificateType(certificate_type).label, "exempt": []}
        try:
            q = catalog.quote(m, certificate_type, 1, postage.code if postage else "", on, purpose="")
            row.update(fee=q.fee_per_copy, postage=q.postage_amount, total=q.total, campaign=q.campaign_name)
            for e in exempt:
                if e.certificate_type in ("", certificate_type) and e.valid_from <= on and (
                        e.valid_until is None or e.valid_until >= on):
                    eq = catalog.quote(m, certificate_type, 1, postage.code, on, purpose=e.purpose)
                    row["exempt"].append((dict(catalog.PURPOSES)[e.purpose], eq.total, eq.exemption_reason))
        except catalog.CatalogError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def _preview_day(http_request) -> datetime.date:
    try:
        return datetime.date.fromisoformat(http_request.GET.get("on", ""))
    except ValueError:
        return timezone.localdate()


def _page(http_request, *, table=None, campaign=None, exemption=None, stale=None, status=200, editing=None):
    m = http_request.user.municipality
    today = timezone.localdate()
    settings = catalog.catalog_settings(m)
    version = settings.version
    on = _preview_day(http_request)
    return render(http_request, "backoffice/manage/fees.html", {
        "table": table or FeeTableForm(initial={**_fee_table(m, today), "effective_from": today, "version": version}),
        "rows": [(CertificateType(t).label, [(FeeChannel(c).label, _cell(t, c)) for c in FeeChannel.values])
                 for t in CertificateType.values],
        "campaign": campaign or CampaignForm(initial={"version": version, "valid_from": today}),
        "exemption": exemption or ExemptionForm(initial={"version": version, "valid_from": today}),
        "campaigns": changes.campaigns(m), "exemptions": changes.exemptions(m), "today": today,
        "preview": resident_preview(m, on), "preview_on": on, "stale": stale, "version": version, "editing": editing,
    }, status=status)


@manager_required
@require_GET
def fees_page(http_request):
    return _page(http_request)


@manager_required
@require_POST
def fee_table(http_request):
    m = http_request.user.municipality
    form = FeeTableForm(http_request.POST)
    if not form.is_valid():
        return _page(http_request, table=form, status=400)
    try:
        done = changes.set_standing_fees(m, form.amounts(), form.cleaned_data["effective_from"],
                                         timezone.localdate(), form.cleaned_data["version"])
    except changes.StaleVersion:
        labels = {name: str(field.label) for name, field in form.fields.items() if name.startswith("fee_")}
        current = _fee_table(m, form.cleaned_data["effective_from"])
        return _page(http_request, table=form, status=409,
                     stale=difference(labels, current, {k: form.cleaned_data.get(k) for k in labels}))
    except changes.CatalogChangeError as exc:
        form.add_error(None, str(exc))
        return _page(http_request, table=form, status=400)
    for change in done:
        _audit(http_request.user, "setting_changed",
               ("catalog.fee", f"{change['certificate_type']}/{change['channel']}", "手数料"),
               {"amount": change["before"]}, {"amount": change["after"], "from": change["from"]})
    messages.success(http_request, _("手数料を保存しました({n}件の変更)。").format(n=len(done)))
    return redirect("backoffice:manage_fees")


def _campaign(http_request, pk) -> Fee:
    return get_object_or_404(changes.campaigns(http_request.user.municipality), pk=pk)


@manager_required
def campaign_edit(http_request, pk=None):
    """New campaign (pk None) or a change of one; past periods are refused by catalog.changes."""
    m = http_request.user.municipality
    existing = _campaign(http_request, pk) if pk else None
    if http_request.method != "POST":
        if existing is None:
            return redirect("backoffice:manage_fees")
        initial = {**changes.campaign_fields(existing), "version": catalog.catalog_settings(m).version}
        return _page(http_request, campaign=CampaignForm(initial=initial), editing=existing)
    form = CampaignForm(http_request.POST)
    if not form.is_valid():
        return _page(http_request, campaign=form, status=400, editing=existing)
    data = form.cleaned_data
    try:
        fee, before, after = changes.save_campaign(
            m, existing, campaign_name=data["campaign_name"], certificate_type=data["certificate_type"],
            channel=data["channel"], valid_from=data["valid_from"], valid_until=data["valid_until"],
            amount=data["amount"], today=timezone.localdate(), expected_version=data["version"])
    except changes.StaleVersion:
        current = changes.campaign_fields(Fee.objects.get(pk=existing.pk)) if existing else {}
        submitted = {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in data.items()}
        return _page(http_request, campaign=form, status=409, editing=existing,
                     stale=difference({k: str(v) for k, v in CAMPAIGN_LABELS.items()}, current, submitted))
    except changes.CatalogChangeError as exc:
        form.add_error(None, str(exc))
        return _page(http_request, campaign=form, status=400, editing=existing)
    _audit(http_request.user, "setting_changed", ("catalog.fee", fee.pk, "キャンペーン"), before, after)
    messages.success(http_request, _("キャンペーン「{name}」を保存しました。").format(name=fee.campaign_name))
    return redirect("backoffice:manage_fees")


def _version(http_request) -> int | None:
    value = http_request.POST.get("version", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1


@manager_required
@require_POST
def campaign_delete(http_request, pk):
    fee = _campaign(http_request, pk)
    try:
        before = changes.delete_campaign(http_request.user.municipality, fee, timezone.localdate(),
                                         _version(http_request))
    except changes.CatalogChangeError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:manage_fees")
    _audit(http_request.user, "setting_changed", ("catalog.fee", pk, "キャンペーン"), before, None)
    messages.success(http_request, _("キャンペーンを削除しました。"))
    return redirect("backoffice:manage_fees")


@manager_required
@require_POST
def exemption_add(http_request):
    form = ExemptionForm(http_request.POST)
    if not form.is_valid():
        return _page(http_request, exemption=form, status=400)
    data = form.cleaned_data
    try:
        exemption = changes.add_exemption(
            http_request.user.municipality, purpose=data["purpose"], certificate_type=data["certificate_type"],
            reason=data["reason"], valid_from=data["valid_from"], valid_until=data["valid_until"],
            today=timezone.localdate(), expected_version=data["version"])
    except changes.CatalogChangeError as exc:
        form.add_error(None, str(exc))
        return _page(http_request, exemption=form, status=409 if isinstance(exc, changes.StaleVersion) else 400)
    _audit(http_request.user, "setting_changed", ("catalog.feeexemption", exemption.pk, "手数料の免除"), None,
           {"purpose": exemption.purpose, "certificate_type": exemption.certificate_type, "reason": exemption.reason,
            "valid_from": exemption.valid_from.isoformat()})
    messages.success(http_request, _("免除を登録しました。"))
    return redirect("backoffice:manage_fees")


@manager_required
@require_POST
def exemption_end(http_request, pk):
    m = http_request.user.municipality
    exemption = get_object_or_404(FeeExemption.objects.for_municipality(m), pk=pk)
    try:
        before = changes.end_exemption(m, exemption, timezone.localdate(), _version(http_request))
    except changes.CatalogChangeError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:manage_fees")
    _audit(http_request.user, "setting_changed", ("catalog.feeexemption", pk, "手数料の免除"), before,
           {"ended": timezone.localdate().isoformat()})
    messages.success(http_request, _("免除を終了しました。"))
    return redirect("backoffice:manage_fees")

"""What the municipality offers online: certificate kinds, purposes, postage classes and the
channels residents may use (web, LINE). The resident pages and the LINE conversation offer only
these, and `catalog.quote` refuses anything else."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from madoguchi.catalog import changes
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType, PostageClass, RequestChannelOffered

from .common import ManageForm, VersionField, _audit, difference, manager_required

LABELS = {"certificate_types": gettext_lazy("証明書"), "purposes": gettext_lazy("使いみち"),
          "request_channels": gettext_lazy("申請の方法"), "postage": gettext_lazy("郵送方法")}


class OfferingForm(ManageForm):
    certificate_types = forms.MultipleChoiceField(label=LABELS["certificate_types"], choices=CertificateType.choices,
                                                  widget=forms.CheckboxSelectMultiple)
    purposes = forms.MultipleChoiceField(label=LABELS["purposes"], choices=catalog.PURPOSES,
                                         widget=forms.CheckboxSelectMultiple)
    request_channels = forms.MultipleChoiceField(label=LABELS["request_channels"],
                                                 choices=RequestChannelOffered.choices,
                                                 widget=forms.CheckboxSelectMultiple)
    postage = forms.MultipleChoiceField(label=LABELS["postage"], widget=forms.CheckboxSelectMultiple)
    version = VersionField()

    def __init__(self, *args, municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postage"].choices = [(p.code, f"{p.name}({p.amount}円)") for p in
                                          PostageClass.objects.for_municipality(municipality).order_by("amount")]


def _current(m) -> dict:
    settings = catalog.catalog_settings(m)
    return {"certificate_types": catalog.offered_types(m, settings),
            "purposes": [code for code, _label in catalog.offered_purposes(m, settings)],
            "request_channels": settings.request_channels or list(RequestChannelOffered.values),
            "postage": [p.code for p in catalog.offered_postage(m)], "version": settings.version}


@manager_required
@require_http_methods(["GET", "POST"])
def offering_page(http_request):
    m = http_request.user.municipality
    if http_request.method != "POST":
        return render(http_request, "backoffice/manage/offering.html",
                      {"form": OfferingForm(initial=_current(m), municipality=m)})
    form = OfferingForm(http_request.POST, municipality=m)
    if not form.is_valid():
        return render(http_request, "backoffice/manage/offering.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        before, after = changes.set_offering(
            m, certificate_types=data["certificate_types"], purposes=data["purposes"],
            request_channels=data["request_channels"], postage_codes=data["postage"], expected_version=data["version"])
    except changes.StaleVersion:
        return render(http_request, "backoffice/manage/offering.html", {
            "form": form, "stale": difference({k: str(v) for k, v in LABELS.items()}, _current(m), data)}, status=409)
    except changes.CatalogChangeError as exc:
        form.add_error(None, str(exc))
        return render(http_request, "backoffice/manage/offering.html", {"form": form}, status=400)
    _audit(http_request.user, "setting_changed", ("catalog.catalogsettings", m.pk, "提供する証明書"), before, after)
    messages.success(http_request, _("提供する証明書などを保存しました。"))
    return redirect("backoffice:manage_catalog")

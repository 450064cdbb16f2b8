"""Resident pages: apply in small steps, sign with the My Number Card, pay, follow the status.

Wizard answers live in the session until the confirm step creates the draft request; from then on
the request's public id in the session is what lets this browser continue it.
"""

import datetime
import hashlib
import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from madoguchi.applications import actions, reception
from madoguchi.applications import forms as terms
from madoguchi.applications.models import CertificateRequest, State
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType, PostageClass
from madoguchi.core.http import client_ip, owns_request, remember_request
from madoguchi.core.throttle import hit
from madoguchi.documents.kinds import get_kind
from madoguchi.identity.providers import get_provider as get_identity_provider
from madoguchi.tenancy.models import Municipality

from . import forms, guide

STATUS_LIMIT = 10  # attempts per window per client and per reception number
STATUS_WINDOW = datetime.timedelta(minutes=15)
STEPS = ["type", "options", "copies", "delivery", "confirm"]
# Answers that do not depend on the certificate chosen: kept when the resident changes the certificate.
COMMON_ANSWERS = ("copies", "purpose", "purpose_detail", "postage_class", "notice_email")
# What each step stores in the session; a step is answered when its key is there.
ANSWERED_BY = {"type": "certificate_type", "options": "options", "copies": "copies", "delivery": "postage_class"}


def _municipality(code: str) -> Municipality:
    return get_object_or_404(Municipality, code=code)


def _wizard(http_request, municipality: Municipality) -> dict:
    return http_request.session.setdefault(f"apply:{municipality.code}", {})


def _save_wizard(http_request, municipality: Municipality, data: dict) -> None:
    http_request.session[f"apply:{municipality.code}"] = data


def _owned_request(http_request, code: str, public_id) -> CertificateRequest:
    if not owns_request(http_request, public_id):
        raise Http404
    return get_object_or_404(CertificateRequest.objects.select_related("municipality"),
                             municipality__code=code, public_id=public_id)


def index(http_request):
    return render(http_request, "web/index.html", {"municipalities": Municipality.objects.order_by("code")})


def home(http_request, code):
    """The start page: who can apply, what it costs, how long it takes, what is needed."""
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if data.get("draft") and not _open_draft(municipality, data["draft"]["id"]):
        _save_wizard(http_request, municipality, {})  # that request went on: the next one starts afresh
    today = timezone.localdate()
    return render(http_request, "web/home.html", {
        "m": municipality, "offers": [o for o in guide.offers(municipality, today) if o.fee is not None],
        "postage": guide.postage_range(municipality), "ship_by": guide.ship_by(municipality, today),
        "journey": guide.JOURNEY})


def _step(http_request, code, step, form, extra=None):
    municipality = _municipality(code)
    context = {"m": municipality, "form": form, "returning": _returning(http_request), **guide.progress(step)}
    context.update(extra or {})
    return render(http_request, f"web/apply_{step}.html", context)


def _returning(http_request) -> bool:
    """Came from the 変更 link of the confirmation page (the query string rides along with the form)."""
    return http_request.GET.get("return") == "confirm"


def _next(http_request, code, data, next_step):
    """After a step: back to the confirmation when changing one answer and the rest still stand."""
    if _returning(http_request):
        missing = [s for s in STEPS[:-1] if ANSWERED_BY[s] not in data]
        if not missing:
            return redirect("web:apply_confirm", code=code)
        return redirect(reverse(f"web:apply_{missing[0]}", args=[code]) + "?return=confirm")
    return redirect(f"web:apply_{next_step}", code=code)


@require_http_methods(["GET", "POST"])
def apply_type(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    form = terms.CertificateTypeForm(http_request.POST or None, initial=data)
    offers = {o.code: o for o in guide.offers(municipality, timezone.localdate())}
    form.fields["certificate_type"].choices = [(o.code, o.label) for o in offers.values() if o.fee is not None]
    form.fields["certificate_type"].widget = forms.HelpRadioSelect(
        choices=form.fields["certificate_type"].choices,
        details={code: {"fee": o.fee, "help": o.help} for code, o in offers.items()})
    if http_request.method == "POST" and form.is_valid():
        if form.cleaned_data["certificate_type"] != data.get("certificate_type"):
            # Another certificate asks other options; copies, purpose and delivery still stand.
            data = {key: data[key] for key in COMMON_ANSWERS if key in data}
        data["certificate_type"] = form.cleaned_data["certificate_type"]
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "options")
    return _step(http_request, code, "type", form)


def _options_form(data, post=None):
    return get_kind(data["certificate_type"]).options_form(post, initial=data.get("options"))


@require_http_methods(["GET", "POST"])
def apply_options(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "certificate_type" not in data:
        return redirect("web:apply_type", code=code)
    form = _options_form(data, http_request.POST or None)
    if http_request.method == "POST" and form.is_valid():
        data["options"] = form.cleaned_data
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "copies")
    return _step(http_request, code, "options", form,
                 {"certificate_label": CertificateType(data["certificate_type"]).label,
                  "help_template": _existing(f"web/help/options_{data['certificate_type']}.html")})


@require_http_methods(["GET", "POST"])
def apply_copies(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "options" not in data:
        return redirect("web:apply_options", code=code)
    form = terms.CopiesPurposeForm(http_request.POST or None, initial=data)
    if http_request.method == "POST" and form.is_valid():
        data.update(form.cleaned_data)
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "delivery")
    return _step(http_request, code, "copies", form)


def _postage_choices(municipality):
    return [(p.code, f"{p.name}({p.amount}円)")
            for p in PostageClass.objects.for_municipality(municipality).order_by("amount")]


@require_http_methods(["GET", "POST"])
def apply_delivery(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "copies" not in data:
        return redirect("web:apply_copies", code=code)
    form = terms.DeliveryForm(http_request.POST or None, initial=data,
                              postage_choices=_postage_choices(municipality))
    if http_request.method == "POST" and form.is_valid():
        data.update(form.cleaned_data)
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "confirm")
    return _step(http_request, code, "delivery", form)


def _shown_total(http_request) -> int | None:
    """The total the confirmation page showed (a hidden field); garbage never matches a real total.
    Without it (not our form) the payment page still shows the amount before anything is charged."""
    value = http_request.POST.get("shown_total")
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else -1


@require_http_methods(["GET", "POST"])
def apply_confirm(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "postage_class" not in data:
        return redirect("web:apply_delivery", code=code)
    try:
        quote = catalog.quote(municipality, data["certificate_type"], data["copies"], data["postage_class"],
                              timezone.localdate(), purpose=data["purpose"])
    except catalog.CatalogError as exc:
        messages.error(http_request, str(exc))
        return redirect("web:apply_type", code=code)
    if http_request.method == "POST":
        # Back from the card page and 申請する again with the same answers: the same draft, not a second.
        draft = data.get("draft")
        if draft and draft["answers"] == _fingerprint(data) and owns_request(http_request, draft["id"]) \
                and _open_draft(municipality, draft["id"]):
            return redirect("web:sign", code=code, public_id=draft["id"])
        try:
            request = actions.create_draft(
                municipality, certificate_type=data["certificate_type"], options=data["options"],
                copies=data["copies"], purpose=data["purpose"], purpose_detail=data.get("purpose_detail", ""),
                postage_class=data["postage_class"], notice_email=data.get("notice_email", ""),
                shown_total=_shown_total(http_request))
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("web:apply_confirm", code=code)
        remember_request(http_request, request.public_id)
        # The answers stay: Back from the card page finds every step filled in.
        data["draft"] = {"id": str(request.public_id), "answers": _fingerprint(data)}
        _save_wizard(http_request, municipality, data)
        return redirect("web:sign", code=code, public_id=request.public_id)
    purpose_label = dict(catalog.PURPOSES).get(data["purpose"], "")
    return _step(http_request, code, "confirm", None, {
        "data": data, "quote": quote, "purpose_label": purpose_label,
        "certificate_label": CertificateType(data["certificate_type"]).label,
        "postage_label": dict(_postage_choices(municipality)).get(data["postage_class"], ""),
    })


def _existing(template_name: str) -> str | None:
    try:
        get_template(template_name)
    except TemplateDoesNotExist:
        return None
    return template_name


def _fingerprint(data: dict) -> str:
    answers = {key: value for key, value in data.items() if key != "draft"}
    return hashlib.sha256(json.dumps(answers, sort_keys=True, default=str).encode()).hexdigest()


def _open_draft(municipality, public_id) -> bool:
    return CertificateRequest.objects.filter(municipality=municipality, public_id=public_id,
                                             state=State.DRAFT).exists()


@require_http_methods(["GET", "POST"])
def sign(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    if request.state != State.DRAFT:
        return redirect("web:pay", code=code, public_id=public_id)
    if http_request.method == "POST":
        # The provider records the signature through the workflow and comes back to these pages.
        challenge = actions.start_signing(request, return_url=reverse("web:pay", args=[code, public_id]),
                                          retry_url=reverse("web:sign", args=[code, public_id]))
        return redirect(get_identity_provider().signing_url(challenge.nonce))
    return render(http_request, "web/sign.html", {"m": request.municipality, "r": request, **guide.progress("sign")})


@require_http_methods(["GET", "POST"])
def pay(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    if request.state == State.DRAFT:
        return redirect("web:sign", code=code, public_id=public_id)
    if request.state not in {State.SIGNED, State.AWAITING_PAYMENT}:
        return redirect("web:done", code=code, public_id=public_id)
    if http_request.method == "POST":
        try:
            url = actions.start_payment(request, reverse("web:done", args=[code, public_id]))
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("web:pay", code=code, public_id=public_id)
        return redirect(url)
    return render(http_request, "web/pay.html", {"m": request.municipality, "r": request, **guide.progress("pay")})


def done(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    context = {"m": request.municipality, "r": request}
    if request.state in {State.SIGNED, State.AWAITING_PAYMENT}:
        context.update(guide.progress("pay"))
    elif request.reception_number:
        context.update(guide.progress("done"))
    return render(http_request, "web/done.html", context)


# Plain-Japanese answers for the public status page.
STATUS_TEXT = {
    State.RECEIVED: _("受付済みです。職員が内容を確認します。"),
    State.IN_REVIEW: _("審査中です。"),
    State.APPROVED: _("審査が終わり、発行の準備をしています。"),
    State.ISSUED: _("証明書を発行しました。まもなく発送します。"),
    State.MAILED: _("発送済みです。郵便でお届けします。"),
    State.COMPLETED: _("お届けが完了しました。"),
    State.REJECTED: _("申請は却下されました。返金の手続きをしています。"),
    State.REFUNDED: _("申請は却下され、返金しました。"),
    State.CANCELLED: _("申請は取り消されました。"),
}


@require_http_methods(["GET", "POST"])
def status(http_request, code):
    municipality = _municipality(code)
    form = forms.StatusForm(http_request.POST or None)
    context = {"m": municipality, "form": form}
    if http_request.method == "POST" and form.is_valid():
        number = reception.normalize(form.cleaned_data["reception_number"])
        allowed = hit(f"status:ip:{client_ip(http_request)}", STATUS_LIMIT, STATUS_WINDOW)
        allowed = hit(f"status:number:{number}", STATUS_LIMIT, STATUS_WINDOW) and allowed
        if not allowed:
            context["throttled"] = True
            return render(http_request, "web/status.html", context, status=429)
        request = None
        if reception.is_valid(number):
            request = CertificateRequest.objects.filter(
                municipality=municipality, reception_number=number,
                resident__date_of_birth=form.cleaned_data["date_of_birth"]).first()
        # Unknown number and wrong date of birth get the same answer.
        context["result"] = STATUS_TEXT.get(request.state) if request else None
        context["r"] = request
        context["looked_up"] = True
    return render(http_request, "web/status.html", context)



def legal(http_request, code, page):
    """The privacy notice, the terms of use and the accessibility statement of one municipality."""
    municipality = _municipality(code)
    return render(http_request, f"web/legal/{page}.html", {"m": municipality, "page": page})
